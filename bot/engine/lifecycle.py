"""Lifecycle: a session from start to report. Starting, asking the next question, grading a
stored answer and moving on, resuming after a crash, ending early, and the report.

State machine of a session (stored in ``interview_sessions.state``)::

    start ──> grading ──(question asked)──> awaiting_answer ──(answer/skip)──> grading ──> ...
                                                      │                             │
                                                  end │                  last turn  │
                                                      v                             v
                                                    ended                       completed

``grading`` means "the engine is working" (grading an answer or preparing the next
question). Every transition is a compare-and-set on ``version`` (``core.compare_and_set``), so
two answers racing on one session cannot both be accepted: the loser gets ``ConcurrentUpdate``
and nothing of it is stored. A process that dies in ``grading`` leaves the answer stored;
``resume`` finishes the work, and doing it twice is harmless (the next turn's index is unique).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from bot.engine import difficulty, tailoring
from bot.engine.actors import Actor
from bot.engine.core import EngineCore, compare_and_set
from bot.engine.errors import BadInput, ProviderUnavailable
from bot.engine.prefetch import CLEARED, Plan
from bot.engine.report import build_report
from bot.engine.views import FINISHED, Progress, SessionView, Started, TurnView
from bot.store.models import InterviewSession, SessionState, Turn, TurnState, utcnow
from chains.bank.loader import UnknownRole
from chains.providers import AllProvidersFailed, FollowUpRequest, GradeRequest, QuestionRequest
from chains.schemas import KINDS, LEVELS, Question, SessionReport

log = logging.getLogger(__name__)

# Called with the feedback as soon as it is stored, and the session it belongs to.
OnGraded = Callable[[TurnView, SessionView], None]


@dataclass(frozen=True)
class GradingWork:
    """What grading needs, captured in the transaction that claimed the answer (saves a reload)."""

    turn_id: int
    question: Question
    answer: str
    role: str
    kind: str
    model: str | None

    @classmethod
    def of(cls, record: InterviewSession, turn: Turn) -> GradingWork:
        question = TurnView.of(turn).as_question(record.role, record.kind, record.level)
        return cls(turn.id, question, turn.answer or "", record.role, record.kind, record.model_version)


class Lifecycle(EngineCore):
    def start(
        self,
        actor: Actor,
        *,
        role: str,
        kind: str = "behavioral",
        level: str = "mid",
        questions: int | None = None,
        channel_id: str | None = None,
        thread_id: str | None = None,
        adaptive: bool = True,
        job_ad: str | None = None,
    ) -> Started:
        """Create a session and ask its first question. Raises ``BadInput`` for a bad role, kind, level or count.

        ``adaptive`` lets the level follow the answers (``bot.engine.difficulty``); ``job_ad``
        tailors the questions to a pasted job description (``bot.engine.tailoring``).
        """
        try:
            canonical = self.bank.resolve_role(role)
        except UnknownRole as exc:
            raise BadInput(str(exc)) from exc
        if kind not in KINDS:
            raise BadInput(f"Kind must be one of: {', '.join(KINDS)} (got {kind!r}).")
        if level not in LEVELS:
            raise BadInput(f"Level must be one of: {', '.join(LEVELS)} (got {level!r}).")
        count = questions if questions is not None else self.settings.default_questions
        # The offline bank is the last fallback for every provider, so a session must fit in it:
        # one longer than its questions for this role and kind would stall at the last of them.
        available = len(self.bank.select(canonical, kind, level))
        limit = min(self.settings.max_questions, available)
        if not 1 <= count <= limit:
            why = f": the bank has {available} {kind} questions for {canonical}" if count > available else ""
            raise BadInput(f"Choose between 1 and {limit} questions (got {count}){why}.")
        tailored = tailoring.session_fields(job_ad, canonical, kind, self.bank)
        with self.db.session() as session:
            user = self._user(session, actor)
            record = InterviewSession(
                platform=actor.platform, channel_id=channel_id, thread_id=thread_id, candidate_id=user.id,
                role=canonical, kind=kind, level=level, planned_questions=count, state=SessionState.grading,
                provider=self.provider.name, model_version=self.variants() if self.variants else None,
                adaptive=adaptive, **tailored,
            )
            record.candidate, record.turns = user, []  # known: the view below needs no reads
            session.add(record)
            session.flush()
            session_id, created = record.id, SessionView.of(record)
        progress = self._advance(session_id, known=created)
        assert progress.next_question is not None
        return Started(session=progress.session, question=progress.next_question)

    def attach_thread(self, session_id: int, channel_id: str | None, thread_id: str) -> None:
        """Record where an adapter runs the interview (Slack thread ts, Discord thread id)."""
        with self.db.session() as session:
            record = self._load(session, session_id)
            record.channel_id, record.thread_id = channel_id or record.channel_id, thread_id

    def retry(self, session_id: int, actor: Actor) -> Progress:
        """Finish whatever an earlier failure or crash left undone, for the candidate."""
        with self.db.session() as session:
            self._check_candidate(self._load(session, session_id), actor)
        return self.resume(session_id)

    def resume(self, session_id: int) -> Progress:
        """Continue after a restart: regrade a stored ungraded answer, or ask the pending question."""
        view = self.get(session_id)
        if view.finished:
            return Progress(session=view, report=self.report(session_id))
        current = view.current
        if view.state == SessionState.grading:
            if current is not None and current.state == TurnState.answered:
                return self._grade_and_advance(session_id, current.id)
            return self._advance(session_id)
        return Progress(session=view, next_question=current)

    def end(self, session_id: int, actor: Actor) -> Progress:
        """End early; the unanswered question is marked skipped and the report is produced."""
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            if record.state not in FINISHED:
                for turn in record.turns:
                    if turn.state == TurnState.asked:
                        turn.state = TurnState.skipped
                self._cas(session, record, SessionState.ended)
        return Progress(session=self.get(session_id), report=self.report(session_id))

    def report(self, session_id: int) -> SessionReport:
        with self.db.session() as session:
            report = build_report(self._load(session, session_id))
        return self._enriched(report)

    def _enriched(self, report: SessionReport) -> SessionReport:
        """The report as the provider words it, or as built when it adds nothing."""
        enriched = self.provider.report(report)
        return enriched.value if enriched is not None else report

    def _grade_and_advance(self, session_id: int, turn_id: int, on_graded: OnGraded | None = None,
                           work: GradingWork | None = None, claimed: SessionView | None = None, *,
                           on_text: Callable[[str], None] | None = None) -> Progress:
        """Grade a stored answer, store the feedback, then ask the next question or finish.

        ``claimed`` is the session as the answer's transaction left it (``grading``, the turn
        answered): with it the feedback is stored by one UPDATE and the next step needs no
        reload. Without it (resuming after a crash) everything is read from the database.
        ``on_text`` is told the readable feedback so far while a streaming provider writes it.
        """
        if work is None:  # resuming: read what the answer transaction would have handed over
            with self.db.session() as session:
                record = self._load(session, session_id)
                work = GradingWork.of(record, next(t for t in record.turns if t.id == turn_id))
        question, answer, model = work.question, work.answer, work.model
        exemplars = (self.exemplars(work.role, work.kind)
                     if self.exemplars and self.provider.uses_exemplars else ())
        try:
            result = self.provider.grade(GradeRequest(question=question, answer=answer, exemplars=exemplars,
                                                      model=model, on_text=on_text))
        except AllProvidersFailed as exc:
            log.error("grading failed for session %s turn %s: %s", session_id, turn_id, exc)
            raise ProviderUnavailable("I couldn't get feedback from the model right now. Your answer is saved; "
                                      "try again in a minute ('retry').") from exc
        call = result.call
        self.observer.llm_call(call, "grade")
        feedback = result.value.model_dump()
        values: dict[str, Any] = {
            "feedback": feedback, "provider": call.provider, "model": call.model,
            "prompt_version": call.prompt_version, "prompt": call.prompt, "raw_output": call.raw_output,
            "latency_ms": call.latency_ms, "valid_first_try": call.valid_first_try, "repaired": call.repaired,
            "fell_back": call.fell_back, "guardrail": call.guardrail,
            # The model that wrote this feedback: a fallback is never credited to the session's variant.
            "model_version": call.model if call.fell_back else (model or call.model),
            "state": TurnState.graded,
            "graded_at": utcnow(),
        }
        with self.db.autocommit() as connection:  # one atomic UPDATE
            stored = connection.execute(
                update(Turn).where(Turn.id == turn_id, Turn.state == TurnState.answered).values(**values)
            ).rowcount == 1
        if not stored or claimed is None:  # graded elsewhere meanwhile, or nothing known: read it
            with self.db.session() as session:
                turn = session.get(Turn, turn_id)
                graded = TurnView.of(turn) if turn is not None else None
            claimed = None
        if claimed is not None:
            graded = next(replace(t, state=TurnState.graded, feedback=result.value, provider=call.provider,
                                  model_version=values["model_version"])
                          for t in claimed.turns if t.id == turn_id)
            claimed = replace(claimed, turns=[graded if t.id == turn_id else t for t in claimed.turns])
        if on_graded is not None and graded is not None and graded.feedback is not None:
            try:
                on_graded(graded, claimed or self.get(session_id))
            except Exception:  # showing the feedback early is a courtesy; the result still carries it
                log.exception("on_graded callback failed for turn %s", turn_id)
        follow_up = None
        if (self.settings.follow_ups and graded is not None and graded.follow_up_of is None
                and graded.attempt_of is None and graded.feedback is not None):
            try:
                follow_up = self.provider.follow_up(FollowUpRequest(question, answer, graded.feedback))
            except Exception as exc:  # a follow-up is optional; never fail the answer for it
                log.warning("follow-up failed: %s", exc)
        progress = self._advance(session_id, follow_up=follow_up.value if follow_up else None,
                                 follow_up_of=turn_id, known=claimed)
        return Progress(session=progress.session, graded=graded, next_question=progress.next_question,
                        report=progress.report)

    def _advance(self, session_id: int, *, follow_up: Question | None = None,
                 follow_up_of: int | None = None, known: SessionView | None = None) -> Progress:
        """From ``grading``: ask the next question, or complete the session after the last one.

        ``known`` is the session as this process left it; if anyone changed it since, the
        compare-and-set on its version fails and the session is read again.
        """
        view = known or self.get(session_id)
        if view.finished:
            return Progress(session=view, report=self.report(session_id))
        if view.state == SessionState.awaiting_answer:  # someone else already advanced
            return Progress(session=view, next_question=view.current)
        if follow_up is None and view.main_questions_done >= view.planned_questions:
            with self.db.session() as session:
                self._move(session, view, SessionState.completed)
            return self._settled(session_id)
        requirement = None if follow_up else tailoring.next_requirement(view)
        question = follow_up or self._next_question(view, requirement)
        asked: TurnView | None = None
        with self.db.session() as session:
            if self._move(session, view, SessionState.awaiting_answer, also=None if follow_up else CLEARED):
                asked = TurnView(
                    id=0, session_id=session_id, index=len(view.turns), state=TurnState.asked,
                    question=question.text, question_id=question.id, domain=question.domain,
                    key_points=list(question.key_points), answer=None, answer_truncated=False, feedback=None,
                    provider=None, model_version=None, follow_up_of=follow_up_of if follow_up is not None else None,
                    level=question.level, requirement=requirement,
                )
                row = {name: getattr(asked, name) for name in (
                    "session_id", "index", "state", "question", "question_id", "domain", "key_points", "follow_up_of",
                    "level", "requirement")}
                asked = replace(asked, id=session.scalar(insert(Turn).values(**row).returning(Turn.id)))
        if asked is None:  # another process advanced or ended the session first
            return self._settled(session_id)
        view = replace(view, state=SessionState.awaiting_answer, version=view.version + 1,
                       turns=[*view.turns, asked])
        if self.next_questions is not None:
            self.next_questions.prepare_after(view, difficulty.possible_next_levels(view), self._prepare_question)
        return Progress(session=view, next_question=asked)

    @staticmethod
    def _move(session: Session, view: SessionView, new: SessionState, also: dict[str, Any] | None = None) -> bool:
        """Compare-and-set ``grading`` -> ``new`` on the version read in ``view`` (no reload)."""
        return compare_and_set(session, view.id, view.version, new, expect=SessionState.grading,
                               also=also) is not None

    def _settled(self, session_id: int) -> Progress:
        """The session as stored, with its report when finished: one read for both."""
        with self.db.session() as session:
            record = self._load(session, session_id)
            view = SessionView.of(record)
            report = build_report(record) if view.finished else None
        if report is None:
            return Progress(session=view, next_question=view.current)
        return Progress(session=view, report=self._enriched(report))

    def _next_question(self, view: SessionView, requirement: str | None = None) -> Question:
        """The question prepared while the last one was answered, if it was planned alike, else a new one."""
        if self.next_questions is not None:
            prepared = self.next_questions.take(view, self._plan(view, requirement))
            if prepared is not None:
                return prepared
        return self._write_question(view, requirement)

    @staticmethod
    def _plan(view: SessionView, requirement: str | None) -> Plan:
        """What the next question depends on: an adaptive level can change with the answer just graded."""
        return {"level": difficulty.next_level(view), "requirement": requirement}

    def _prepare_question(self, view: SessionView, level: str) -> tuple[Question, Plan]:
        """The next main question at ``level``, written before the current answer is in (``NextQuestions``)."""
        requirement = tailoring.next_requirement(view)
        return self._write_question(view, requirement, level), {"level": level, "requirement": requirement}

    def _write_question(self, view: SessionView, requirement: str | None = None, level: str | None = None) -> Question:
        request = QuestionRequest(
            role=view.role, kind=view.kind, level=level or difficulty.next_level(view),  # type: ignore[arg-type]
            focus=requirement,
            asked_ids=tuple(t.question_id for t in view.turns if t.question_id),
            asked_texts=tuple(t.question for t in view.turns),
            asked_domains=tuple(t.domain for t in view.turns if t.domain),
            seed=view.id * 1000 + len(view.turns), model=view.model_version,
        )
        try:
            result = self.provider.question(request)
        except AllProvidersFailed as exc:
            raise ProviderUnavailable("I couldn't prepare the next question right now. Nothing is lost; "
                                      "try again in a minute ('retry').") from exc
        self.observer.llm_call(result.call, "question")
        return result.value

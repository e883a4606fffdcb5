"""The interview engine: platform-free, stateless between calls, safe under concurrency.

State machine of a session (stored in ``interview_sessions.state``)::

    start ──> grading ──(question asked)──> awaiting_answer ──(answer/skip)──> grading ──> ...
                                                      │                             │
                                                  end │                  last turn  │
                                                      v                             v
                                                    ended                       completed

``grading`` means "the engine is working" (grading an answer or preparing the next
question). Every transition is a compare-and-set on ``version``, so two answers racing on
one session cannot both be accepted: the loser gets ``ConcurrentUpdate`` and nothing of it
is stored. A process that dies in ``grading`` leaves the answer stored; ``resume`` finishes
the work, and doing it twice is harmless (the next turn's index is unique).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.config import Settings
from bot.engine import attempts, difficulty, tailoring
from bot.engine.actors import Actor, Authorizer
from bot.engine.errors import (
    BadInput,
    ConcurrentUpdate,
    EngineError,
    Forbidden,
    InvalidTransition,
    NotYourSession,
    SessionNotFound,
    TurnNotFound,
)
from bot.engine.progress import CandidateProgress, TeamWeakness, candidate_progress, team_weaknesses
from bot.engine.report import build_report
from bot.engine.signals import RECORD_CORRECTION, RECORD_RATING, SignalSink, correction_key, rating_key
from bot.engine.text import CleanText, clean_answer
from bot.engine.views import FINISHED, Progress, SessionView, Started, ThreadInterview, TurnView
from bot.ops.metrics import count_rating, observe_llm_call
from bot.store.db import Database
from bot.store.models import (
    InterviewSession,
    ProcessedEvent,
    SessionState,
    SurveyResponse,
    Turn,
    TurnState,
    User,
    UserRole,
    utcnow,
)
from bot.store.privacy import forget_person
from bot.store.tally import tally
from chains.bank import Bank, load_bank
from chains.bank.loader import UnknownRole
from chains.providers import AllProvidersFailed, FollowUpRequest, GradeRequest, Provider, QuestionRequest
from chains.schemas import KINDS, LEVELS, Feedback, Question, SessionReport

log = logging.getLogger(__name__)

Exemplars = Callable[[str, str], tuple[tuple[str, str, Feedback], ...]]
# Called with the feedback as soon as it is stored, and the session it belongs to.
OnGraded = Callable[[TurnView, SessionView], None]
# Picks the model version a new session uses (registry traffic split); None means the configured default.
VariantChooser = Callable[[], str | None]


def _in_thread(query: Any, channel: bool) -> Any:
    """``query`` narrowed to the newest session of a thread (bound: platform, thread_id, channel_id)."""
    query = query.where(InterviewSession.platform == bindparam("platform"),
                        InterviewSession.thread_id == bindparam("thread_id"))
    if channel:
        query = query.where(InterviewSession.channel_id == bindparam("channel_id"))
    return query.order_by(InterviewSession.id.desc()).limit(1)


def _thread_params(platform: str, channel_id: str | None, thread_id: str) -> dict[str, Any]:
    return {"platform": platform, "thread_id": thread_id, "channel_id": channel_id}


# The statements every chat message runs, built once (building one costs more than running it).
_OWNER = (select(InterviewSession.id, User.platform_user_id, InterviewSession.state)
          .join(User, InterviewSession.candidate_id == User.id))
_OWNER_IN_THREAD, _OWNER_IN_CHANNEL_THREAD = _in_thread(_OWNER, False), _in_thread(_OWNER, True)
_SESSION = select(InterviewSession).options(selectinload(InterviewSession.turns),
                                            joinedload(InterviewSession.candidate))
_SESSION_IN_THREAD, _SESSION_IN_CHANNEL_THREAD = _in_thread(_SESSION, False), _in_thread(_SESSION, True)


class ProviderUnavailable(EngineError):
    """No provider could do the work; whatever the candidate sent is kept."""


@dataclass(frozen=True)
class _GradingWork:
    """What grading needs, captured in the transaction that claimed the answer (saves a reload)."""

    turn_id: int
    question: Question
    answer: str
    role: str
    kind: str
    model: str | None

    @classmethod
    def of(cls, record: InterviewSession, turn: Turn) -> _GradingWork:
        question = TurnView.of(turn).as_question(record.role, record.kind, record.level)
        return cls(turn.id, question, turn.answer or "", record.role, record.kind, record.model_version)


class InterviewEngine:
    def __init__(
        self,
        db: Database,
        provider: Provider,
        settings: Settings,
        *,
        signals: SignalSink | None = None,
        bank: Bank | None = None,
        exemplars: Exemplars | None = None,
        variants: VariantChooser | None = None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.settings = settings
        self.signals = signals
        self.bank = bank or load_bank()
        self.exemplars = exemplars
        self.variants = variants
        self.authz = Authorizer(settings.recruiters, settings.team_leads)

    # ── people and roles ────────────────────────────────────────────────────────────
    def _user(self, session: Session, actor: Actor) -> User:
        user = session.scalar(
            select(User).where(User.platform == actor.platform, User.platform_user_id == actor.user_id)
        )
        if user is None:
            user = User(platform=actor.platform, platform_user_id=actor.user_id, display_name=actor.display_name,
                        role=self.authz.primary(self.authz.roles(actor)))
            session.add(user)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:  # created concurrently by another request
                user = session.scalars(select(User).where(
                    User.platform == actor.platform, User.platform_user_id == actor.user_id)).one()
        else:
            role = self.authz.primary(self.authz.roles(actor))
            if user.role != role:
                user.role = role
            if actor.display_name and user.display_name != actor.display_name:
                user.display_name = actor.display_name
        return user

    def roles(self, actor: Actor) -> set[UserRole]:
        return self.authz.roles(actor)

    def require(self, actor: Actor, role: UserRole, action: str) -> None:
        if role not in self.roles(actor):
            label = {UserRole.recruiter: "recruiters", UserRole.team_lead: "team leads"}.get(role, role.value)
            raise Forbidden(f"Sorry, only {label} can {action}.")

    # ── sessions ────────────────────────────────────────────────────────────────────
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

    def get(self, session_id: int) -> SessionView:
        with self.db.session() as session:
            return SessionView.of(self._load(session, session_id))

    def in_thread(self, platform: str, channel_id: str | None, thread_id: str) -> ThreadInterview | None:
        """Which interview runs in a thread, and whose it is: one indexed query, for every chat message."""
        query = _OWNER_IN_CHANNEL_THREAD if channel_id is not None else _OWNER_IN_THREAD
        with self.db.autocommit() as connection:
            row = connection.execute(query, _thread_params(platform, channel_id, thread_id)).first()
        return ThreadInterview(row.id, row.platform_user_id, SessionState(row.state)) if row else None

    def open_session(self, actor: Actor) -> SessionView | None:
        """The actor's most recent unfinished session on this platform (for ``--resume``)."""
        with self.db.session() as session:
            record = session.scalars(
                select(InterviewSession).join(User, InterviewSession.candidate_id == User.id)
                .where(User.platform == actor.platform, User.platform_user_id == actor.user_id,
                       InterviewSession.state.not_in(FINISHED))
                .order_by(InterviewSession.id.desc()).limit(1)
            ).first()
            return SessionView.of(record) if record else None

    def history(self, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
        """The actor's recent sessions with average scores, newest first (for progress views)."""
        with self.db.session() as session:
            records = session.scalars(
                select(InterviewSession).join(User, InterviewSession.candidate_id == User.id)
                .where(User.platform == actor.platform, User.platform_user_id == actor.user_id)
                .options(selectinload(InterviewSession.turns))
                .order_by(InterviewSession.id.desc()).limit(limit)
            ).all()
            history = []
            for record in records:
                scores = [t.feedback["score"] for t in record.turns if t.feedback]
                history.append({
                    "session_id": record.id, "role": record.role, "kind": record.kind, "level": record.level,
                    "state": record.state.value, "created_at": record.created_at.isoformat(),
                    "average_score": round(sum(scores) / len(scores), 1) if scores else None,
                })
            return history

    def progress(self, actor: Actor, today: date | None = None) -> CandidateProgress:
        """The actor's own progress over time (``bot.engine.progress``)."""
        with self.db.session() as session:
            return candidate_progress(session, actor.platform, actor.user_id, today or utcnow().date())

    def team_progress(self, actor: Actor) -> list[TeamWeakness]:
        """The weakest criteria across the actor's team (their platform) by role: team leads only."""
        self.require(actor, UserRole.team_lead, "see the team's progress")
        with self.db.session() as session:
            return team_weaknesses(session, actor.platform)

    # ── answering ───────────────────────────────────────────────────────────────────
    def answer(self, session_id: int, actor: Actor, text: str | bytes, *, event_id: str | None = None,
               on_graded: OnGraded | None = None) -> Progress:
        """Store the candidate's answer to the current question, grade it, move on.

        ``on_graded`` is called with the feedback (and the session it belongs to) as soon as it
        is stored, before the next question is prepared, so an adapter can show it without
        waiting for that work.
        """
        cleaned = self._cleaned(text)
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            taken = self._take_answer(session, record, cleaned, event_id)
        if isinstance(taken, Progress):
            return taken
        return self._grade_and_advance(session_id, taken[0].turn_id, on_graded, *taken)

    def answer_in_thread(self, platform: str, channel_id: str | None, thread_id: str, actor: Actor,
                         text: str | bytes, *, event_id: str | None = None,
                         on_claimed: Callable[[], None] | None = None,
                         on_graded: OnGraded | None = None) -> Progress | None:
        """``answer`` for a chat reply in a thread, finding the thread's interview in the same transaction.

        None when the thread runs no interview or the author is not its candidate: then the
        message is no answer and nothing is stored. ``on_claimed`` runs once the answer is
        stored, before grading (an adapter shows its "thinking…" placeholder then).
        """
        with self.db.session() as session:
            record = self._load_thread(session, platform, channel_id, thread_id)
            if record is None or (record.candidate.platform_user_id != actor.user_id):
                return None
            taken = self._take_answer(session, record, self._cleaned(text), event_id)
        if isinstance(taken, Progress):
            return taken
        if on_claimed is not None:
            try:
                on_claimed()
            except Exception:  # a courtesy (a placeholder): the stored answer is graded regardless
                log.exception("on_claimed callback failed for session %s", record.id)
        return self._grade_and_advance(record.id, taken[0].turn_id, on_graded, *taken)

    def _cleaned(self, text: str | bytes) -> CleanText:
        cleaned = clean_answer(text, self.settings.max_answer_chars)
        if not cleaned.text:
            raise BadInput("Your answer is empty. Type your answer, or 'skip' to move to the next question.")
        return cleaned

    def _take_answer(self, session: Session, record: InterviewSession, cleaned: CleanText,
                     event_id: str | None) -> Progress | tuple[_GradingWork, SessionView]:
        """Claim the open question for an answer; a ``duplicate`` Progress for a redelivered event."""
        if event_id and any(t.answer_event_id == event_id for t in record.turns):
            return Progress(session=SessionView.of(record), duplicate=True)
        turn = self._claim_current(session, record, "answer")
        turn.answer, turn.answer_truncated, turn.answer_event_id = cleaned.text, cleaned.truncated, event_id
        turn.state, turn.answered_at = TurnState.answered, utcnow()
        return _GradingWork.of(record, turn), SessionView.of(record)

    def skip(self, session_id: int, actor: Actor) -> Progress:
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            turn = self._claim_current(session, record, "skip")
            turn.state = TurnState.skipped
        return self._advance(session_id)

    def again(self, session_id: int, actor: Actor, turn_id: int | None = None) -> Progress:
        """Try again: ask the question just graded (``turn_id``, when a button names it) once more."""
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            asked = attempts.reopen(session, record, turn_id)
        view = self.get(session_id)
        return Progress(session=view, next_question=next(t for t in view.turns if t.id == asked))

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
        enriched = self.provider.report(report)
        return enriched.value if enriched is not None else report

    # ── internals ───────────────────────────────────────────────────────────────────
    def _load(self, session: Session, session_id: int) -> InterviewSession:
        record = session.scalars(
            select(InterviewSession).where(InterviewSession.id == session_id)
            .options(selectinload(InterviewSession.turns), joinedload(InterviewSession.candidate))
        ).first()
        if record is None:
            raise SessionNotFound(f"Interview {session_id} does not exist (it may have been deleted).")
        return record

    @staticmethod
    def _load_thread(session: Session, platform: str, channel_id: str | None,
                     thread_id: str) -> InterviewSession | None:
        query = _SESSION_IN_CHANNEL_THREAD if channel_id is not None else _SESSION_IN_THREAD
        return session.scalars(query, _thread_params(platform, channel_id, thread_id)).first()

    @staticmethod
    def _check_candidate(record: InterviewSession, actor: Actor) -> None:
        candidate = record.candidate
        if (candidate.platform, candidate.platform_user_id) != (actor.platform, actor.user_id):
            raise NotYourSession("Only the candidate of this interview can answer, skip or end it.")

    def _claim_current(self, session: Session, record: InterviewSession, action: str) -> Turn:
        """Move ``awaiting_answer`` -> ``grading`` atomically and return the open turn."""
        if record.state in FINISHED:
            raise InvalidTransition(f"This interview has ended, so there is nothing to {action}. "
                                    "Start a new one whenever you like.")
        if record.state == SessionState.grading:
            raise ConcurrentUpdate("I'm still working on your previous answer; give me a moment.")
        turn = next((t for t in reversed(record.turns) if t.state == TurnState.asked), None)
        if turn is None:  # the session row was read just before another reply claimed the question
            raise ConcurrentUpdate("I'm still working on your previous answer; give me a moment.")
        self._cas(session, record, SessionState.grading, expect=SessionState.awaiting_answer)
        return turn

    @staticmethod
    def _cas(session: Session, record: InterviewSession, new: SessionState,
             expect: SessionState | None = None) -> None:
        """Compare-and-set the state on ``version``; losing the race raises ``ConcurrentUpdate``."""
        query = update(InterviewSession).where(InterviewSession.id == record.id,
                                               InterviewSession.version == record.version)
        if expect is not None:
            query = query.where(InterviewSession.state == expect)
        values: dict[str, Any] = {"state": new, "version": record.version + 1, "updated_at": utcnow()}
        if new in FINISHED:
            values["ended_at"] = utcnow()
        result = session.execute(query.values(**values).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise ConcurrentUpdate("Another reply to this question arrived at the same moment; "
                                   "only the first one counts.")
        for name, value in values.items():  # what the row now holds, without reading it back
            set_committed_value(record, name, value)

    def _grade_and_advance(self, session_id: int, turn_id: int, on_graded: OnGraded | None = None,
                           work: _GradingWork | None = None, claimed: SessionView | None = None) -> Progress:
        """Grade a stored answer, store the feedback, then ask the next question or finish.

        ``claimed`` is the session as the answer's transaction left it (``grading``, the turn
        answered): with it the feedback is stored by one UPDATE and the next step needs no
        reload. Without it (resuming after a crash) everything is read from the database.
        """
        if work is None:  # resuming: read what the answer transaction would have handed over
            with self.db.session() as session:
                record = self._load(session, session_id)
                work = _GradingWork.of(record, next(t for t in record.turns if t.id == turn_id))
        question, answer, model = work.question, work.answer, work.model
        exemplars = (self.exemplars(work.role, work.kind)
                     if self.exemplars and self.provider.uses_exemplars else ())
        try:
            result = self.provider.grade(GradeRequest(question=question, answer=answer, exemplars=exemplars,
                                                      model=model))
        except AllProvidersFailed as exc:
            log.error("grading failed for session %s turn %s: %s", session_id, turn_id, exc)
            raise ProviderUnavailable("I couldn't get feedback from the model right now. Your answer is saved; "
                                      "try again in a minute ('retry').") from exc
        call = result.call
        observe_llm_call(call, "grade")
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
            if self._move(session, view, SessionState.awaiting_answer):
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
        return Progress(session=view, next_question=asked)

    @staticmethod
    def _move(session: Session, view: SessionView, new: SessionState) -> bool:
        """Compare-and-set ``grading`` -> ``new`` on the version read in ``view`` (no reload)."""
        values: dict[str, Any] = {"state": new, "version": view.version + 1, "updated_at": utcnow()}
        if new in FINISHED:
            values["ended_at"] = utcnow()
        result = session.execute(
            update(InterviewSession)
            .where(InterviewSession.id == view.id, InterviewSession.version == view.version,
                   InterviewSession.state == SessionState.grading)
            .values(**values).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def _settled(self, session_id: int) -> Progress:
        view = self.get(session_id)
        if view.finished:
            return Progress(session=view, report=self.report(session_id))
        return Progress(session=view, next_question=view.current)

    def _next_question(self, view: SessionView, requirement: str | None = None) -> Question:
        request = QuestionRequest(
            role=view.role, kind=view.kind, level=difficulty.next_level(view),  # type: ignore[arg-type]
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
        observe_llm_call(result.call, "question")
        return result.value

    # ── platform deliveries ─────────────────────────────────────────────────────────
    def claim_event(self, key: str) -> bool:
        """True the first time a platform event key is seen, on any replica; False for a redelivery.

        The primary key of ``processed_events`` makes the claim atomic. Answers are deduplicated
        by their own event id (``answer(event_id=...)``); this covers skip, end, retry and help.
        """
        try:
            with self.db.session() as session:
                session.add(ProcessedEvent(key=key[:200]))
            return True
        except IntegrityError:
            return False

    def answer_stored(self, session_id: int, event_id: str) -> bool:
        """Whether the answer carried by ``event_id`` is stored (by this delivery or another)."""
        with self.db.autocommit() as connection:
            found = connection.scalar(
                select(Turn.id).where(Turn.session_id == session_id, Turn.answer_event_id == event_id))
            return found is not None

    # ── ratings, corrections, surveys ───────────────────────────────────────────────
    def _graded_turn(self, session: Session, turn_id: int) -> Turn:
        turn = session.get(Turn, turn_id)
        if turn is None or turn.feedback is None:
            raise TurnNotFound("That feedback no longer exists (it may have been deleted).")
        return turn

    @staticmethod
    def _require_feedback(session: Session, turn_id: int) -> None:
        """Like ``_graded_turn`` without loading the turn (its prompt and answer can be long)."""
        if session.scalar(select(Turn.id).where(Turn.id == turn_id, Turn.feedback.is_not(None))) is None:
            raise TurnNotFound("That feedback no longer exists (it may have been deleted).")

    def rate(self, turn_id: int, actor: Actor, value: int) -> dict[str, Any]:
        """👍 (+1) / 👎 (-1) / withdraw (0). Handed to the background side; returns the payload sent."""
        if value not in (-1, 0, 1):
            raise BadInput("A rating is +1 (helpful), -1 (not helpful) or 0 (withdraw).")
        with self.db.session() as session:
            self._require_feedback(session, turn_id)
            user = self._user(session, actor)
            person = {"platform": actor.platform, "user_id": actor.user_id,
                      "display_name": actor.display_name, "role": user.role.value}
        payload = {"turn_id": turn_id, "rater": person, "value": value,
                   "idempotency_key": rating_key(turn_id, actor.platform, actor.user_id, value)}
        self._submit(RECORD_RATING, payload)
        count_rating(actor.platform, value)
        return payload

    def correct(self, turn_id: int, actor: Actor, feedback: Feedback, note: str | None = None) -> dict[str, Any]:
        """A recruiter's corrected feedback. Non-recruiters get ``Forbidden`` and nothing is stored."""
        self.require(actor, UserRole.recruiter, "correct feedback")
        with self.db.session() as session:
            self._require_feedback(session, turn_id)
        digest = hashlib.sha256(feedback.model_dump_json().encode()).hexdigest()[:16]
        payload = {
            "turn_id": turn_id, "feedback": feedback.model_dump(), "note": note,
            "recruiter": {"platform": actor.platform, "user_id": actor.user_id,
                          "display_name": actor.display_name, "role": UserRole.recruiter.value},
            "idempotency_key": correction_key(turn_id, actor.platform, actor.user_id, digest),
        }
        self._submit(RECORD_CORRECTION, payload)
        return payload

    def tally(self, turn_id: int, rater: Actor | None = None) -> dict[str, Any]:
        """👍 / 👎 counts of a turn, as stored; with ``rater``, also their own rating as ``"mine"``."""
        with self.db.autocommit() as connection:
            return tally(connection, turn_id, (rater.platform, rater.user_id) if rater else None)

    def _submit(self, task: str, payload: dict[str, Any]) -> None:
        if self.signals is None:
            raise EngineError("Ratings are not configured in this process.")
        self.signals.submit(task, payload)

    def feedback_of(self, turn_id: int) -> tuple[TurnView, SessionView]:
        """The feedback currently shown for a turn (a recruiter form is prefilled with it)."""
        with self.db.session() as session:
            turn = self._graded_turn(session, turn_id)
            return TurnView.of(turn), SessionView.of(self._load(session, turn.session_id))

    def survey(self, session_id: int, actor: Actor, usefulness: int, comment: str | None = None) -> None:
        """"How useful was this practice? 1-5", once per session (a second answer replaces the first)."""
        if not 1 <= usefulness <= 5:
            raise BadInput("Please rate usefulness from 1 (not useful) to 5 (very useful).")
        cleaned = clean_answer(comment, 1000).text if comment else None
        with self.db.session() as session:
            record = self._load(session, session_id)
            self._check_candidate(record, actor)
            existing = session.scalar(select(SurveyResponse).where(SurveyResponse.session_id == session_id))
            if existing is None:
                session.add(SurveyResponse(session_id=session_id, usefulness=usefulness, comment=cleaned or None))
            else:
                existing.usefulness, existing.comment = usefulness, cleaned or None

    # ── privacy ─────────────────────────────────────────────────────────────────────
    def forget(self, platform: str, user_id: str) -> bool:
        """Delete a person and everything about them: sessions, answers, ratings, corrections, the
        preference data made from them, and copies waiting in the outbox or the dead letters."""
        with self.db.session() as session:
            return bool(forget_person(session, platform, user_id))

    def forget_me(self, actor: Actor) -> bool:
        """The chat command: a person deletes their own data. True when anything was stored."""
        return self.forget(actor.platform, actor.user_id)


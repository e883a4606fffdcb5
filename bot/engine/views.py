"""Read-only snapshots the engine returns to adapters (never live ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.store.models import FINISHED, InterviewSession, SessionState, Turn, TurnState
from chains.schemas import Feedback, Question, SessionReport

__all__ = ["FINISHED", "Progress", "SessionView", "Started", "ThreadInterview", "TurnView"]


@dataclass(frozen=True)
class TurnView:
    id: int
    session_id: int
    index: int
    state: TurnState
    question: str
    question_id: str | None
    domain: str | None
    key_points: list[str]
    answer: str | None
    answer_truncated: bool
    feedback: Feedback | None
    provider: str | None
    model_version: str | None
    follow_up_of: int | None
    level: str | None = None  # the level it was asked at (adaptive difficulty moves it)
    attempt_of: int | None = None  # try again: the first attempt's turn id
    requirement: str | None = None  # the job-ad requirement it practises

    @classmethod
    def of(cls, turn: Turn) -> TurnView:
        return cls(
            id=turn.id, session_id=turn.session_id, index=turn.index, state=turn.state, question=turn.question,
            question_id=turn.question_id, domain=turn.domain, key_points=list(turn.key_points or []),
            answer=turn.answer, answer_truncated=turn.answer_truncated,
            feedback=Feedback.model_validate(turn.feedback) if turn.feedback else None,
            provider=turn.provider, model_version=turn.model_version, follow_up_of=turn.follow_up_of,
            level=turn.level, attempt_of=turn.attempt_of, requirement=turn.requirement,
        )

    def as_question(self, role: str, kind: str, level: str) -> Question:
        return Question(id=self.question_id or f"turn-{self.id}", role=role, domain=self.domain or "general",
                        kind=kind, level=self.level or level, text=self.question,  # type: ignore[arg-type]
                        key_points=self.key_points if len(self.key_points) >= 2 else ["relevant", "specific"])


@dataclass(frozen=True)
class SessionView:
    id: int
    platform: str
    channel_id: str | None
    thread_id: str | None
    candidate_user_id: str
    role: str
    kind: str
    level: str
    planned_questions: int
    state: SessionState
    created_at: datetime
    model_version: str | None = None
    version: int = 0
    turns: list[TurnView] = field(default_factory=list)
    adaptive: bool = False
    requirements: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, session: InterviewSession) -> SessionView:
        return cls(
            id=session.id, platform=session.platform, channel_id=session.channel_id,
            thread_id=session.thread_id, candidate_user_id=session.candidate.platform_user_id,
            role=session.role, kind=session.kind, level=session.level,
            planned_questions=session.planned_questions, state=session.state, created_at=session.created_at,
            model_version=session.model_version, version=session.version,
            turns=[TurnView.of(t) for t in session.turns], adaptive=bool(session.adaptive),
            requirements=[str(r) for r in session.requirements or []],
        )

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def current(self) -> TurnView | None:
        """The last turn, if it still waits for (or is being graded on) an answer."""
        if self.turns and self.turns[-1].state in (TurnState.asked, TurnState.answered):
            return self.turns[-1]
        return None

    def question_label(self, turn: TurnView) -> str:
        """"Question 2 of 5", "Follow-up to question 2" or "Question 2, try again": follow-ups and
        second attempts share their question's number."""
        number = sum(1 for t in self.turns if t.follow_up_of is None and t.attempt_of is None
                     and t.index <= turn.index)
        if turn.attempt_of is not None:
            first = next((t for t in self.turns if t.id == turn.attempt_of), None)
            label = self.question_label(first) if first is not None else f"Question {number}"
            return f"{label.split(' of ')[0]}, try again"
        if turn.follow_up_of is not None:
            return f"Follow-up to question {number}"
        return f"Question {number} of {self.planned_questions}"

    @property
    def main_questions_done(self) -> int:
        return sum(1 for t in self.turns if t.follow_up_of is None and t.attempt_of is None
                   and t.state in (TurnState.graded, TurnState.skipped))


@dataclass(frozen=True)
class ThreadInterview:
    """The interview a chat thread belongs to: enough to decide whether a message is an answer."""

    id: int
    candidate_user_id: str
    state: SessionState

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


@dataclass(frozen=True)
class Started:
    session: SessionView
    question: TurnView


@dataclass(frozen=True)
class Progress:
    """What happened after an answer or a skip: feedback (if any), then a question or the report."""

    session: SessionView
    graded: TurnView | None = None
    next_question: TurnView | None = None
    report: SessionReport | None = None
    duplicate: bool = False  # the same platform event was already handled; nothing new happened

    @property
    def finished(self) -> bool:
        return self.report is not None

"""SQLAlchemy 2.0 models: the whole persistent state of Mockingbird.

Interview state lives here and nowhere else, so any process can serve any session.
Schema changes go through Alembic (``bot/store/migrations``); never ``create_all`` in production.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one (SQLite hands them back so) is taken to be UTC already."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class UserRole(enum.StrEnum):
    candidate = "candidate"
    recruiter = "recruiter"
    team_lead = "team_lead"


class SessionState(enum.StrEnum):
    """Session lifecycle. ``awaiting_answer`` -> ``grading`` -> ``awaiting_answer`` ... -> ``completed``."""

    awaiting_answer = "awaiting_answer"
    grading = "grading"
    completed = "completed"
    ended = "ended"  # ended early by the candidate


#: The states a session never leaves.
FINISHED = (SessionState.completed, SessionState.ended)


class TurnState(enum.StrEnum):
    asked = "asked"
    answered = "answered"
    graded = "graded"
    skipped = "skipped"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum) so adding a state is a code change only.
    return Enum(cls, name=name, native_enum=False, length=20, validate_strings=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"), default=UserRole.candidate)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterviewSession(Base):
    __tablename__ = "interview_sessions"
    __table_args__ = (
        Index("ix_sessions_thread", "platform", "channel_id", "thread_id"),
        Index("ix_sessions_candidate_state", "candidate_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    planned_questions: Mapped[int] = mapped_column(Integer)
    state: Mapped[SessionState] = mapped_column(_enum(SessionState, "session_state"))
    # Optimistic-concurrency counter: every state change is a compare-and-set on it.
    version: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(40))
    model_version: Mapped[str | None] = mapped_column(String(120))
    # Adaptive difficulty (bot.engine.difficulty): the level follows the answers. Sessions stored
    # before it existed were fixed-level, hence the column's server default.
    adaptive: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())
    # A pasted job ad (data, never instructions) and the requirements read from it (bot.engine.tailoring).
    job_ad: Mapped[str | None] = mapped_column(Text)
    requirements: Mapped[list[Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    # The next main question, written while the current one is answered (bot.engine.prefetch).
    next_question: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    candidate: Mapped[User] = relationship()
    turns: Mapped[list[Turn]] = relationship(
        back_populates="session", order_by="Turn.index", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(Base):
    """One question and, once given, its answer and feedback, with how the feedback was made."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("session_id", "index"),
        UniqueConstraint("session_id", "answer_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    state: Mapped[TurnState] = mapped_column(_enum(TurnState, "turn_state"), default=TurnState.asked)
    question_id: Mapped[str | None] = mapped_column(String(80))
    question: Mapped[str] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(String(60))
    key_points: Mapped[list[Any]] = mapped_column(default=list)
    follow_up_of: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(20))  # the level the question was asked at
    attempt_of: Mapped[int | None] = mapped_column(Integer)  # try again: the first attempt's turn id
    requirement: Mapped[str | None] = mapped_column(String(300))  # the job-ad requirement it practises
    answer: Mapped[str | None] = mapped_column(Text)
    answer_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    answer_event_id: Mapped[str | None] = mapped_column(String(128))
    feedback: Mapped[dict[str, Any] | None] = mapped_column()
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(120))
    model_version: Mapped[str | None] = mapped_column(String(120))
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    prompt: Mapped[str | None] = mapped_column(Text)
    raw_output: Mapped[str | None] = mapped_column(Text)
    valid_first_try: Mapped[bool | None] = mapped_column(Boolean)
    repaired: Mapped[bool | None] = mapped_column(Boolean)
    fell_back: Mapped[bool | None] = mapped_column(Boolean)
    guardrail: Mapped[str | None] = mapped_column(String(40))
    latency_ms: Mapped[float | None] = mapped_column()
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
    graded_at: Mapped[datetime | None] = mapped_column()

    session: Mapped[InterviewSession] = relationship(back_populates="turns")


class Rating(Base):
    """👍 (+1) or 👎 (-1) on one feedback; one per rater per turn, changed in place."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("turn_id", "rater_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Correction(Base):
    """A recruiter's version of a feedback; one per recruiter per turn, replaced on resubmit."""

    __tablename__ = "corrections"
    __table_args__ = (UniqueConstraint("turn_id", "recruiter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    recruiter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    feedback: Mapped[dict[str, Any]] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModelVersion(Base):
    """The model registry: every trained or configured model and its gate status."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    backend: Mapped[str] = mapped_column(String(20))
    base_model: Mapped[str | None] = mapped_column(String(200))
    artifact: Mapped[str | None] = mapped_column(String(500))  # adapter path or provider model name
    status: Mapped[str] = mapped_column(String(20), default="candidate")  # candidate / live / retired
    traffic_share: Mapped[float] = mapped_column(default=0.0)
    data_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()


class SurveyResponse(Base):
    """End-of-session "How useful was this practice? 1-5" answer."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("interview_sessions.id", ondelete="CASCADE"), unique=True
    )
    usefulness: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A signal (rating, correction) kept while the broker is down; a relay delivers it later."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)


class DeadLetter(Base):
    """A task payload that can never succeed, with the reason."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedEvent(Base):
    """Platform event ids already handled, so a redelivered event is a no-op."""

    __tablename__ = "processed_events"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PreferencePair(Base):
    """Training signal derived from ratings and corrections, deduplicated by ``dedup_key``."""

    __tablename__ = "preference_pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # pair / kto
    source: Mapped[str] = mapped_column(String(20))  # correction / ratings / rating
    dedup_key: Mapped[str] = mapped_column(String(128), unique=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("interview_sessions.id", ondelete="CASCADE"), index=True
    )
    turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    other_turn_id: Mapped[int | None] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"))
    prompt: Mapped[list[Any]] = mapped_column()
    chosen: Mapped[str | None] = mapped_column(Text)
    rejected: Mapped[str | None] = mapped_column(Text)
    completion: Mapped[str | None] = mapped_column(Text)
    label: Mapped[bool | None] = mapped_column(Boolean)
    model_version: Mapped[str | None] = mapped_column(String(120))
    rater_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Provenance for deletion: a pair made from a correction goes when the correction goes.
    correction_id: Mapped[int | None] = mapped_column(
        ForeignKey("corrections.id", ondelete="CASCADE"), index=True
    )
    # sha256 of the prompt messages: finds other outputs for the same prompt (rating pairs).
    prompt_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    __table_args__ = (Index("ix_preference_pairs_turn_id", "turn_id"),
                      Index("ix_preference_pairs_other_turn_id", "other_turn_id"))


class PipelineState(Base):
    """Small named records the background jobs keep between runs (watermarks, retraining due, tombstones)."""

    __tablename__ = "pipeline_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DailyRollup(Base):
    """Per-day aggregates by role, kind and model version, so long-range stats need no full scan."""

    __tablename__ = "daily_rollups"
    __table_args__ = (UniqueConstraint("day", "role", "kind", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    model_version: Mapped[str] = mapped_column(String(120), default="")  # "" when unknown
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    graded_turns: Mapped[int] = mapped_column(Integer, default=0)
    valid_first_try: Mapped[int] = mapped_column(Integer, default=0)
    ratings_up: Mapped[int] = mapped_column(Integer, default=0)
    ratings_down: Mapped[int] = mapped_column(Integer, default=0)
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    surveys: Mapped[int] = mapped_column(Integer, default=0)
    usefulness_sum: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Rows that tests and benchmarks write straight into the store, skipping the engine for speed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.store.models import InterviewSession, SessionState, User


def finished_session(session: Session, candidate: User, **columns: Any) -> InterviewSession:
    """A completed session of ``candidate`` (backend, technical, mid, one question), flushed so it
    and the candidate have ids; ``columns`` override any of its columns."""
    defaults: dict[str, Any] = {
        "platform": candidate.platform,
        "role": "backend",
        "kind": "technical",
        "level": "mid",
        "planned_questions": 1,
        "state": SessionState.completed,
    }
    record = InterviewSession(candidate=candidate, **(defaults | columns))
    session.add(record)
    session.flush()
    return record

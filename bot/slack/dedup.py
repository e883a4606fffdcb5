"""Redelivered Slack events are no-ops.

Slack retries an event (``X-Slack-Retry-Num``) with the same ``event_id`` when it did not
see our acknowledgement in time. Answers are deduplicated by the engine, which stores the
event id with the answer (``answer(event_id=...)``) in the same transaction. Thread commands
(``skip``, ``end``, ``retry``, ``help``) have no such record, so their first delivery claims
the event id in ``processed_events``, whose primary key makes the claim atomic across replicas.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database
from bot.store.models import ProcessedEvent, Turn


def claim(db: Database, key: str) -> bool:
    """True the first time ``key`` is seen, False for every later delivery."""
    try:
        with db.session() as session:
            session.add(ProcessedEvent(key=key[:200]))
        return True
    except IntegrityError:
        return False


def answered(db: Database, session_id: int, event_id: str) -> bool:
    """Whether the answer carried by ``event_id`` is stored (by this delivery or another)."""
    with db.session() as session:
        return (
            session.scalar(
                select(Turn.id).where(Turn.session_id == session_id, Turn.answer_event_id == event_id)
            )
            is not None
        )

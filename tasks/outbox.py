"""The outbox: signals kept in the database while the broker is unreachable, and their relay.

The sink writes a row when publishing fails; the relay (a beat job every 15 s, or
``mockingbird outbox relay``) publishes pending rows in order and marks them delivered. A row
published twice is harmless: the tasks store idempotently. Rows that keep failing for reasons
other than the broker (they cannot even be serialized) move to the dead letters.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database
from bot.store.models import OutboxMessage, utcnow
from tasks import deadletter

log = logging.getLogger(__name__)

Publish = Callable[[str, Any], None]
RATING_BATCH = 500  # ratings per message when the relay sends a backlog
MAX_ATTEMPTS = 5
KEEP_DELIVERED = timedelta(days=1)


def key_of(task: str, payload: dict[str, Any]) -> str:
    key = payload.get("idempotency_key")
    if isinstance(key, str) and key:
        return key[:128]
    digest = hashlib.sha256(json.dumps([task, payload], sort_keys=True, default=str).encode()).hexdigest()
    return f"{task}:{digest}"[:128]


def keep(db: Database, task: str, payload: dict[str, Any], error: str | None = None) -> int:
    """Store a signal for later delivery. The same key again replaces the old row and goes to the
    back of the line, so the relay delivers a person's latest choice last."""
    key = key_of(task, payload)
    for attempt in range(3):
        try:
            with db.session() as session:
                session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key == key))
                row = OutboxMessage(
                    task=task,
                    payload=payload,
                    idempotency_key=key,
                    last_error=error[:2000] if error else None,
                )
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:  # the same key written by another process at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class RelayResult:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    pending: int = 0
    broker_down: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def relay(
    db: Database,
    publish: Publish,
    *,
    batch: int = 500,
    is_broker_error: Callable[[Exception], bool] = lambda exc: True,
) -> RelayResult:
    """Deliver pending rows, oldest first, until none are left or the broker fails again.

    A broker error stops the run and keeps every row (an outage may last hours); any other
    error is retried on later runs and, after ``MAX_ATTEMPTS``, the row becomes a dead letter.
    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two relays running at
    once never send the same row.
    """
    result = RelayResult()
    while not result.broker_down:
        with db.session() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.delivered_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            for group in _groups(rows):
                for row in group:
                    row.attempts += 1
                try:
                    if len(group) > 1:  # a backlog of ratings: one message, one transaction
                        publish("record_ratings", [row.payload for row in group])
                    else:
                        publish(group[0].task, group[0].payload)
                except Exception as exc:  # broker down, or a message that cannot be sent at all
                    result.failed += len(group)
                    for row in group:
                        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    if is_broker_error(exc):
                        result.broker_down = True
                        break
                    for row in group:
                        if row.attempts >= MAX_ATTEMPTS:
                            deadletter.add(
                                session,
                                row.task,
                                row.payload,
                                f"outbox gave up after {row.attempts} attempts: {row.last_error}",
                            )
                            session.delete(row)
                            result.dead += 1
                    continue
                for row in group:
                    row.delivered_at = utcnow()
                result.delivered += len(group)
        if len(rows) < batch:
            break
    with db.session() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.delivered_at < utcnow() - KEEP_DELIVERED))
        result.pending = pending(session)
    if result.delivered or result.failed:
        log.info("outbox relay: %s", result.as_dict())
    return result


def _groups(rows: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Consecutive ratings travel together (up to ``RATING_BATCH``); anything else alone, in order."""
    groups: list[list[OutboxMessage]] = []
    for row in rows:
        last = groups[-1] if groups else None
        if (
            last
            and row.task == "record_rating"
            and last[0].task == "record_rating"
            and len(last) < RATING_BATCH
        ):
            last.append(row)
        else:
            groups.append([row])
    return groups


def pending(session: Any) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        )
        or 0
    )

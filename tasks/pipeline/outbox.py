"""The outbox: every signal is written here before it is published, until a worker confirms it.

Redis can lose a message after the sink has published it: kombu's Redis transport pops a
message (BRPOP) before it records it as unacknowledged, so a worker killed in between drops it
(celery/kombu#305). The outbox closes that gap end to end:

- the sink writes the row first (``published=True`` once Redis took the message, else pending);
- the worker deletes the row once the signal is stored (``confirm``), or dead-lettered;
- the relay (a beat job every 15 s, or ``mockingbird outbox relay``) publishes pending rows, and
  republishes rows published longer than ``grace`` ago that no worker confirmed.

Publishing twice is harmless: the tasks store idempotently, and an older click never
overwrites a newer rating. Each click has its own key (``per_click``). Rows that can never be
sent, or are never confirmed after ``MAX_ATTEMPTS`` publications, move to the dead letters with
the reason; a publish that failed because the broker was down is not an attempt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import OutboxMessage, utcnow
from tasks.pipeline import deadletter

log = logging.getLogger(__name__)

Publish = Callable[[str, Any], None]
RATING_BATCH = 500  # ratings per message when the relay sends a backlog
MAX_ATTEMPTS = 5
DEFAULT_GRACE = timedelta(hours=2)


def grace_for(visibility_timeout_s: int) -> timedelta:
    """Wait longer than the broker's own redelivery (the visibility timeout) before republishing."""
    return timedelta(seconds=max(10, 2 * visibility_timeout_s))


def key_of(task: str, payload: dict[str, Any]) -> str:
    key = payload.get("idempotency_key")
    if isinstance(key, str) and key:
        return key[:128]
    digest = hashlib.sha256(json.dumps([task, payload], sort_keys=True, default=str).encode()).hexdigest()
    return f"{task}:{digest}"[:128]


def per_click(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with an idempotency key of its own click: the engine's key (turn, person and
    value) plus the click time ``at``. 👍→👎→👍 are three keys, so settling the late first 👍
    never deletes the third click's write-ahead row, and a redelivered message keeps its key."""
    key, at = payload.get("idempotency_key"), payload.get("at")
    if not (isinstance(key, str) and key and isinstance(at, str) and at) or key.endswith(f"@{at}"):
        return payload
    click = f"{key}@{at}"
    if len(click) > 128:  # long ids: keep the click time, shorten the rest
        click = f"{key[:80]}#{hashlib.sha256(key.encode()).hexdigest()[:12]}@{at}"[-128:]
    return {**payload, "idempotency_key": click}


def keep(db: Database, task: str, payload: dict[str, Any], error: str | None = None, *,
         published: bool = False) -> int:
    """Write a signal ahead of (``published=True``: after) handing it to the broker. The same key
    again (the same click, see ``per_click``) replaces the old row and goes to the back of the
    line."""
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
                    delivered_at=utcnow() if published else None,
                )
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:  # the same key written by another process at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def settle(session: Session, keys: Iterable[str | None]) -> None:
    """These signals are stored or dead-lettered: drop their write-ahead rows, in the caller's
    transaction (so a signal and its outbox row are settled together)."""
    wanted = sorted({key[:128] for key in keys if key})
    if not wanted:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":  # one statement, however many keys
        connection.execute(text("DELETE FROM outbox WHERE idempotency_key = ANY(CAST(:keys AS varchar[]))"),
                           {"keys": wanted})
        return
    for i in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        connection.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key.in_(wanted[i : i + 500])))


def confirm(db: Database, keys: Iterable[str]) -> None:
    """A worker stored (or dead-lettered) these signals: nothing is left to deliver."""
    with db.session() as session:
        settle(session, keys)


class RelayResult(BaseModel):
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    pending: int = 0
    broker_down: bool = False


def relay(
    db: Database,
    publish: Publish,
    *,
    batch: int = 500,
    is_broker_error: Callable[[Exception], bool] = lambda exc: True,
    grace: timedelta = DEFAULT_GRACE,
) -> RelayResult:
    """Deliver pending rows and republish unconfirmed ones, oldest first, until none are left or
    the broker fails again.

    A broker error stops the run and keeps every row, and does not count as an attempt (an outage
    may last hours, with ``outbox relay --loop`` trying all along); any other error is retried on
    later runs and, after ``MAX_ATTEMPTS`` attempts (publications and such errors), the row
    becomes a dead letter.
    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two relays running at
    once never send the same row.
    """
    result = RelayResult()
    while not result.broker_down:
        with db.session() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(or_(OutboxMessage.delivered_at.is_(None), OutboxMessage.delivered_at < utcnow() - grace))
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            for group in _groups(_drop_unconfirmable(session, rows, result)):
                try:
                    if len(group) > 1:  # a backlog of ratings: one message, one transaction
                        publish("record_ratings", [row.payload for row in group])
                    else:
                        publish(group[0].task, group[0].payload)
                except Exception as exc:  # broker down, or a message that cannot be sent at all
                    result.failed += len(group)
                    for row in group:
                        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    if is_broker_error(exc):  # an outage is not a delivery attempt: the budget waits
                        result.broker_down = True
                        break
                    for row in group:
                        row.attempts += 1
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
                    row.attempts += 1
                    row.delivered_at = utcnow()
                result.delivered += len(group)
        if len(rows) < batch:
            break
    with db.session() as session:
        result.pending = pending(session)
    if result.delivered or result.failed:
        log.info("outbox relay: %s", result.model_dump())
    return result


def _drop_unconfirmable(session: Any, rows: list[OutboxMessage], result: RelayResult) -> list[OutboxMessage]:
    """Rows published ``MAX_ATTEMPTS`` times that no worker ever confirmed become dead letters."""
    keep_rows = []
    for row in rows:
        if row.delivered_at is not None and row.attempts >= MAX_ATTEMPTS:
            reason = f"published {row.attempts} times but never confirmed by a worker"
            deadletter.add(session, row.task, row.payload, reason)
            session.delete(row)
            result.dead += 1
        else:
            keep_rows.append(row)
    return keep_rows


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

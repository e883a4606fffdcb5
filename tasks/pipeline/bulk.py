"""Many ratings in one transaction: the outbox relay's backlog, imports, replays.

The very rule and statements of ``ingest.record_rating`` (a click is a batch of one): which
turns can be rated (``ingest.ratable``, ``ingest.unratable``), then ``ingest.store_ratings``
(forgotten people stay forgotten, who rates as whom, a person's latest click wins, also over a
repeated value or a withdraw). What is added here: poison payloads become dead letters in the
same transaction instead of failing the message, and the whole batch is one transaction.

The write-ahead outbox rows of the batch (``tasks.pipeline.outbox``) are deleted in the same transaction,
stored and dead-lettered signals alike (``outbox.settle``), as ``ingest`` does for one signal. Used by
``mockingbird.record_ratings`` (the relay's backlog); a click is one ``mockingbird.record_rating``.
"""

from __future__ import annotations

from typing import Any

from bot.store.db import Database
from tasks.pipeline import deadletter, outbox
from tasks.pipeline.ingest import (
    PoisonPayload,
    RatingPayload,
    Stored,
    _parse,
    ratable,
    retry_on_conflict,
    store_ratings,
    unratable,
)

TASK = "mockingbird.record_ratings"


class BulkResult(Stored):
    """What a batch changed, dead letters included; ``model_dump()`` is the task's result."""

    dead: int = 0


def record_ratings(
    db: Database,
    payloads: list[Any],
    *,
    task: str = TASK,
    rejected: list[tuple[Any, str]] | None = None,
    attempts: int = 3,
) -> BulkResult:
    """Store a batch of rating payloads; poison ones become dead letters, the rest are stored once.

    ``task`` names the dead letters; ``rejected`` are messages already judged poison (with their
    reason), dead-lettered in the same transaction. Two writers creating the same new person at
    once: the loser starts again (up to ``attempts`` times, ``ingest.retry_on_conflict``).
    """
    return retry_on_conflict(lambda: _record(db, payloads, task, rejected or []), attempts)


def _record(db: Database, payloads: list[Any], task: str, rejected: list[tuple[Any, str]]) -> BulkResult:
    result = BulkResult()
    parsed: list[tuple[Any, RatingPayload]] = []
    with db.session() as session:
        for payload, reason in rejected:
            result.dead += deadletter.add(session, task, payload, reason) is not None
        for payload in payloads:
            try:
                parsed.append((payload, _parse(RatingPayload, payload)))
            except PoisonPayload as exc:
                result.dead += deadletter.add(session, task, payload, deadletter.reason_for(exc)) is not None
        graded = ratable(session, (data.turn_id for _, data in parsed))
        valid: list[RatingPayload] = []
        for payload, data in parsed:
            reason = unratable(data.turn_id, graded.get(data.turn_id))
            if reason:
                result.dead += deadletter.add(session, task, payload, reason) is not None
            else:
                valid.append(data)
        store_ratings(session, valid, into=result)  # the same rule as a single click
        outbox.settle(session, [outbox.key_of("record_rating", p) for p in payloads if isinstance(p, dict)])
    return result

"""Many ratings in one transaction: the outbox relay's backlog, imports, replays.

The rules of ``ingest.record_rating``, called from both: poison reasons (``ingest.unratable``),
forgotten people stay forgotten (``ingest.sent_before_forgotten``), who rates as whom
(``ingest.known_as``), a person's latest click wins, also over a repeated value or a withdraw
(``ingest.apply_ratings``). Only the statements differ: a handful for the whole batch instead of
a transaction per rating (one lookup of turns, people and deletion requests, one upsert).

The write-ahead outbox rows of the batch (``tasks.pipeline.outbox``) are deleted in the same transaction,
stored and dead-lettered signals alike (``outbox.settle``), as ``ingest`` does for one signal. Used by
``mockingbird.record_ratings`` (the relay's backlog); a click is one ``mockingbird.record_rating``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import PipelineState, Turn, User, as_utc, utcnow
from bot.store.privacy import stone_moment, tombstone_key
from tasks.pipeline import deadletter, outbox
from tasks.pipeline.ingest import (
    Person,
    PoisonPayload,
    RatingPayload,
    _parse,
    apply_ratings,
    known_as,
    sent_before_forgotten,
    unratable,
    upsert_user,
)

TASK = "mockingbird.record_ratings"


class BulkResult(BaseModel):
    """What a batch changed; ``model_dump()`` is the task's result (the turns stay in the process)."""

    stored: int = 0
    withdrawn: int = 0
    skipped: int = 0
    dead: int = 0
    turn_ids: set[int] = Field(default_factory=set, exclude=True)


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
    once: the loser starts again at once and finds the row (up to ``attempts`` times).
    """
    for attempt in range(attempts):
        try:
            return _record(db, payloads, task, rejected or [])
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


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
        graded = dict(
            session.execute(
                select(Turn.id, Turn.feedback.is_not(None)).where(
                    Turn.id.in_({data.turn_id for _, data in parsed})
                )
            ).all()
        ) if parsed else {}
        valid: list[RatingPayload] = []
        for payload, data in parsed:
            reason = unratable(data.turn_id, graded.get(data.turn_id))
            if reason:
                result.dead += deadletter.add(session, task, payload, reason) is not None
            else:
                valid.append(data)
        _store(session, valid, result)
        outbox.settle(session, [outbox.key_of("record_rating", p) for p in payloads if isinstance(p, dict)])
    return result


def _latest(ratings: list[RatingPayload]) -> list[RatingPayload]:
    """One rating per (turn, person): the newest (by ``at``, else the last in the batch)."""
    latest: dict[tuple[int, str, str], RatingPayload] = {}
    for data in ratings:
        key = (data.turn_id, data.rater.platform, data.rater.user_id)
        old = latest.get(key)
        if old is None or old.at is None or data.at is None or as_utc(data.at) >= as_utc(old.at):
            latest[key] = data
    return list(latest.values())


def _store(session: Session, ratings: list[RatingPayload], result: BulkResult) -> None:
    ratings = _latest(ratings)
    if not ratings:
        return
    people = {(d.rater.platform, d.rater.user_id): d.rater for d in ratings}
    stones = {
        row.key: stone_moment(row.value)
        for row in session.scalars(
            select(PipelineState).where(PipelineState.key.in_({tombstone_key(*p) for p in people}))
        )
    }
    ids = _people(session, people)
    now = utcnow()
    rows = []
    for data in ratings:
        if sent_before_forgotten(data.at, stones.get(tombstone_key(data.rater.platform, data.rater.user_id))):
            result.skipped += 1
            continue
        stamp = as_utc(data.at) if data.at else now
        row = {
            "turn_id": data.turn_id,
            "rater_id": ids[(data.rater.platform, data.rater.user_id)],
            "value": data.value,
            "created_at": stamp,
            "updated_at": stamp,
        }
        rows.append(row)
        result.turn_ids.add(data.turn_id)
    apply_ratings(session, rows)  # the same latest-click-wins rule as a single rating
    result.withdrawn += sum(row["value"] == 0 for row in rows)
    result.stored += sum(row["value"] != 0 for row in rows)


def _people(session: Session, people: dict[tuple[str, str], Person]) -> dict[tuple[str, str], int]:
    """User ids for everyone in the batch, creating the new ones (one query when all exist)."""
    match = or_(*(and_(User.platform == p, User.platform_user_id == u) for p, u in people))
    found = {
        (p, u): (i, r)
        for i, p, u, r in session.execute(
            select(User.id, User.platform, User.platform_user_id, User.role).where(match)
        )
    }
    new = sorted(key for key in people if key not in found)
    if new and session.get_bind().dialect.name == "postgresql":
        # Everyone new in one statement, in key order; a person another batch is creating right
        # now is waited for and skipped (no unique violation), then read back with the rest.
        from sqlalchemy.dialects.postgresql import insert

        now = utcnow()
        rows = [
            {
                "platform": people[key].platform,
                "platform_user_id": people[key].user_id,
                "display_name": people[key].display_name,
                "role": people[key].role,
                "created_at": now,
            }
            for key in new
        ]
        session.connection().execute(
            insert(User).on_conflict_do_nothing(index_elements=[User.platform, User.platform_user_id]), rows
        )
        again = or_(*(and_(User.platform == p, User.platform_user_id == u) for p, u in new))
        found.update(
            ((p, u), (i, r))
            for i, p, u, r in session.execute(
                select(User.id, User.platform, User.platform_user_id, User.role).where(again)
            )
        )
    ids: dict[tuple[str, str], int] = {}
    for key, person in people.items():
        known = found.get(key)
        if known is not None and known_as(person, known[1]):
            ids[key] = known[0]
        else:
            ids[key] = upsert_user(session, person).id
    return ids

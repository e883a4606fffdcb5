"""Many ratings in one transaction: the outbox relay's backlog, imports, replays.

The same rules as ``ingest.record_rating`` (validation, poison reasons, a person's latest rating
wins, forgotten people stay forgotten), but a handful of statements for the whole batch instead
of a transaction per rating: one lookup of turns, people and deletion requests, one upsert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, delete, or_, select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import PipelineState, Rating, Turn, User, UserRole, utcnow
from bot.store.privacy import tombstone_key
from tasks import deadletter
from tasks.ingest import Person, PoisonPayload, RatingPayload, _parse, upsert_user

TASK = "mockingbird.record_ratings"


@dataclass
class BulkResult:
    stored: int = 0
    withdrawn: int = 0
    skipped: int = 0
    dead: int = 0
    turn_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "withdrawn": self.withdrawn,
            "skipped": self.skipped,
            "dead": self.dead,
        }


def _aware(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def record_ratings(db: Database, payloads: list[Any]) -> BulkResult:
    """Store a batch of rating payloads; poison ones become dead letters, the rest are stored once."""
    result = BulkResult()
    parsed: list[tuple[Any, RatingPayload]] = []
    with db.session() as session:
        for payload in payloads:
            try:
                parsed.append((payload, _parse(RatingPayload, payload)))
            except PoisonPayload as exc:
                result.dead += deadletter.add(session, TASK, payload, deadletter.reason_for(exc)) is not None
        graded = dict(
            session.execute(
                select(Turn.id, Turn.feedback.is_not(None)).where(
                    Turn.id.in_({data.turn_id for _, data in parsed})
                )
            ).all()
        )
        valid: list[RatingPayload] = []
        for payload, data in parsed:
            reason = (
                f"rating for unknown turn {data.turn_id}"
                if data.turn_id not in graded
                else None
                if graded[data.turn_id]
                else f"turn {data.turn_id} has no feedback to rate"
            )
            if reason:
                result.dead += deadletter.add(session, TASK, payload, reason) is not None
            else:
                valid.append(data)
        _store(session, valid, result)
    return result


def _latest(ratings: list[RatingPayload]) -> list[RatingPayload]:
    """One rating per (turn, person): the newest (by ``at``, else the last in the batch)."""
    latest: dict[tuple[int, str, str], RatingPayload] = {}
    for data in ratings:
        key = (data.turn_id, data.rater.platform, data.rater.user_id)
        old = latest.get(key)
        if old is None or old.at is None or data.at is None or _aware(data.at) >= _aware(old.at):
            latest[key] = data
    return list(latest.values())


def _store(session: Session, ratings: list[RatingPayload], result: BulkResult) -> None:
    ratings = _latest(ratings)
    if not ratings:
        return
    people = {(d.rater.platform, d.rater.user_id): d.rater for d in ratings}
    stones = {
        row.key: _aware(datetime.fromisoformat(row.value["at"]))
        for row in session.scalars(
            select(PipelineState).where(PipelineState.key.in_({tombstone_key(*p) for p in people}))
        )
    }
    ids = _people(session, people)
    now = utcnow()
    rows, withdrawals = [], []
    for data in ratings:
        gone = stones.get(tombstone_key(data.rater.platform, data.rater.user_id))
        if gone is not None and data.at is not None and _aware(data.at) <= gone:
            result.skipped += 1
            continue
        stamp = _aware(data.at) if data.at else now
        row = {
            "turn_id": data.turn_id,
            "rater_id": ids[(data.rater.platform, data.rater.user_id)],
            "value": data.value,
            "created_at": stamp,
            "updated_at": stamp,
        }
        (withdrawals if data.value == 0 else rows).append(row)
        result.turn_ids.add(data.turn_id)
    for row in withdrawals:
        session.execute(
            delete(Rating).where(
                Rating.turn_id == row["turn_id"],
                Rating.rater_id == row["rater_id"],
                Rating.updated_at <= row["updated_at"],
            )
        )
    result.withdrawn += len(withdrawals)
    if rows:
        _upsert(session, rows)
    result.stored += len(rows)


def _people(session: Session, people: dict[tuple[str, str], Person]) -> dict[tuple[str, str], int]:
    """User ids for everyone in the batch, creating the new ones (one query when all exist)."""
    match = or_(*(and_(User.platform == p, User.platform_user_id == u) for p, u in people))
    found = {
        (p, u): (i, r)
        for i, p, u, r in session.execute(
            select(User.id, User.platform, User.platform_user_id, User.role).where(match)
        )
    }
    ids: dict[tuple[str, str], int] = {}
    for key, person in people.items():
        known = found.get(key)
        if known is not None and (person.role == UserRole.candidate or known[1] == person.role):
            ids[key] = known[0]
        else:
            ids[key] = upsert_user(session, person).id
    return ids


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(Rating)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[Rating.turn_id, Rating.rater_id],
        set_={
            "value": new.value,
            "updated_at": case((Rating.value != new.value, new.updated_at), else_=Rating.updated_at),
        },
        where=Rating.updated_at <= new.updated_at,
    )
    session.connection().execute(stmt, rows)  # executemany: batched into multi-row statements

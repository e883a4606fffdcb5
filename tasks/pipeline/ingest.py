"""Store ratings and corrections. Plain functions: Celery tasks wrap them, tests call them directly.

Both are idempotent: a rating is one row per (turn, rater), updated in place; a correction is
one row per (turn, recruiter), replaced on resubmit. Running either twice stores once.

A payload may carry ``at``, when the person acted (the Celery sink stamps it). The stored row
keeps the time of the latest click it has seen (also when the value repeats), and an older
message arriving late (from the outbox, or a retry) never overwrites or withdraws a newer one.

Ratings are stored by one rule, whether one click or a relay's backlog (``tasks.pipeline.bulk``)
brings them: ``ratable`` says which turns can be rated at all, ``store_ratings`` does the rest
(forgotten people stay forgotten, who rates as whom, the latest click wins). A click is a batch
of one, through the very same statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import and_, delete, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Correction, PipelineState, Rating, Turn, User, UserRole, as_utc, utcnow
from bot.store.privacy import forgotten_at, stone_moment, tombstone_key
from bot.store.tally import tally
from chains.schemas import Feedback
from tasks.pipeline import outbox

T = TypeVar("T")


class PoisonPayload(ValueError):
    """A payload that can never be stored (malformed, or about a turn that does not exist)."""


class Person(BaseModel):
    platform: str = Field(min_length=1, max_length=20)
    user_id: str = Field(min_length=1, max_length=64)
    display_name: str | None = None
    role: UserRole = UserRole.candidate


class TurnSignal(BaseModel):
    """What every signal about a turn carries: the turn, the sender's idempotency key, and when
    the person acted."""

    turn_id: int
    idempotency_key: str | None = None
    at: datetime | None = None


class RatingPayload(TurnSignal):
    rater: Person
    value: int = Field(ge=-1, le=1)


class CorrectionPayload(TurnSignal):
    recruiter: Person
    feedback: Feedback
    note: str | None = None


def _parse(model: type[BaseModel], payload: dict[str, Any]) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PoisonPayload(f"malformed {model.__name__}: {exc.errors(include_url=False)}") from exc


def upsert_user(session: Session, person: Person) -> User:
    user = session.scalar(
        select(User).where(User.platform == person.platform, User.platform_user_id == person.user_id)
    )
    if user is None:
        user = User(platform=person.platform, platform_user_id=person.user_id,
                    display_name=person.display_name, role=person.role)
        session.add(user)
        session.flush()
    elif person.role != UserRole.candidate and user.role != person.role:
        user.role = person.role
    return user


def unratable(turn_id: int, has_feedback: bool | None) -> str | None:
    """Why a rating of this turn can never be stored (``has_feedback`` None: no such turn), or None."""
    if has_feedback is None:
        return f"rating for unknown turn {turn_id}"
    return None if has_feedback else f"turn {turn_id} has no feedback to rate"


def sent_before_forgotten(at: datetime | None, forgotten: datetime | None) -> bool:
    """A message sent before its author asked to be forgotten must not bring them back."""
    return forgotten is not None and at is not None and as_utc(at) <= forgotten


def known_as(person: Person, role: UserRole | None) -> bool:
    """Whether a stored person (with ``role``) can rate as ``person`` without updating their row."""
    return role is not None and (person.role == UserRole.candidate or role == person.role)


def _stale(stored: datetime | None, at: datetime | None) -> bool:
    """True when the message is older than what is stored (only known when it carries ``at``)."""
    return at is not None and stored is not None and as_utc(stored) > as_utc(at)


def record_rating(db: Database, payload: dict[str, Any]) -> dict[str, Any]:
    """Store (or change) one rating; value 0 withdraws it. Returns the turn's tally, with the
    rater's own stored value as ``"mine"`` (the same statement: ``bot.store.tally``)."""
    data: RatingPayload = _parse(RatingPayload, payload)
    return retry_on_conflict(lambda: _store_rating(db, data))


def retry_on_conflict(store: Callable[[], T], attempts: int = 3) -> T:
    """Two writers inserting the same unique row: the loser starts again at once and finds the row there."""
    for attempt in range(attempts):
        try:
            return store()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _store_rating(db: Database, data: RatingPayload) -> dict[str, Any]:
    """One click: a batch of one through ``ratable`` and ``store_ratings``."""
    with db.session() as session:
        reason = unratable(data.turn_id, ratable(session, [data.turn_id]).get(data.turn_id))
        if reason:
            raise PoisonPayload(reason)
        outbox.settle(session, [data.idempotency_key])
        store_ratings(session, [data])
        return tally(session, data.turn_id, (data.rater.platform, data.rater.user_id))


def ratable(session: Session, turn_ids: Iterable[int]) -> dict[int, bool]:
    """Whether each turn has feedback to rate (a turn that does not exist is absent): one statement."""
    wanted = set(turn_ids)
    if not wanted:
        return {}
    query = select(Turn.id, Turn.feedback.is_not(None)).where(Turn.id.in_(wanted))
    return {turn_id: bool(graded) for turn_id, graded in session.execute(query)}


class Stored(BaseModel):
    """What ``store_ratings`` did: ratings stored or withdrawn, and those skipped because their
    rater had asked to be forgotten by then; ``model_dump()`` leaves the turns out (they stay in
    the process)."""

    stored: int = 0
    withdrawn: int = 0
    skipped: int = 0
    turn_ids: set[int] = Field(default_factory=set, exclude=True)


def store_ratings(session: Session, ratings: list[RatingPayload], into: Stored | None = None) -> Stored:
    """Store ratings of ratable turns (see ``ratable``): the one rule for a click and for a batch.

    Per (turn, person) only the newest click in the batch counts; a rating sent before its
    author asked to be forgotten is skipped (and does not create them again); a known person
    rates under their row (a new one, or one whose role changed, is written first); then
    ``apply_ratings``. Statements: the deletion requests, the people, the upsert. The counts
    are added to ``into`` where given.
    """
    result = into if into is not None else Stored()
    ratings = _latest(ratings)
    if not ratings:
        return result
    keys = {tombstone_key(d.rater.platform, d.rater.user_id) for d in ratings}
    stones = {
        row.key: stone_moment(row.value)
        for row in session.scalars(select(PipelineState).where(PipelineState.key.in_(keys)))
    }
    kept = [
        d for d in ratings
        if not sent_before_forgotten(d.at, stones.get(tombstone_key(d.rater.platform, d.rater.user_id)))
    ]  # fmt: skip
    result.skipped += len(ratings) - len(kept)
    if not kept:
        return result
    ids = _people(session, {(d.rater.platform, d.rater.user_id): d.rater for d in kept})
    now = utcnow()
    rows = []
    for data in kept:
        stamp = as_utc(data.at) if data.at else now
        rater_id = ids[(data.rater.platform, data.rater.user_id)]
        rows.append({"turn_id": data.turn_id, "rater_id": rater_id, "value": data.value,
                     "created_at": stamp, "updated_at": stamp})
        result.turn_ids.add(data.turn_id)
    apply_ratings(session, rows)
    withdrawn = sum(row["value"] == 0 for row in rows)
    result.withdrawn += withdrawn
    result.stored += len(rows) - withdrawn
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


def _forgotten(session: Session, person: Person, at: datetime | None) -> bool:
    """A message sent before its author asked to be forgotten must not bring them back."""
    return at is not None and sent_before_forgotten(at, forgotten_at(session, person.platform, person.user_id))


def apply_ratings(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store ratings (dicts of ``turn_id``, ``rater_id``, ``value``, ``created_at``, ``updated_at``,
    where ``updated_at`` is when the person clicked); the last step of ``store_ratings``.

    The latest click wins whatever order the messages arrive in: a message changes a stored
    rating only when its click is not older than the stored click, and then stores its click
    time *even when the value is unchanged* (👍, 👎 delayed, 👍 again: the late 👎 loses to the
    second 👍). A withdraw (value 0) deletes the rating only when it is not older than it.
    """
    withdrawals = [row for row in rows if row["value"] == 0]
    for row in withdrawals:
        session.connection().execute(
            delete(Rating).where(
                Rating.turn_id == row["turn_id"],
                Rating.rater_id == row["rater_id"],
                Rating.updated_at <= row["updated_at"],
            )
        )
    upserts = [row for row in rows if row["value"] != 0]
    if upserts:  # in key order: two batches upserting the same rows never wait on each other in a cycle
        _upsert_ratings(session, sorted(upserts, key=lambda r: (r["turn_id"], r["rater_id"])))


_UPSERT_PG = text(
    "INSERT INTO ratings (turn_id, rater_id, value, created_at, updated_at) "
    "SELECT t, r, v, s, s FROM unnest(CAST(:t AS integer[]), CAST(:r AS integer[]), CAST(:v AS integer[]), "
    "CAST(:s AS timestamptz[])) AS u(t, r, v, s) "
    "ON CONFLICT (turn_id, rater_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at "
    "WHERE ratings.updated_at <= excluded.updated_at"
)


def _upsert_ratings(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert, or change value and click time in place unless the stored click is newer."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # one statement whatever the batch size: four array parameters
        session.connection().execute(
            _UPSERT_PG,
            {
                "t": [r["turn_id"] for r in rows],
                "r": [r["rater_id"] for r in rows],
                "v": [r["value"] for r in rows],
                "s": [r["updated_at"] for r in rows],
            },
        )
        return
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(Rating)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[Rating.turn_id, Rating.rater_id],
            set_={"value": new.value, "updated_at": new.updated_at},
            where=Rating.updated_at <= new.updated_at,
        )
        session.connection().execute(stmt, rows)  # executemany
        return
    for row in rows:  # portable fallback
        rating = session.scalar(
            select(Rating).where(Rating.turn_id == row["turn_id"], Rating.rater_id == row["rater_id"])
        )
        if rating is None:
            session.add(Rating(**row))
        elif not _stale(rating.updated_at, row["updated_at"]):
            rating.value, rating.updated_at = row["value"], row["updated_at"]
    session.flush()


def record_correction(db: Database, payload: dict[str, Any]) -> dict[str, Any]:
    """Store a recruiter's corrected feedback (replacing their earlier one for the same turn)."""
    data: CorrectionPayload = _parse(CorrectionPayload, payload)
    if data.recruiter.role != UserRole.recruiter:
        raise PoisonPayload("corrections must come from a recruiter")
    return retry_on_conflict(lambda: _store_correction(db, data))


def _store_correction(db: Database, data: CorrectionPayload) -> dict[str, Any]:
    with db.session() as session:
        turn = session.get(Turn, data.turn_id)
        if turn is None:
            raise PoisonPayload(f"correction for unknown turn {data.turn_id}")
        outbox.settle(session, [data.idempotency_key])
        if _forgotten(session, data.recruiter, data.at):
            return {"turn_id": turn.id, "correction_id": None}
        recruiter = upsert_user(session, data.recruiter)
        correction = session.scalar(
            select(Correction).where(Correction.turn_id == turn.id, Correction.recruiter_id == recruiter.id)
        )
        feedback = data.feedback.model_dump()
        stamp = as_utc(data.at) if data.at else utcnow()
        if correction is None:
            correction = Correction(turn_id=turn.id, recruiter_id=recruiter.id, feedback=feedback,
                                    note=data.note, created_at=stamp, updated_at=stamp)
            session.add(correction)
        elif not _stale(correction.updated_at, data.at):
            correction.feedback, correction.note, correction.updated_at = feedback, data.note, stamp
        session.flush()
        return {"turn_id": turn.id, "correction_id": correction.id}

"""Store ratings and corrections. Plain functions: Celery tasks wrap them, tests call them directly.

Both are idempotent: a rating is one row per (turn, rater), updated in place; a correction is
one row per (turn, recruiter), replaced on resubmit. Running either twice stores once.

A payload may carry ``at``, when the person acted (the Celery sink stamps it). The stored row
keeps the time of the latest click it has seen (also when the value repeats), and an older
message arriving late (from the outbox, or a retry) never overwrites or withdraws a newer one
(``apply_ratings``, shared with ``tasks.pipeline.bulk``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Correction, PipelineState, Rating, Turn, User, UserRole, as_utc, utcnow
from bot.store.privacy import forgotten_at, stone_moment, tombstone_key
from bot.store.tally import tally
from chains.schemas import Feedback
from tasks.pipeline import outbox


class PoisonPayload(ValueError):
    """A payload that can never be stored (malformed, or about a turn that does not exist)."""


class Person(BaseModel):
    platform: str = Field(min_length=1, max_length=20)
    user_id: str = Field(min_length=1, max_length=64)
    display_name: str | None = None
    role: UserRole = UserRole.candidate


class RatingPayload(BaseModel):
    turn_id: int
    rater: Person
    value: int = Field(ge=-1, le=1)
    idempotency_key: str | None = None
    at: datetime | None = None


class CorrectionPayload(BaseModel):
    turn_id: int
    recruiter: Person
    feedback: Feedback
    note: str | None = None
    idempotency_key: str | None = None
    at: datetime | None = None


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
    """Store (or change) one rating; value 0 withdraws it. Returns the turn's tally."""
    data: RatingPayload = _parse(RatingPayload, payload)
    return _retry_on_conflict(lambda: _store_rating(db, data))


def _retry_on_conflict(store: Callable[[], dict[str, Any]], attempts: int = 3) -> dict[str, Any]:
    """Two writers inserting the same unique row: the loser retries and finds the row there."""
    for attempt in range(attempts):
        try:
            return store()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _store_rating(db: Database, data: RatingPayload) -> dict[str, Any]:
    """Three Core statements in one transaction: this is the hot path of the pipeline."""
    with db.session() as session:
        conn = session.connection()
        found = conn.execute(_lookup(data)).one()
        reason = unratable(data.turn_id, found.has_feedback)
        if reason:
            raise PoisonPayload(reason)
        outbox.settle(session, [data.idempotency_key])
        gone = stone_moment(found.forgotten) if found.forgotten is not None else None
        if sent_before_forgotten(data.at, gone):
            return tally(session, data.turn_id)
        if found.user_id is not None and known_as(data.rater, found.role):
            rater_id = int(found.user_id)
        else:
            rater_id = upsert_user(session, data.rater).id
        stamp = as_utc(data.at) if data.at else utcnow()
        apply_ratings(session, [{"turn_id": data.turn_id, "rater_id": rater_id, "value": data.value,
                                 "created_at": stamp, "updated_at": stamp}])
        return tally(session, data.turn_id)


def _lookup(data: RatingPayload) -> Any:
    """The turn, the rater and any deletion request, in one round trip."""
    person = (User.platform == data.rater.platform, User.platform_user_id == data.rater.user_id)
    stone = tombstone_key(data.rater.platform, data.rater.user_id)
    return select(
        select(Turn.feedback.is_not(None)).where(Turn.id == data.turn_id).scalar_subquery()
        .label("has_feedback"),
        select(User.id).where(*person).scalar_subquery().label("user_id"),
        select(User.role).where(*person).scalar_subquery().label("role"),
        select(PipelineState.value).where(PipelineState.key == stone).scalar_subquery().label("forgotten"),
    )


def _forgotten(session: Session, person: Person, at: datetime | None) -> bool:
    """A message sent before its author asked to be forgotten must not bring them back."""
    return at is not None and sent_before_forgotten(at, forgotten_at(session, person.platform, person.user_id))


def apply_ratings(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store ratings (dicts of ``turn_id``, ``rater_id``, ``value``, ``created_at``, ``updated_at``,
    where ``updated_at`` is when the person clicked); the one rule for single and batched ratings.

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
    return _retry_on_conflict(lambda: _store_correction(db, data))


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

"""Store ratings and corrections. Plain functions: Celery tasks wrap them, tests call them directly.

Both are idempotent: a rating is one row per (turn, rater), updated in place; a correction is
one row per (turn, recruiter), replaced on resubmit. Running either twice stores once.

A payload may carry ``at``, when the person acted (the Celery sink stamps it). Then the stored
row keeps that time and an older message arriving late (from the outbox, or a retry) never
overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import case, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Correction, PipelineState, Rating, Turn, User, UserRole, as_utc, utcnow
from bot.store.privacy import forgotten_at, stone_moment, tombstone_key
from bot.store.tally import tally
from chains.schemas import Feedback
from tasks import outbox


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
        if found.has_feedback is None:
            raise PoisonPayload(f"rating for unknown turn {data.turn_id}")
        if not found.has_feedback:
            raise PoisonPayload(f"turn {data.turn_id} has no feedback to rate")
        outbox.settle(session, [data.idempotency_key])
        if found.forgotten is not None and data.at and as_utc(data.at) <= stone_moment(found.forgotten):
            return tally(session, data.turn_id)  # sent before its author asked to be forgotten
        same_role = data.rater.role == UserRole.candidate or found.role == data.rater.role
        if found.user_id is not None and same_role:
            rater_id = int(found.user_id)
        else:
            rater_id = upsert_user(session, data.rater).id
        stamp = as_utc(data.at) if data.at else utcnow()
        if data.value == 0:
            withdraw = delete(Rating).where(Rating.turn_id == data.turn_id, Rating.rater_id == rater_id)
            if data.at is not None:
                withdraw = withdraw.where(Rating.updated_at <= stamp)
            conn.execute(withdraw)
        else:
            _upsert_rating(session, data.turn_id, rater_id, data.value, stamp, guarded=data.at is not None)
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
    if at is None:
        return False
    gone = forgotten_at(session, person.platform, person.user_id)
    return gone is not None and as_utc(at) <= gone


def _upsert_rating(session: Session, turn_id: int, rater_id: int, value: int, stamp: datetime,
                   *, guarded: bool) -> None:
    """Insert, or change the value in place; with ``guarded`` an older message never wins."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:  # portable fallback
        rating = session.scalar(select(Rating).where(Rating.turn_id == turn_id, Rating.rater_id == rater_id))
        if rating is None:
            session.add(Rating(turn_id=turn_id, rater_id=rater_id, value=value, created_at=stamp,
                               updated_at=stamp))
        elif rating.value != value and not (guarded and _stale(rating.updated_at, stamp)):
            rating.value, rating.updated_at = value, stamp
        session.flush()
        return
    stmt = insert(Rating).values(turn_id=turn_id, rater_id=rater_id, value=value, created_at=stamp,
                                 updated_at=stamp)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[Rating.turn_id, Rating.rater_id],
        set_={"value": new.value,
              "updated_at": case((Rating.value != new.value, new.updated_at), else_=Rating.updated_at)},
        where=(Rating.updated_at <= new.updated_at) if guarded else None,
    )
    session.connection().execute(stmt)


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

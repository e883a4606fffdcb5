"""Store ratings and corrections. Plain functions: Celery tasks wrap them, tests call them directly.

Both are idempotent: a rating is one row per (turn, rater), updated in place; a correction is
one row per (turn, recruiter), replaced on resubmit. Running either twice stores once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import Correction, Rating, Turn, User, UserRole, utcnow
from chains.schemas import Feedback


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


class CorrectionPayload(BaseModel):
    turn_id: int
    recruiter: Person
    feedback: Feedback
    note: str | None = None
    idempotency_key: str | None = None


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
    with db.session() as session:
        turn = session.get(Turn, data.turn_id)
        if turn is None:
            raise PoisonPayload(f"rating for unknown turn {data.turn_id}")
        if turn.feedback is None:
            raise PoisonPayload(f"turn {data.turn_id} has no feedback to rate")
        rater = upsert_user(session, data.rater)
        rating = session.scalar(select(Rating).where(Rating.turn_id == turn.id, Rating.rater_id == rater.id))
        if data.value == 0:
            if rating is not None:
                session.delete(rating)
        elif rating is None:
            session.add(Rating(turn_id=turn.id, rater_id=rater.id, value=data.value))
        elif rating.value != data.value:
            rating.value = data.value
            rating.updated_at = utcnow()
        session.flush()
        return tally(session, turn.id)


def tally(session: Session, turn_id: int) -> dict[str, Any]:
    values = session.scalars(select(Rating.value).where(Rating.turn_id == turn_id)).all()
    return {"turn_id": turn_id, "up": sum(1 for v in values if v > 0), "down": sum(1 for v in values if v < 0)}


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
        recruiter = upsert_user(session, data.recruiter)
        correction = session.scalar(
            select(Correction).where(Correction.turn_id == turn.id, Correction.recruiter_id == recruiter.id)
        )
        feedback = data.feedback.model_dump()
        if correction is None:
            correction = Correction(turn_id=turn.id, recruiter_id=recruiter.id, feedback=feedback, note=data.note)
            session.add(correction)
        else:
            correction.feedback, correction.note, correction.updated_at = feedback, data.note, utcnow()
        session.flush()
        return {"turn_id": turn.id, "correction_id": correction.id}

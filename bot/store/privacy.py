"""Forgetting a person, everywhere the store keeps them.

Deleting the user row removes, by ``ON DELETE CASCADE``, their sessions, answers, ratings,
corrections and the preference data made from them. Copies of their signals can also wait in the
outbox or sit in the dead-letter table; those are scrubbed here. A tombstone (a hash of the
identity and the time) lets the background side drop messages still in flight from before the
request, so a late rating cannot bring the person back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.store.models import DeadLetter, InterviewSession, OutboxMessage, PipelineState, Turn, User, as_utc, utcnow

TOMBSTONE_PREFIX = "forgotten:"


def tombstone_key(platform: str, user_id: str) -> str:
    return TOMBSTONE_PREFIX + hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()


def people_in(payload: Any) -> Iterable[tuple[str, str]]:
    """Every ``{"platform": ..., "user_id": ...}`` inside a signal payload (rater, recruiter, ...)."""
    if isinstance(payload, dict):
        platform, user_id = payload.get("platform"), payload.get("user_id")
        if isinstance(platform, str) and isinstance(user_id, str | int):
            yield platform, str(user_id)
        for value in payload.values():
            yield from people_in(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from people_in(value)


def _mentions(payload: Any, person: tuple[str, str], turn_ids: set[int]) -> bool:
    if person in set(people_in(payload)):
        return True
    turn_id = payload.get("turn_id") if isinstance(payload, dict) else None
    return isinstance(turn_id, int) and turn_id in turn_ids


def forget_person(session: Session, platform: str, user_id: str) -> bool:
    """Delete everything about one person. True when anything was stored about them."""
    person = (platform, str(user_id))
    user_pk = session.scalar(
        select(User.id).where(User.platform == platform, User.platform_user_id == user_id)
    )
    turn_ids: set[int] = set()
    if user_pk is not None:
        turn_ids = set(
            session.scalars(
                select(Turn.id)
                .join(InterviewSession, Turn.session_id == InterviewSession.id)
                .where(InterviewSession.candidate_id == user_pk)
            )
        )
    scrubbed = 0
    for table in (OutboxMessage, DeadLetter):
        doomed = [
            row_id
            for row_id, payload in session.execute(select(table.id, table.payload))
            if _mentions(payload, person, turn_ids)
        ]
        if doomed:
            session.execute(delete(table).where(table.id.in_(doomed)))
            scrubbed += len(doomed)
    if user_pk is not None:
        session.execute(delete(User).where(User.id == user_pk))
    key = tombstone_key(platform, user_id)
    stone = session.get(PipelineState, key)
    if stone is None:
        session.add(PipelineState(key=key, value={"at": utcnow().isoformat()}))
    else:
        stone.value = {"at": utcnow().isoformat()}
    return user_pk is not None or scrubbed > 0


def stone_moment(value: Any) -> datetime:
    """When a deletion request (a tombstone's stored value) was made. One without a readable
    time covers everything, so nothing sent by that person can bring them back."""
    at = value.get("at") if isinstance(value, dict) else None
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else datetime.max
    except ValueError:
        moment = datetime.max
    return as_utc(moment)


def forgotten_at(session: Session, platform: str, user_id: str) -> datetime | None:
    """When this person asked to be forgotten (the latest request), or None."""
    stone = session.get(PipelineState, tombstone_key(platform, user_id))
    return None if stone is None else stone_moment(stone.value)

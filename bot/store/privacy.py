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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from bot.store.models import (
    Correction,
    DeadLetter,
    InterviewSession,
    OutboxMessage,
    PipelineState,
    PreferencePair,
    Rating,
    SurveyResponse,
    Turn,
    User,
    as_utc,
    utcnow,
)

TOMBSTONE_PREFIX = "forgotten:"
# Where people come from (``User.platform``): the chat adapters' names and the terminal's.
PLATFORMS = ("slack", "discord", "console")
PLATFORM_ALIASES = {"terminal": "console"}


def platform_named(name: str) -> str | None:
    """The stored platform for what an operator typed ("Slack", "terminal"), or None."""
    key = name.strip().lower()
    key = PLATFORM_ALIASES.get(key, key)
    return key if key in PLATFORMS else None


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


@dataclass(frozen=True)
class Forgotten:
    """What one deletion removed, counted before the cascade (so ``forget`` can say so)."""

    users: int = 0
    sessions: int = 0
    turns: int = 0
    ratings: int = 0
    corrections: int = 0
    survey_responses: int = 0
    preference_pairs: int = 0
    outbox_messages: int = 0
    dead_letters: int = 0

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> str:
        """"1 user, 2 sessions, 5 turns, 1 rating": what was there, in that order."""
        return ", ".join(f"{n} {name.replace('_', ' ').removesuffix('s') if n == 1 else name.replace('_', ' ')}"
                         for name, n in vars(self).items() if n)


def _count(session: Session, model: type, *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def forget_person(session: Session, platform: str, user_id: str) -> Forgotten:
    """Delete everything about one person; what was removed, true when anything was stored."""
    person = (platform, str(user_id))
    user_pk = session.scalar(
        select(User.id).where(User.platform == platform, User.platform_user_id == user_id)
    )
    turn_ids: set[int] = set()
    counts: dict[str, int] = {}
    if user_pk is not None:
        sessions = select(InterviewSession.id).where(InterviewSession.candidate_id == user_pk)
        turns = select(Turn.id).where(Turn.session_id.in_(sessions))
        turn_ids = set(session.scalars(turns))
        corrections = select(Correction.id).where(
            or_(Correction.turn_id.in_(turns), Correction.recruiter_id == user_pk))
        counts = {
            "users": 1,
            "sessions": _count(session, InterviewSession, InterviewSession.candidate_id == user_pk),
            "turns": len(turn_ids),
            "ratings": _count(session, Rating, or_(Rating.turn_id.in_(turns), Rating.rater_id == user_pk)),
            "corrections": _count(session, Correction, Correction.id.in_(corrections)),
            "survey_responses": _count(session, SurveyResponse, SurveyResponse.session_id.in_(sessions)),
            "preference_pairs": _count(session, PreferencePair, or_(
                PreferencePair.session_id.in_(sessions), PreferencePair.turn_id.in_(turns),
                PreferencePair.other_turn_id.in_(turns), PreferencePair.correction_id.in_(corrections))),
        }
    for table, name in ((OutboxMessage, "outbox_messages"), (DeadLetter, "dead_letters")):
        doomed = [
            row_id
            for row_id, payload in session.execute(select(table.id, table.payload))
            if _mentions(payload, person, turn_ids)
        ]
        if doomed:
            session.execute(delete(table).where(table.id.in_(doomed)))
        counts[name] = len(doomed)
    if user_pk is not None:
        session.execute(delete(User).where(User.id == user_pk))
    key = tombstone_key(platform, user_id)
    stone = session.get(PipelineState, key)
    if stone is None:
        session.add(PipelineState(key=key, value={"at": utcnow().isoformat()}))
    else:
        stone.value = {"at": utcnow().isoformat()}
    return Forgotten(**counts)


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

"""The 👍 / 👎 tally shown on a feedback message, read from the database after the rating landed.

The rating travels through the signal sink (a Celery task when ``REDIS_URL`` is set), so it
is stored a moment after the click. ``settled_tally`` waits, briefly and on a condition,
until this rater's rating has the clicked value, then returns the turn's counts.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Rating, User
from tasks.ingest import tally


def current_rating(db: Database, turn_id: int, platform: str, user_id: str) -> int:
    """The rater's stored value for the turn: +1, -1, or 0 when there is none."""
    with db.session() as session:
        value = session.scalar(
            select(Rating.value)
            .join(User, Rating.rater_id == User.id)
            .where(Rating.turn_id == turn_id, User.platform == platform, User.platform_user_id == user_id)
        )
    return int(value or 0)


def read_tally(db: Database, turn_id: int) -> dict[str, Any]:
    with db.session() as session:
        return tally(session, turn_id)


def settled_tally(
    db: Database, turn_id: int, platform: str, user_id: str, value: int, timeout_s: float = 10.0
) -> tuple[dict[str, Any], bool]:
    """The tally once the rating is stored; ``(tally, False)`` if it is still in flight at the deadline."""
    deadline, pause = time.monotonic() + timeout_s, 0.01
    while current_rating(db, turn_id, platform, user_id) != value:
        if time.monotonic() >= deadline:
            return read_tally(db, turn_id), False
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
    return read_tally(db, turn_id), True

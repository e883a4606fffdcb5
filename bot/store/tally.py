"""The 👍 / 👎 counts of one turn: shown by the adapters, returned by rating ingestion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from bot.store.models import Rating, User


def count_if(condition: Any) -> Any:
    """SQL: how many rows meet ``condition`` (0, not NULL, when there are none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# Built once: every click runs one of these, and building a statement costs more than running it.
UPS, DOWNS = count_if(Rating.value > 0), count_if(Rating.value < 0)
_COUNTS = (UPS, DOWNS)
_MINE = and_(User.platform == bindparam("platform"), User.platform_user_id == bindparam("user_id"))
COUNTS = select(*_COUNTS).where(Rating.turn_id == bindparam("turn_id"))
COUNTS_AND_MINE = (select(*_COUNTS, func.coalesce(func.max(case((_MINE, Rating.value))), 0))
                   .join(User, Rating.rater_id == User.id).where(Rating.turn_id == bindparam("turn_id")))


def tally(db: Session | Connection, turn_id: int, rater: tuple[str, str] | None = None) -> dict[str, Any]:
    """``{"turn_id", "up", "down"}``, plus ``"mine"`` (+1, -1 or 0) for ``rater`` = (platform, user id).

    One statement either way: the rater's own value comes from the same scan of the turn's ratings.
    """
    connection = db.connection() if isinstance(db, Session) else db
    if rater is None:
        row = connection.execute(COUNTS, {"turn_id": turn_id}).one()
    else:
        row = connection.execute(COUNTS_AND_MINE,
                                 {"turn_id": turn_id, "platform": rater[0], "user_id": rater[1]}).one()
    counts = {"turn_id": turn_id, "up": int(row[0]), "down": int(row[1])}
    if rater is not None:
        counts["mine"] = int(row[2])
    return counts

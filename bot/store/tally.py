"""The 👍 / 👎 counts of one turn: shown by the adapters, returned by rating ingestion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.orm import Session

from bot.store.models import Rating, User


def tally(db: Session | Connection, turn_id: int, rater: tuple[str, str] | None = None) -> dict[str, Any]:
    """``{"turn_id", "up", "down"}``, plus ``"mine"`` (+1, -1 or 0) for ``rater`` = (platform, user id).

    One statement either way: the rater's own value comes from the same scan of the turn's ratings.
    """
    columns = [func.coalesce(func.sum(case((Rating.value > 0, 1), else_=0)), 0),
               func.coalesce(func.sum(case((Rating.value < 0, 1), else_=0)), 0)]
    query = select(*columns).where(Rating.turn_id == turn_id)
    if rater is not None:
        mine = and_(User.platform == rater[0], User.platform_user_id == rater[1])
        query = (select(*columns, func.coalesce(func.max(case((mine, Rating.value))), 0))
                 .join(User, Rating.rater_id == User.id).where(Rating.turn_id == turn_id))
    connection = db.connection() if isinstance(db, Session) else db
    row = connection.execute(query).one()
    counts = {"turn_id": turn_id, "up": int(row[0]), "down": int(row[1])}
    if rater is not None:
        counts["mine"] = int(row[2])
    return counts

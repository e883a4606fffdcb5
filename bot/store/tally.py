"""The 👍 / 👎 counts of one turn: shown by the adapters, returned by rating ingestion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.store.models import Rating


def tally(session: Session, turn_id: int) -> dict[str, Any]:
    up, down = session.connection().execute(
        select(func.coalesce(func.sum(case((Rating.value > 0, 1), else_=0)), 0),
               func.coalesce(func.sum(case((Rating.value < 0, 1), else_=0)), 0))
        .where(Rating.turn_id == turn_id)).one()
    return {"turn_id": turn_id, "up": int(up), "down": int(down)}

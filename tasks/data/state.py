"""Named records the background jobs keep between runs (``pipeline_state``): last build, retraining due."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.store.models import PipelineState, utcnow


def get(session: Session, key: str) -> dict[str, Any] | None:
    row = session.get(PipelineState, key)
    return dict(row.value) if row is not None else None


def put(session: Session, key: str, value: dict[str, Any]) -> None:
    row = session.get(PipelineState, key)
    if row is None:
        session.add(PipelineState(key=key, value=value))
    else:
        row.value, row.updated_at = value, utcnow()

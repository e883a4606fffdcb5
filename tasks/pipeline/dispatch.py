"""Signal sinks: where the engine's ratings and corrections go.

Without ``REDIS_URL`` they are stored in-process, at once. With it, they are sent to Celery
(see ``tasks.pipeline.sink``), falling back to the outbox table when the broker is down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.store.db import Database
from tasks.pipeline import ingest

HANDLERS: dict[str, Callable[[Database, dict[str, Any]], dict[str, Any]]] = {
    "record_rating": ingest.record_rating,
    "record_correction": ingest.record_correction,
}


class InProcessSink:
    """Runs the ingestion function in the calling process (local use, tests of the engine)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.last_result: dict[str, Any] | None = None

    def submit(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.last_result = HANDLERS[task](self.db, payload)
        return self.last_result

"""How the engine hands ratings and corrections to the background side.

The engine builds a plain-JSON payload and gives it to a ``SignalSink``. The composition
root chooses the sink: in-process (no Redis) or Celery with an outbox when the broker is
down. The engine never imports Celery.
"""

from __future__ import annotations

from typing import Any, Protocol

RECORD_RATING = "record_rating"
RECORD_CORRECTION = "record_correction"


class SignalSink(Protocol):
    def submit(self, task: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Deliver ``payload`` to ``task``; must not lose it (store it if delivery fails).

        Returns what ``task`` returned when it ran here and now (in-process), else None."""


def rating_key(turn_id: int, platform: str, user_id: str, value: int) -> str:
    return f"rating:{turn_id}:{platform}:{user_id}:{value}"


def correction_key(turn_id: int, platform: str, user_id: str, digest: str) -> str:
    return f"correction:{turn_id}:{platform}:{user_id}:{digest}"

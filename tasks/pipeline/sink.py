"""The production signal sink: ratings and corrections go to Celery, or to the outbox when Redis is down.

``bot.app.make_sink`` imports this module lazily, only when ``REDIS_URL`` is set. Publishing gives
up within about a second (``PUBLISH_RETRY``); after a broker failure the sink writes straight to
the outbox for a few seconds instead of waiting on a dead broker for every click. Every signal is
written to the outbox first and stays there until a worker confirms it (see ``tasks.pipeline.outbox``); a
database error while writing it is not a broker outage: the signal is published all the same.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery

from bot.config import Settings, get_settings
from bot.store.db import Database
from bot.store.models import utcnow
from tasks.pipeline import outbox
from tasks.pipeline.app import PUBLISH_RETRY, SIGNAL_TASKS, app_for

log = logging.getLogger(__name__)


def is_broker_error(exc: Exception) -> bool:
    """Redis unreachable or timing out (as opposed to a message that cannot be sent at all)."""
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    return isinstance(exc, OperationalError | RedisConnectionError | RedisTimeout | OSError | TimeoutError)


def publisher(app: Celery, queue: str) -> outbox.Publish:
    """A function that sends one engine signal to its Celery task (used by the sink and the relay)."""

    def publish(task: str, payload: Any) -> None:
        name = SIGNAL_TASKS.get(task, task)
        # argsrepr: worker logs and monitors show the turn, not the person (and skip a costly repr).
        shown = (
            f"({len(payload)} ratings)" if isinstance(payload, list) else f"(turn {payload.get('turn_id')!r})"
        )
        app.send_task(
            name,
            args=(payload,),
            queue=queue,
            ignore_result=True,
            retry=True,
            retry_policy=PUBLISH_RETRY,
            argsrepr=shown,
            kwargsrepr="{}",
        )

    return publish


class CelerySink:
    """Sends each signal to Celery; on any publishing failure keeps it in the outbox table."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        app: Celery | None = None,
        cooldown_s: float = 5.0,
    ) -> None:
        self.db = db
        self.settings = settings or get_settings()
        self.app = app or app_for(self.settings)
        self.publish = publisher(self.app, self.settings.celery_queue)
        self.cooldown_s = cooldown_s
        self._skip_broker_until = 0.0

    def submit(self, task: str, payload: dict[str, Any]) -> None:
        # When the person acted: storage never lets an older click overwrite a newer one. Each
        # click gets its own outbox key (the engine's key plus ``at``).
        payload = outbox.per_click({**payload, "at": payload.get("at") or utcnow().isoformat()})
        error = "broker recently unreachable"
        if time.monotonic() >= self._skip_broker_until:
            try:
                # Written ahead as published: if Redis loses the message, the relay sends it again.
                outbox.keep(self.db, task, payload, published=True)
            except Exception as exc:  # the database, not the broker: no cool-down, publish anyway
                log.warning("could not write %s ahead to the outbox (%s); publishing without it",
                            task, type(exc).__name__)
                self.publish(task, payload)  # the broker failing too leaves nowhere to keep it: raise
                return
            try:
                self.publish(task, payload)
                return
            except Exception as exc:  # any failure to hand over: keep it, never drop it
                if is_broker_error(exc):  # skip the broker for a while instead of waiting on it per click
                    self._skip_broker_until = time.monotonic() + self.cooldown_s
                error = f"{type(exc).__name__}: {exc}"
                log.warning("could not publish %s (%s); kept in the outbox", task, type(exc).__name__)
        outbox.keep(self.db, task, payload, error)

"""Deep health: can this process reach what it needs (the database, and Redis when configured)?

Used by ``/healthz`` (readiness: take a replica out of rotation while its database is gone).
``/livez`` answers without touching anything, so a database outage does not restart every pod.
Failure details name the exception and a first line with any credentials in URLs masked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, text

from bot.config import Settings

CHECK_TIMEOUT_S = 3
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")
_KEY_VALUE_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|api[_-]?key)=\S+")


def scrub(message: str) -> str:
    """A one-line, credential-free version of an error message."""
    line = (message.strip().splitlines() or [""])[0][:300]
    line = _URL_CREDENTIALS.sub(r"\1***@", line)
    return _KEY_VALUE_SECRET.sub(r"\1=***", line)


@dataclass
class Check:
    ok: bool
    detail: str
    ms: float


@dataclass
class Health:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unavailable",
                "checks": {name: {"ok": c.ok, "detail": c.detail, "ms": round(c.ms, 1)}
                           for name, c in self.checks.items()}}


def _database_engine(url: str) -> Engine:
    """A one-connection engine of its own, with a connect timeout, so probes never queue behind work."""
    if url.startswith("sqlite"):
        from bot.store.db import make_engine

        return make_engine(url)
    connect_args = {"connect_timeout": CHECK_TIMEOUT_S} if url.startswith("postgresql") else {}
    return create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True, pool_timeout=CHECK_TIMEOUT_S,
                         connect_args=connect_args)


class HealthChecker:
    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.resolved_database_url
        self.redis_url = settings.redis_url
        self._engine: Engine | None = None
        self._redis: Any | None = None

    def _timed(self, probe: Any) -> Check:
        started = time.perf_counter()
        try:
            probe()
            return Check(True, "ok", (time.perf_counter() - started) * 1000)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return Check(False, f"{type(exc).__name__}: {scrub(str(exc))}", elapsed)

    def _database(self) -> None:
        if self._engine is None:
            self._engine = _database_engine(self.database_url)
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _ping_redis(self) -> None:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=CHECK_TIMEOUT_S,
                                               socket_connect_timeout=CHECK_TIMEOUT_S)
        self._redis.ping()

    def outbox_pending(self) -> int:
        """Ratings and corrections waiting in the outbox (for the queue gauge)."""
        from sqlalchemy import func, select

        from bot.store.models import OutboxMessage

        if self._engine is None:
            self._engine = _database_engine(self.database_url)
        with self._engine.connect() as connection:
            query = (select(func.count()).select_from(OutboxMessage)
                     .where(OutboxMessage.delivered_at.is_(None)))
            return int(connection.scalar(query) or 0)

    def check(self) -> Health:
        health = Health({"database": self._timed(self._database)})
        if self.redis_url:
            health.checks["redis"] = self._timed(self._ping_redis)
        return health

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()

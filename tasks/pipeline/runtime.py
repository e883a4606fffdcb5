"""Per-process resources for worker code: the database handle and a Redis client.

Prefork children inherit the parent's objects; each process builds its own on first use, and
a child drops the inherited engine without closing the parent's connections.
"""

from __future__ import annotations

import os

from bot.config import get_settings
from bot.store.db import Database

_db: tuple[int, Database] | None = None
_redis: tuple[int, object] | None = None


def database() -> Database:
    global _db
    if _db is not None and _db[0] == os.getpid():
        return _db[1]
    if _db is not None:  # inherited across fork: the connections belong to the parent
        _db[1].engine.dispose(close=False)
    _db = (os.getpid(), Database(get_settings().resolved_database_url))
    return _db[1]


def redis_client():  # type: ignore[no-untyped-def]
    """A client for ``REDIS_URL``, or None when tasks run in-process."""
    global _redis
    url = get_settings().redis_url
    if not url:
        return None
    if _redis is None or _redis[0] != os.getpid():
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5))
    return _redis[1]


def reset() -> None:
    """Forget cached handles (tests that switch databases in one process)."""
    global _db, _redis
    if _db is not None and _db[0] == os.getpid():
        _db[1].dispose()
    _db = _redis = None

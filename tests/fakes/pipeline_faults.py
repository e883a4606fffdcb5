"""Faults injected into a real ``celery -A tasks worker`` (``--include tests.fakes.pipeline_faults``).

Test-only. Imported by the worker before it starts its pool, so every pool process has them:

* ``FAULT_REDIS_FAILURES`` = n: the first n Redis clients the tasks ask for (``tasks.pipeline.jobs``) point
  at ``FAULT_DEAD_PORT``, where nothing listens (a Redis blip: ``redis.exceptions.ConnectionError``).
* ``build_preferences(turn_ids=[-1])`` raises an ``IntegrityError`` (a constraint violation).

Each injected fault counts itself in the real Redis under ``<CELERY_QUEUE>:fault:<name>``.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from sqlalchemy.exc import IntegrityError

import tasks.pipeline.jobs as jobs
from tasks.data import preferences
from tasks.pipeline.runtime import redis_client as _real_client

INTEGRITY_TURN = -1


def _count(name: str) -> int:
    return int(_real_client().incr(f"{os.environ['CELERY_QUEUE']}:fault:{name}"))


def _flaky_client() -> Any:
    if _count("redis") <= int(os.environ.get("FAULT_REDIS_FAILURES", "0")):
        port = int(os.environ["FAULT_DEAD_PORT"])
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=1)
    return _real_client()


_real_build = preferences.build


def _build(db: Any, turn_ids: Any = None, **kwargs: Any) -> Any:
    if turn_ids is not None and list(turn_ids) == [INTEGRITY_TURN]:
        _count("integrity")
        raise IntegrityError(
            "INSERT INTO preference_pairs ...",
            {},
            Exception('duplicate key value violates unique constraint "uq_preference_pairs_dedup_key"'),
        )
    return _real_build(db, turn_ids, **kwargs)


jobs.redis_client = _flaky_client  # type: ignore[assignment]
preferences.build = _build  # type: ignore[assignment]

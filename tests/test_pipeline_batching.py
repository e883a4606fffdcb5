"""Per-click ratings stored in batches by a real worker (``tasks.batching``): one transaction for
many ``mockingbird.record_rating`` messages, acknowledged only after the commit.

To catch the worker between receiving a batch and committing it, the test holds a lock on the
ratings table: the worker's transaction waits on it, and the test kills the worker (or its pool
process, or its database connection) right there.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis
from sqlalchemy import func, select

from bot.config import Settings
from bot.store.db import Database
from bot.store.models import DeadLetter, OutboxMessage, Rating
from tasks import batching
from tasks.celery_app import make_app
from tasks.celery_sink import CelerySink
from tests.celery_support import celery_worker, child_pids, make_graded_turns, unacked, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _count(db: Database, model: type = Rating) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _rating(turn: int, user: str, value: int = 1) -> dict[str, object]:
    return {
        "turn_id": turn,
        "value": value,
        "rater": {"platform": "slack", "user_id": user},
        "idempotency_key": f"rating:{turn}:slack:{user}:{value}",
    }


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def _ratings_locked(url: str) -> Iterator[psycopg.Connection]:
    """Hold an exclusive lock on the ratings table until the block ends (then roll back)."""
    with psycopg.connect(_libpq(url)) as conn:
        conn.execute("LOCK TABLE ratings IN ACCESS EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            conn.rollback()


def _waiting_on_lock(url: str) -> list[int]:
    """Backends of this database blocked on a lock: the worker, inside its batch's transaction."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (name,)
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _queued_clicks(
    pg_url: str, redis_url: str, name: str, answers: int, raters: int, value: Callable[[int], int] = lambda n: 1
) -> tuple[Database, str, redis.Redis, list[dict[str, object]]]:
    """``raters`` clicks on each of ``answers`` graded answers, submitted to a fresh queue no worker reads yet."""
    turns = make_graded_turns(pg_url, answers)
    db = Database(pg_url)
    queue = f"mb-batch-{name}-{time.monotonic_ns()}"
    sink = CelerySink(db, Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue))
    clicks = [_rating(turn, f"U{n}", value(n)) for n in range(raters) for turn in turns]
    for payload in clicks:
        sink.submit("record_rating", payload)
    return db, queue, redis.Redis.from_url(redis_url), clicks


def test_arguments_that_do_not_fit_and_undecodable_bodies_are_named() -> None:
    assert batching._call("mockingbird.record_rating", [{"a": 1}], {}) == ({"a": 1}, None)
    payload, reason = batching._call("mockingbird.record_rating", [{"a": 1}, "extra"], {})
    assert payload == {"args": [{"a": 1}, "extra"], "kwargs": {}}
    assert reason == "TypeError: record_rating() takes 2 positional arguments but 3 were given"
    raw = json.dumps(["e25vdCBqc29u", "application/json", "base64"])  # what DRAIN returns: "{not json"
    payload, reason = batching._call("mockingbird.record_rating", *batching._decode(raw))
    assert payload == {"raw": "{not json"} and reason and reason.startswith("undecodable message")


def test_batches_retry_as_every_other_task_does() -> None:
    from tasks.jobs import PipelineTask

    assert batching.MAX_RETRIES == PipelineTask.max_retries
    waits = [batching.backoff(retries) for retries in (0, 3, 20) for _ in range(50)]
    assert all(0 <= wait <= PipelineTask.retry_backoff_max for wait in waits)
    assert max(waits[100:]) > PipelineTask.retry_backoff * 2**3  # capped at 5 min, not at 16 s


def test_messages_whose_arguments_are_null_are_named_not_a_crash() -> None:
    payload = _rating(1, "U1")
    body = base64.b64encode(json.dumps([[payload], None, {}]).encode()).decode()
    drained = json.dumps([body, "application/json", "base64"])  # as DRAIN returns it
    calls = [(drained, None, True), ([payload], None, False), (None, {}, False), ([payload], {}, False)]
    items = batching._items("mockingbird.record_rating", calls)
    assert [reason for _, reason in items[:3]] == [
        "TypeError: record_rating() got arguments it cannot take (list and NoneType)",
        "TypeError: record_rating() got arguments it cannot take (list and NoneType)",
        "TypeError: record_rating() got arguments it cannot take (NoneType and dict)",
    ]
    assert items[3] == (payload, None)


def test_a_batch_with_poison_stores_the_rest_and_dead_letters_the_poison(pg_url: str, redis_url: str) -> None:
    turns = make_graded_turns(pg_url, 10)
    db = Database(pg_url)
    queue = f"mb-batch-poison-{time.monotonic_ns()}"
    settings = Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue)
    sink, app = CelerySink(db, settings), make_app(settings)
    good = [_rating(turn, f"U{n}") for n in range(30) for turn in turns]  # 300 clicks
    for payload in good[:150]:
        sink.submit("record_rating", payload)
    sink.submit("record_rating", {**_rating(turns[0], "UBAD"), "value": 5})  # poison, written ahead too
    app.send_task("mockingbird.record_rating", args=(_rating(987654, "U1"),), queue=queue)
    app.send_task("mockingbird.record_rating", args=(_rating(turns[1], "U1"), "extra"), queue=queue)
    for payload in good[150:]:
        sink.submit("record_rating", payload)
    assert _count(db, OutboxMessage) == 301  # every click written ahead, until a worker confirms it
    with celery_worker(redis_url, pg_url, queue=queue) as worker:
        wait_for(lambda: _count(db, DeadLetter) == 3 and _count(db) == 300, 60, f"the batch ({worker.output[-600:]})")
        wait_for(lambda: unacked(redis.Redis.from_url(redis_url), queue) == 0, 10, "the acknowledgements")
    assert "stored {'stored': 300, 'withdrawn': 0, 'skipped': 0, 'dead': 3}" in worker.output  # one batch
    with db.session() as session:
        reasons = {d.reason: (d.task, d.payload) for d in session.scalars(select(DeadLetter))}
    assert reasons["malformed rating payload: value: Input should be less than or equal to 1"][0] == (
        "mockingbird.record_rating"
    )
    assert reasons["rating for unknown turn 987654"][1]["turn_id"] == 987654
    assert any(r.startswith("TypeError: record_rating() takes") for r in reasons)
    assert _count(db, OutboxMessage) == 0  # stored or dead-lettered: confirmed in the same transaction
    db.dispose()


def test_a_lone_click_is_stored_within_the_flush_interval(pg_url: str, redis_url: str) -> None:
    turn = make_graded_turns(pg_url, 1)[0]
    db = Database(pg_url)
    queue = f"mb-batch-lone-{time.monotonic_ns()}"
    sink = CelerySink(db, Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue))
    with celery_worker(redis_url, pg_url, queue=queue, concurrency=2):
        sink.submit("record_rating", _rating(turn, "U0"))  # warm up: the pool's first connection
        wait_for(lambda: _count(db) == 1, 30, "the first rating", interval=0.005)
        timings = []
        for n in range(1, 6):
            started = time.monotonic()
            sink.submit("record_rating", _rating(turn, f"U{n}"))
            wait_for(lambda n=n: _count(db) == n + 1, 5, "a lone rating", interval=0.005)
            timings.append(time.monotonic() - started)
            time.sleep(0.3)  # lone: the worker is idle again
    assert sorted(timings)[2] < batching.FLUSH_INTERVAL, timings  # median: sent at once, not after the interval
    db.dispose()


def test_a_worker_killed_between_receiving_and_committing_a_batch_loses_nothing(
    pg_url: str, redis_url: str
) -> None:
    db, queue, broker, clicks = _queued_clicks(pg_url, redis_url, "kill", 20, 25, lambda n: 1 if n % 3 else -1)  # 500
    options = {"concurrency": 1, "visibility_timeout": 3}
    with _ratings_locked(pg_url) as lock:
        with celery_worker(redis_url, pg_url, queue=queue, **options) as worker:
            wait_for(lambda: _waiting_on_lock(pg_url), 30, f"the batch's transaction ({worker.output[-400:]})")
            assert broker.llen(queue) == 0 and unacked(broker, queue) == 500  # all received, none acknowledged
            worker.kill()  # SIGKILL, worker and pool, before the commit
        for pid in _waiting_on_lock(pg_url):  # a backend blocked on a lock notices its dead client late
            lock.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert _count(db) == 0 and unacked(broker, queue) == 500 and _count(db, OutboxMessage) == 500
    with celery_worker(redis_url, pg_url, queue=queue, **options) as worker:  # redelivered after 3 s
        wait_for(lambda: _count(db) == 500 and _count(db, OutboxMessage) == 0, 60, f"all ({worker.output[-400:]})")
        wait_for(lambda: unacked(broker, queue) == 0 and broker.llen(queue) == 0, 10, "the acknowledgements")
    with db.session() as session:
        assert session.scalar(select(func.sum(Rating.value))) == sum(int(c["value"]) for c in clicks)  # type: ignore[misc]
    assert _count(db, DeadLetter) == 0
    db.dispose()


def test_a_lost_pool_process_requeues_its_batch_and_a_lost_database_is_retried(
    pg_url: str, redis_url: str
) -> None:
    db, queue, broker, _ = _queued_clicks(pg_url, redis_url, "lost", 10, 20)  # 200 clicks
    # A long visibility timeout: what comes back here comes back because the worker gave it back.
    with celery_worker(redis_url, pg_url, queue=queue, concurrency=1, visibility_timeout=3600) as worker:
        with _ratings_locked(pg_url) as lock:
            wait_for(lambda: _waiting_on_lock(pg_url), 30, "the batch's transaction")
            first = set(_waiting_on_lock(pg_url))
            os.kill(child_pids(worker.proc.pid)[0], signal.SIGKILL)  # the pool process dies mid-batch
            wait_for(lambda: "pool process lost" in worker.output, 30, f"the requeue ({worker.output[-400:]})")
            for pid in first:  # the dead process's backend (PostgreSQL notices a dead client late)
                lock.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(lambda: set(_waiting_on_lock(pg_url)) - first, 30, "the batch again, in a new pool process")
            # Now the database connection drops under the batch: a transient failure, retried.
            for pid in set(_waiting_on_lock(pg_url)) - first:
                lock.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(lambda: "to try again" in worker.output, 30, f"the retry ({worker.output[-400:]})")
        wait_for(lambda: _count(db) == 200, 60, f"all ratings ({worker.output[-400:]})")
        wait_for(lambda: unacked(broker, queue) == 0 and broker.llen(queue) == 0, 10, "the acknowledgements")
    assert _count(db, DeadLetter) == 0 and _count(db, OutboxMessage) == 0
    db.dispose()

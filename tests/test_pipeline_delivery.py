"""Delivery guarantees with real processes: a Celery worker on Redis, PostgreSQL, a crash, an outage.

Nothing here runs in eager mode: ratings travel through Redis to a ``celery -A tasks worker``
subprocess, which is killed with SIGKILL or cut off from a private redis-server.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from bot.config import Settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import DeadLetter, OutboxMessage, Rating, User
from chains.providers.offline import OfflineProvider
from tasks.pipeline import outbox
from tasks.pipeline.app import make_app
from tasks.pipeline.sink import CelerySink, publisher
from tests.celery_support import celery_worker, child_pids, make_graded_turns, redis_server, unacked, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Rating)) or 0


def _settings(redis_url: str, queue: str, **extra: object) -> Settings:
    return Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue, **extra)


def _ratings_by_rater(db: Database) -> dict[tuple[int, str], int]:
    """Every stored rating's value by (turn, the rater's platform user id)."""
    query = select(Rating.turn_id, User.platform_user_id, Rating.value).join(User, Rating.rater_id == User.id)
    with db.session() as session:
        return {(turn_id, uid): value for turn_id, uid, value in session.execute(query)}


def _outbox_rows(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0




@pytest.mark.timeout(480)
def test_ten_thousand_ratings_survive_a_sigkilled_worker(pg_url: str, redis_url: str) -> None:
    turns = make_graded_turns(pg_url, 100)
    db = Database(pg_url)
    queue = f"mb-crash-{time.monotonic_ns()}"
    sink = CelerySink(db, _settings(redis_url, queue))
    expected = {
        (turn_id, f"U{r:04d}"): 1 if (turn_id + r) % 3 else -1 for r in range(100) for turn_id in turns
    }

    def publish() -> None:  # ratings keep arriving through the bot's sink, crash or not
        for (turn_id, user), value in expected.items():
            sink.submit(
                "record_rating",
                {
                    "turn_id": turn_id,
                    "value": value,
                    "rater": {"platform": "slack", "user_id": user, "display_name": f"Rater {user}"},
                    "idempotency_key": f"rating:{turn_id}:slack:{user}:{value}",
                },
            )

    broker = redis.Redis.from_url(redis_url)
    clicks = threading.Thread(target=publish)
    # A short visibility timeout: messages a dead worker held come back within seconds.
    options = {"concurrency": 4, "prefetch": 8, "visibility_timeout": 3}
    with celery_worker(redis_url, pg_url, queue=queue, **options) as worker:
        clicks.start()
        wait_for(lambda: _count(db) >= 2_500, 180, "a quarter of the ratings to be stored")
        os.kill(child_pids(worker.proc.pid)[0], signal.SIGKILL)  # one pool process dies mid-task
        wait_for(lambda: _count(db) >= 5_000, 180, "half of the ratings to be stored")
        worker.kill()  # then the whole worker: SIGKILL to the main process and its pool
        stored_at_crash = _count(db)
    assert stored_at_crash < 10_000, "the worker must die with work left"
    clicks.join()

    relay_app = make_app(_settings(redis_url, queue))

    def settled() -> bool:  # all stored and confirmed, and nothing of this queue waiting or held
        drained = broker.llen(queue) == 0 and unacked(broker, queue) == 0
        if drained and _count(db) < 10_000:
            # What beat's relay does every 15 s: a message Redis lost when the worker died between
            # popping it and recording it as unacknowledged (kombu#305) is still in the outbox.
            outbox.relay(db, publisher(relay_app, queue), grace=timedelta(seconds=5))
        return _count(db) == 10_000 and drained and _outbox_rows(db) == 0

    with celery_worker(redis_url, pg_url, queue=queue, **options) as worker:
        try:
            wait_for(settled, 200, "all 10,000 ratings after the restart")
        except AssertionError as exc:
            state = (f"stored={_count(db)} queued={broker.llen(queue)} unacked={unacked(broker, queue)} "
                     f"outbox={_outbox_rows(db)}")
            raise AssertionError(f"{exc}: {state}\n{worker.output[-800:]}") from None
    stored = _ratings_by_rater(db)
    with db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Rating))
        dead = session.scalar(select(func.count()).select_from(DeadLetter))
    wrong = {key: (stored.get(key), value) for key, value in expected.items() if stored.get(key) != value}
    with db.session() as session:
        reasons = session.scalars(select(DeadLetter.reason).limit(3)).all()
    # every rating once, with its value
    assert (rows, len(wrong), dead) == (10_000, 0, 0), f"wrong: {list(wrong.items())[:3]}; dead: {reasons}"
    db.dispose()


def test_ratings_sent_while_redis_is_down_for_30s_are_delivered_when_it_is_back(pg_url: str) -> None:
    turns = make_graded_turns(pg_url, 40)
    db = Database(pg_url)
    with redis_server() as server:
        queue = f"mb-outage-{time.monotonic_ns()}"
        settings = _settings(server.url, queue)
        sink = CelerySink(db, settings, cooldown_s=2.0)
        engine = InterviewEngine(db, OfflineProvider(), settings, signals=sink)
        sent: dict[tuple[int, str], int] = {}

        def rate(n: int) -> None:
            turn_id, person = turns[n % len(turns)], Actor("slack", f"U{n // len(turns):04d}")
            value = 1 if n % 4 else -1
            engine.rate(turn_id, person, value)
            sent[(turn_id, person.user_id)] = value

        with celery_worker(server.url, pg_url, queue=queue) as worker:
            for n in range(20):
                rate(n)
            wait_for(lambda: _count(db) == 20, 30, "ratings sent while Redis is up")

            server.stop()
            outage_ends = time.monotonic() + 30
            n = 20
            while time.monotonic() < outage_ends:  # ratings keep arriving during the outage
                started = time.monotonic()
                rate(n)
                assert time.monotonic() - started < 3, "a click must not hang on a dead broker"
                n += 1
                time.sleep(0.1)
            with db.session() as session:
                kept = session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.delivered_at.is_(None))
                )
            assert kept == n - 20 and _count(db) == 20

            server.start()  # Redis is back, empty (it kept nothing: --save '')
            app = make_app(settings)
            app.send_task("mockingbird.relay_outbox", queue=queue)  # what beat does every 15 s
            wait_for(
                lambda: _count(db) == n, 90, f"all {n} ratings after the outage ({worker.output[-300:]})"
            )
        stored = _ratings_by_rater(db)
        with db.session() as session:
            pending = session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
            )
        assert stored == sent and pending == 0
    db.dispose()

"""The latest click wins, whatever order messages arrive in and however long the broker is down;
transient errors are retried and permanent ones dead-lettered (real Redis, PostgreSQL, workers)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, update

from bot.config import Settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import DeadLetter, OutboxMessage, Rating, User, utcnow
from chains.providers.offline import OfflineProvider
from tasks.pipeline import bulk, ingest, outbox
from tasks.pipeline.app import make_app
from tasks.pipeline.sink import CelerySink, is_broker_error, publisher
from tests.celery_support import celery_worker, free_port, make_graded_turns, wait_for

GOOD = (
    "When I was at my last company our checkout failed 3% of the time. My goal was to fix it within "
    "two weeks. I analysed the logs, I wrote a retry policy and I led the rollout. As a result "
    "failures dropped to 0.2%, and I learned to measure before changing anything."
)


def _graded_turn(engine: InterviewEngine, actor: Actor) -> int:
    started = engine.start(actor, role="backend", kind="behavioral", level="mid", questions=1)
    progress = engine.answer(started.session.id, actor, GOOD)
    assert progress.graded is not None
    return progress.graded.id


def _values(db: Database) -> dict[str, int]:
    with db.session() as session:
        return dict(
            session.execute(
                select(User.platform_user_id, Rating.value).join(User, Rating.rater_id == User.id)
            ).all()
        )


def _count(db: Database, table: Any) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _store_one(db: Database, payload: dict[str, Any]) -> None:
    ingest.record_rating(db, payload)


def _store_batch(db: Database, payload: dict[str, Any]) -> None:
    bulk.record_ratings(db, [payload])


@pytest.mark.parametrize("store", [_store_one, _store_batch], ids=["single", "batch"])
def test_a_late_older_click_or_withdraw_never_beats_a_repeated_newer_click(
    engine: InterviewEngine, database: Database, candidate: Actor, store: Any
) -> None:
    turn = _graded_turn(engine, candidate)
    now = utcnow()

    def click(user: str, value: int, seconds: int) -> None:
        at = (now + timedelta(seconds=seconds)).isoformat()
        store(database, {"turn_id": turn, "rater": {"platform": "slack", "user_id": user},
                         "value": value, "at": at})

    click("up-down-up", 1, 0)  # 👍 stored
    click("up-down-up", 1, 2)  # 👍 again (same value: the newer click time is stored all the same)
    click("up-down-up", -1, 1)  # the 👎 in between, delivered late from the outbox
    click("withdraw", 1, 0)
    click("withdraw", 1, 2)  # clicked again after withdrawing
    click("withdraw", 0, 1)  # the withdraw, delivered late
    click("withdrawn", 1, 0)
    click("withdrawn", 0, 1)  # a withdraw newer than the rating still withdraws it
    assert _values(database) == {"up-down-up": 1, "withdraw": 1}
    click("up-down-up", -1, 3)  # and a newer click still changes it
    assert _values(database)["up-down-up"] == -1


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_up_down_in_the_outbox_then_up_ends_up_for_fifty_people(pg_url: str, redis_url: str) -> None:
    (turn,) = make_graded_turns(pg_url, 1)
    db = Database(pg_url)
    people = [Actor("slack", f"U{n:02d}") for n in range(50)]
    try:
        with celery_worker(redis_url, pg_url) as worker:
            settings = Settings(REDIS_URL=redis_url, CELERY_QUEUE=worker.queue)
            live = InterviewEngine(db, OfflineProvider(), settings, signals=CelerySink(db, settings))
            blip = Settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", CELERY_QUEUE=worker.queue)
            down = InterviewEngine(db, OfflineProvider(), settings, signals=CelerySink(db, blip, cooldown_s=600))

            for person in people:
                live.rate(turn, person, 1)
            wait_for(lambda: _count(db, OutboxMessage) == 0 and len(_values(db)) == 50, 60,
                     f"the first 👍 stored and confirmed ({worker.output[-300:]})")
            for n, person in enumerate(people):  # Redis blips: 👎 (or a withdraw) kept in the outbox
                down.rate(turn, person, -1 if n % 2 else 0)
            assert _count(db, OutboxMessage) == 50
            for person in people:  # Redis is back: 👍 again, stored at once
                live.rate(turn, person, 1)
            wait_for(lambda: _count(db, OutboxMessage) == 50, 60,
                     f"the second 👍 stored and confirmed, the outage's clicks waiting ({worker.output[-300:]})")

            make_app(settings).send_task("mockingbird.relay_outbox", queue=worker.queue)  # what beat does
            wait_for(lambda: _count(db, OutboxMessage) == 0, 60,
                     f"the relay's late clicks stored ({worker.output[-300:]})")
        assert _values(db) == {person.user_id: 1 for person in people}
        assert _count(db, DeadLetter) == 0
    finally:
        db.dispose()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_a_broker_outage_longer_than_the_attempt_budget_loses_nothing(pg_url: str, redis_url: str) -> None:
    turns = make_graded_turns(pg_url, 4)
    db = Database(pg_url)
    payloads = [
        {"turn_id": turn, "rater": {"platform": "slack", "user_id": f"U{n}"}, "value": 1 if n % 2 else -1,
         "at": utcnow().isoformat(), "idempotency_key": f"rating:{turn}:slack:U{n}:x"}
        for n, turn in enumerate(turns * 5)
    ]
    for n, payload in enumerate(payloads):  # half published before the outage (then lost), half kept
        outbox.keep(db, "record_rating", payload, published=n % 2 == 0)
    with db.session() as session:  # the published ones are long overdue for a republish
        session.execute(update(OutboxMessage).where(OutboxMessage.delivered_at.is_not(None))
                        .values(delivered_at=utcnow() - timedelta(hours=3)))

    with celery_worker(redis_url, pg_url) as worker:
        settings = Settings(REDIS_URL=redis_url, CELERY_QUEUE=worker.queue)
        dead = Settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", CELERY_QUEUE=worker.queue)
        down_publish = publisher(make_app(dead), worker.queue)  # a closed port: the broker is down
        up_publish = publisher(make_app(settings), worker.queue)
        broker_up = threading.Event()
        outage_runs = threading.Event()
        stop = threading.Event()
        runs: list[outbox.RelayResult] = []
        failures: list[BaseException] = []

        def publish(task: str, payload: Any) -> None:
            (up_publish if broker_up.is_set() else down_publish)(task, payload)

        def loop() -> None:  # `mockingbird outbox relay --loop`, with a short interval
            try:
                while not stop.is_set():
                    runs.append(outbox.relay(db, publish, is_broker_error=is_broker_error,
                                             grace=timedelta(minutes=10)))
                    if sum(r.broker_down for r in runs) > outbox.MAX_ATTEMPTS + 1:
                        outage_runs.set()
                    stop.wait(0.05)
            except BaseException as exc:  # surfaced by the test below
                failures.append(exc)
                outage_runs.set()

        relay = threading.Thread(target=loop, daemon=True)
        relay.start()
        try:
            assert outage_runs.wait(120), "the relay did not run through the outage"
            assert not failures, failures
            assert _count(db, DeadLetter) == 0 and _count(db, OutboxMessage) == len(payloads)
            with db.session() as session:
                assert set(session.scalars(select(OutboxMessage.attempts))) == {0}  # outages are no attempts
            broker_up.set()
            wait_for(lambda: _count(db, OutboxMessage) == 0, 90,
                     f"everything delivered once the broker is back ({worker.output[-300:]})")
        finally:
            stop.set()
            relay.join(30)
    assert not failures, failures
    assert _count(db, DeadLetter) == 0
    with db.session() as session:
        stored = session.scalar(select(func.count()).select_from(Rating))
    assert stored == len({(p["turn_id"], p["rater"]["user_id"]) for p in payloads})  # type: ignore[index]
    db.dispose()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_a_redis_blip_is_retried_and_an_integrity_error_is_dead_lettered_at_once(
    pg_url: str, redis_url: str
) -> None:
    (turn,) = make_graded_turns(pg_url, 1)
    db = Database(pg_url)
    client = redis.Redis.from_url(redis_url)
    extra_env = {"FAULT_REDIS_FAILURES": "2", "FAULT_DEAD_PORT": str(free_port())}
    try:
        with celery_worker(redis_url, pg_url, extra_env=extra_env,
                           extra_args=["--include", "tests.fakes.pipeline_faults"]) as worker:
            app = make_app(Settings(REDIS_URL=redis_url, CELERY_QUEUE=worker.queue))
            dirty = f"{worker.queue}:dirty-turns"
            client.sadd(dirty, turn)
            app.send_task("mockingbird.build_preferences", queue=worker.queue)
            wait_for(lambda: client.scard(dirty) == 0 or _count(db, DeadLetter) > 0, 90,
                     f"build_preferences to succeed after two Redis errors ({worker.output[-600:]})")
            assert _count(db, DeadLetter) == 0 and client.scard(dirty) == 0
            assert int(client.get(f"{worker.queue}:fault:redis") or 0) == 3  # failed twice, then worked
            assert _count(db, DeadLetter) == 0

            app.send_task("mockingbird.build_preferences", kwargs={"turn_ids": [-1]}, queue=worker.queue)
            wait_for(lambda: _count(db, DeadLetter) == 1, 60,
                     f"the IntegrityError dead-lettered ({worker.output[-600:]})")
            with db.session() as session:
                (letter,) = session.scalars(select(DeadLetter)).all()
            assert letter.task == "mockingbird.build_preferences"
            assert letter.reason.startswith("IntegrityError") and "gave up" not in letter.reason
            assert int(client.get(f"{worker.queue}:fault:integrity") or 0) == 1  # not retried
        assert "Retry in" in "\n".join(worker.lines)  # the Redis errors were retried with backoff
    finally:
        db.dispose()

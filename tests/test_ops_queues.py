"""Queue depth from the real broker (Redis, messages published by Celery) and the outbox backlog."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.ops import start_ops_server
from bot.ops.queues import QueueCollector, discover_queues, queue_depths
from bot.store.db import Database
from bot.store.models import OutboxMessage, utcnow

pytestmark = pytest.mark.redis


@pytest.fixture
def producer(redis_url: str) -> Iterator[Celery]:
    app = Celery("ops-queue-test", broker=redis_url)
    app.conf.broker_connection_retry_on_startup = False
    yield app
    app.close()


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    name = f"ops-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, *[f"{name}\x06\x16{p}" for p in (3, 6, 9)])


def test_depth_counts_waiting_tasks_in_every_priority(producer: Celery, queue: str, redis_url: str) -> None:
    for _ in range(3):
        producer.send_task("mockingbird.nothing", queue=queue)
    producer.send_task("mockingbird.nothing", queue=queue, priority=9)
    client = redis.Redis.from_url(redis_url)
    assert queue in discover_queues(client, ())  # found through kombu's binding table, not configured
    assert queue_depths(client, ())[queue] == 4
    assert queue_depths(client, ("never-used-queue",))["never-used-queue"] == 0


def test_broadcast_queues_are_left_out(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"_kombu.binding.{uuid.uuid4().hex[:6]}.pidbox"
    client.sadd(key, "\x06\x16\x06\x16worker1.celery.pidbox")
    try:
        assert not any(name.endswith("pidbox") for name in discover_queues(client))
    finally:
        client.delete(key)


def test_metrics_endpoint_reports_queue_depth(
    producer: Celery, queue: str, redis_url: str, sqlite_db: Database
) -> None:
    producer.send_task("mockingbird.nothing", queue=queue)
    producer.send_task("mockingbird.nothing", queue=queue)
    server = start_ops_server(
        Settings(DATABASE_URL=sqlite_db.url, REDIS_URL=redis_url), port=0, host="127.0.0.1"
    )
    assert server is not None
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10).read().decode()
    finally:
        server.stop()
    depth = {
        s.labels["queue"]: s.value
        for f in text_string_to_metric_families(body)
        if f.name == "mockingbird_queue_depth"
        for s in f.samples
    }
    assert depth[queue] == 2
    assert "mockingbird" in depth  # the configured CELERY_QUEUE is always reported


def test_outbox_backlog_counts_undelivered_messages(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        for n in range(3):
            session.add(
                OutboxMessage(
                    task="record_rating",
                    payload={"n": n},
                    idempotency_key=f"k{n}",
                    delivered_at=utcnow() if n == 0 else None,
                )
            )
    from bot.ops.health import HealthChecker

    checker = HealthChecker(Settings(DATABASE_URL=sqlite_db.url))
    registry = CollectorRegistry()
    registry.register(QueueCollector(None, outbox=checker.outbox_pending))
    try:
        assert registry.get_sample_value("mockingbird_outbox_pending") == 2
        assert registry.get_sample_value("mockingbird_queue_scrape_errors", {"source": "database"}) == 0
    finally:
        checker.close()


def test_an_unreadable_source_is_reported_not_raised() -> None:
    def broken() -> int:
        raise ConnectionError("database is gone")

    registry = CollectorRegistry()
    registry.register(QueueCollector("redis://127.0.0.1:1/0", outbox=broken))
    assert registry.get_sample_value("mockingbird_queue_scrape_errors", {"source": "redis"}) == 1
    assert registry.get_sample_value("mockingbird_queue_scrape_errors", {"source": "database"}) == 1

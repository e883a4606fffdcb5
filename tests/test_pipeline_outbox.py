"""The Celery sink and the outbox relay against real Redis (and a Redis that is not there)."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, text

from bot.config import Settings
from bot.store.db import Database
from bot.store.models import DeadLetter, OutboxMessage
from tasks.pipeline import outbox
from tasks.pipeline.app import make_app
from tasks.pipeline.sink import CelerySink, is_broker_error, publisher
from tests.celery_support import free_port

pytestmark = pytest.mark.redis


def _payload(turn: int = 1, user: str = "U1", value: int = 1) -> dict[str, object]:
    return {
        "turn_id": turn,
        "value": value,
        "rater": {"platform": "slack", "user_id": user},
        "idempotency_key": f"rating:{turn}:slack:{user}:{value}",
    }


def _rows(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_sink_publishes_to_its_queue(sqlite_db: Database, redis_url: str) -> None:
    queue = f"mb-sink-{time.monotonic_ns()}"
    CelerySink(sqlite_db, Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue)).submit(
        "record_rating", _payload()
    )
    message = json.loads(redis.Redis.from_url(redis_url).lpop(queue))
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert message["headers"]["task"] == "mockingbird.record_rating"
    assert message["headers"]["argsrepr"] == "(turn 1)"  # logs show the turn, not the person
    assert args[0]["turn_id"] == 1 and args[0]["at"] and kwargs == {}
    (ahead,) = _rows(sqlite_db)  # written ahead, published, waiting for a worker to confirm it
    click_key = f"{_payload()['idempotency_key']}@{args[0]['at']}"  # one key per click
    assert ahead.delivered_at is not None and ahead.idempotency_key == args[0]["idempotency_key"] == click_key
    with sqlite_db.session() as session:
        assert outbox.pending(session) == 0


def test_published_signals_no_worker_confirms_are_sent_again(sqlite_db: Database) -> None:
    sent: list[tuple[str, object]] = []
    outbox.keep(sqlite_db, "record_rating", _payload(user="U1"), published=True)
    outbox.keep(sqlite_db, "record_rating", _payload(user="U2"), published=True)
    outbox.confirm(sqlite_db, [_payload(user="U2")["idempotency_key"]])  # a worker stored U2
    assert outbox.relay(sqlite_db, lambda t, p: sent.append((t, p))).delivered == 0  # within the grace
    result = outbox.relay(sqlite_db, lambda t, p: sent.append((t, p)), grace=timedelta(0))
    assert result.delivered == 1 and [p["rater"]["user_id"] for _, p in sent] == ["U1"]  # type: ignore[index]
    for _ in range(outbox.MAX_ATTEMPTS):  # never confirmed: eventually a dead letter, with the reason
        outbox.relay(sqlite_db, lambda t, p: None, grace=timedelta(0))
    assert _rows(sqlite_db) == []
    with sqlite_db.session() as session:
        (dead,) = session.scalars(select(DeadLetter)).all()
    assert dead.reason == "published 5 times but never confirmed by a worker"


def test_the_sink_keeps_signals_in_the_outbox_when_redis_is_unreachable(sqlite_db: Database) -> None:
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    sink = CelerySink(sqlite_db, Settings(REDIS_URL=dead_broker, CELERY_QUEUE="mb-nowhere"), cooldown_s=60)
    started = time.monotonic()
    sink.submit("record_rating", _payload(value=1))
    assert time.monotonic() - started < 5
    started = time.monotonic()
    sink.submit("record_rating", _payload(value=-1))  # within the cool-down: straight to the outbox
    assert time.monotonic() - started < 0.5
    sink.submit("record_rating", _payload(value=1))  # changed back: a click of its own, kept too
    rows = _rows(sqlite_db)
    assert [r.payload["value"] for r in rows] == [1, -1, 1]
    assert len({r.idempotency_key for r in rows}) == 3  # settling the first never deletes the third
    assert rows[0].last_error and all(r.delivered_at is None and r.payload["at"] for r in rows)


def test_the_relay_delivers_in_order_and_stops_at_a_dead_broker(sqlite_db: Database, redis_url: str) -> None:
    for user in ("U1", "U2", "U3"):
        outbox.keep(sqlite_db, "record_rating", _payload(user=user))
    down = make_app(Settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", CELERY_QUEUE="mb-nowhere"))
    result = outbox.relay(sqlite_db, publisher(down, "mb-nowhere"), is_broker_error=is_broker_error)
    assert result.broker_down and result.delivered == 0 and result.pending == 3
    assert _rows(sqlite_db)[0].attempts == 0  # an outage is not a delivery attempt
    assert _rows(sqlite_db)[0].last_error

    queue = f"mb-relay-{time.monotonic_ns()}"
    up = make_app(Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue))
    result = outbox.relay(sqlite_db, publisher(up, queue), is_broker_error=is_broker_error)
    assert (result.delivered, result.pending, result.broker_down) == (3, 0, False)
    queued = [json.loads(m)["headers"] for m in redis.Redis.from_url(redis_url).lrange(queue, 0, -1)]
    assert [(h["task"], h["argsrepr"]) for h in queued] == [("mockingbird.record_ratings", "(3 ratings)")]
    assert outbox.relay(sqlite_db, publisher(up, queue), is_broker_error=is_broker_error).delivered == 0


def test_a_row_that_can_never_be_sent_becomes_a_dead_letter(sqlite_db: Database) -> None:
    outbox.keep(sqlite_db, "record_rating", _payload())

    def refuse(task: str, payload: dict[str, object]) -> None:  # stands in for a message the broker rejects
        raise ValueError("message too large")

    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.relay(sqlite_db, refuse, is_broker_error=is_broker_error)
    assert _rows(sqlite_db) == []
    with sqlite_db.session() as session:
        (dead,) = session.scalars(select(DeadLetter)).all()
    assert "outbox gave up after 5 attempts: ValueError: message too large" == dead.reason


def test_a_database_error_writing_the_outbox_is_not_a_broker_outage(sqlite_db: Database, redis_url: str) -> None:
    with sqlite_db.session() as session:  # the outbox cannot be written (the database, not Redis)
        session.execute(text("DROP TABLE outbox"))
    queue = f"mb-sink-dberr-{time.monotonic_ns()}"
    sink = CelerySink(sqlite_db, Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue), cooldown_s=60)
    sink.submit("record_rating", _payload(value=1))
    sink.submit("record_rating", _payload(value=-1))  # no cool-down: the broker is not skipped
    queued = redis.Redis.from_url(redis_url).lrange(queue, 0, -1)
    assert len(queued) == 2 and sink._skip_broker_until == 0.0

"""Poison messages: a real worker stores each in the dead-letter table with a clear reason and goes on."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Exchange, Producer
from sqlalchemy import func, select

from bot.config import Settings
from bot.store.db import Database
from bot.store.models import DeadLetter, Rating
from tasks.pipeline.app import make_app
from tests.celery_support import celery_worker, make_graded_turns, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _rater(user_id: str = "U1") -> dict[str, str]:
    return {"platform": "slack", "user_id": user_id}


def test_malformed_payloads_become_dead_letters_with_clear_reasons(pg_url: str, redis_url: str) -> None:
    turn = make_graded_turns(pg_url, 1)[0]
    queue = f"mb-poison-{time.monotonic_ns()}"
    app = make_app(Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue))
    db = Database(pg_url)
    cases = [
        (
            "mockingbird.record_rating",
            ({"turn_id": turn, "value": 1},),
            "malformed rating payload: rater: Field required",
        ),
        (
            "mockingbird.record_rating",
            ({"turn_id": turn, "value": 5, "rater": _rater()},),
            "malformed rating payload: value: Input should be less than or equal to 1",
        ),
        ("mockingbird.record_rating", ("not a payload",), "malformed rating payload: "),
        (
            "mockingbird.record_rating",
            ({"turn_id": 987654, "value": 1, "rater": _rater()},),
            "rating for unknown turn 987654",
        ),
        (
            "mockingbird.record_correction",
            ({"turn_id": turn, "recruiter": _rater(), "feedback": {"score": 4}},),
            "malformed correction payload: feedback.summary: Field required",
        ),
        (
            "mockingbird.record_correction",
            ({"turn_id": turn, "recruiter": _rater(), "feedback": {"score": 4, "summary": "Fine."}},),
            "corrections must come from a recruiter",
        ),
        (
            "mockingbird.record_rating",
            ({"turn_id": turn, "value": 1, "rater": _rater()}, "extra"),
            "TypeError",
        ),
        ("mockingbird.no_such_task", ({"turn_id": turn},), "unknown task 'mockingbird.no_such_task'"),
    ]
    for name, args, _ in cases:
        app.send_task(name, args=args, queue=queue)
    with Connection(redis_url) as conn:  # a body that is not JSON at all
        Producer(conn).publish(
            b"{not json",
            exchange=Exchange(queue, type="direct"),
            routing_key=queue,
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "mockingbird.record_rating", "id": "broken-1"},
            declare=[],
        )
    app.send_task(
        "mockingbird.record_rating", args=({"turn_id": turn, "value": 1, "rater": _rater("U2")},), queue=queue
    )  # a good message after the bad ones is still processed

    def dead() -> list[DeadLetter]:
        with db.session() as session:
            return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))

    with celery_worker(redis_url, pg_url, queue=queue) as worker:
        wait_for(lambda: len(dead()) == len(cases) + 1, 60, f"dead letters ({worker.output[-500:]})")
        with db.session() as session:
            wait_for(
                lambda: (session.scalar(select(func.count()).select_from(Rating)) or 0) == 1,
                30,
                "the good rating",
            )
    reasons = {(d.task, d.reason) for d in dead()}
    for name, _args, expected in cases:
        assert any(task == name and expected in reason for task, reason in reasons), (expected, reasons)
    undecodable = [d for d in dead() if "undecodable" in d.reason]
    assert len(undecodable) == 1 and undecodable[0].payload == {"raw": "{not json"}
    assert undecodable[0].task == "mockingbird.record_rating"
    by_reason = {d.reason: d.payload for d in dead()}
    assert by_reason["rating for unknown turn 987654"]["turn_id"] == 987654  # the payload is kept as sent
    db.dispose()

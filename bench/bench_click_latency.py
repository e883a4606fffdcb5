"""Benchmark: click -> stored latency of 👍 / 👎 ratings through one Celery worker into PostgreSQL.

    python bench/bench_click_latency.py [--rate 100] [--seconds 20] [--concurrency 2] [--json]

A person clicking 👍 cares how soon the rating is stored, not how many thousand a second a worker
could store: clicks arrive at a few per second even in a busy workspace. So this measures, at a
steady ``--rate`` clicks a second (open loop: each click is sent at its scheduled time whether
or not earlier ones are stored), the time from the click to the commit that stores it:

* the click: the bot's ``CelerySink.submit`` (written ahead to the outbox, one
  ``mockingbird.record_rating`` message published to Redis), timed from just before the call;
* stored: the commit of the worker's transaction, seen as a PostgreSQL ``NOTIFY`` from a trigger
  on ``ratings`` (notifications are delivered at commit), received by a listener in this process.

One ``celery -A tasks worker`` (prefork, ``--concurrency``), one rating per task, acknowledged
after the commit. Beside it, in the same run, the *baseline*: the same storage function
(``tasks.pipeline.ingest.record_rating``) called directly in this process, one click after another, which
is the floor the queue adds to. A fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards)
and the Redis on 127.0.0.1:6379 (a private queue in database 14).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import psycopg  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from tasks.pipeline.ingest import record_rating  # noqa: E402
from tasks.pipeline.sink import CelerySink  # noqa: E402
from tests.celery_support import celery_worker, fresh_postgres, make_graded_turns, wait_for  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
WARMUP = 100

_TRIGGER = """
CREATE FUNCTION bench_stored() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('stored', NEW.turn_id || ':' || NEW.rater_id); RETURN NEW; END
$$ LANGUAGE plpgsql;
CREATE TRIGGER bench_stored AFTER INSERT ON ratings FOR EACH ROW EXECUTE FUNCTION bench_stored();
"""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Listener(threading.Thread):
    """Records when each rating's commit is announced (``turn:rater`` -> monotonic time)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(_libpq(url), autocommit=True)
        self.conn.execute("LISTEN stored")
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for note in self.conn.notifies(timeout=0.2):
                self.seen[note.payload] = time.monotonic()


def _payload(turn: int, click: int) -> dict[str, Any]:
    return {"turn_id": turn, "value": 1, "rater": {"platform": "slack", "user_id": f"B{click:06d}"}}


def _rater_ids(db: Database, n: int) -> dict[str, int]:
    from sqlalchemy import select

    from bot.store.models import User

    with db.session() as session:
        rows = session.execute(select(User.platform_user_id, User.id).where(User.platform_user_id.like("B%")))
        return {name: int(user_id) for name, user_id in rows}


def _percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1),
            "max_ms": round(max(samples) * 1000, 1)}


def through_worker(db: Database, url: str, turns: list[int], rate: float, seconds: float,
                   concurrency: int, first: int) -> dict[str, Any]:
    """Clicks at ``rate``/s through the sink and one worker; latency from each click to its commit."""
    queue = f"mb-bench-{uuid.uuid4().hex[:8]}"
    sink = CelerySink(db, Settings(REDIS_URL=REDIS, CELERY_QUEUE=queue))
    listener = Listener(url)
    listener.start()
    clicks = int(rate * seconds)
    sent: dict[int, tuple[int, float]] = {}

    def click_at(rate: float, numbers: range) -> float:
        start = time.monotonic() + 0.2
        for i, n in enumerate(numbers):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            turn = turns[n % len(turns)]
            sent[n] = (turn, time.monotonic())
            sink.submit("record_rating", _payload(turn, n))
        return max(time.monotonic() - (start + (len(numbers) - 1) / rate), 0.0)

    with celery_worker(REDIS, url, queue=queue, concurrency=concurrency):
        # Warm up: the pool processes import and connect on their first tasks (not what a click
        # on a running deployment sees); the warm-up clicks are not counted.
        click_at(rate, range(first - WARMUP, first))
        wait_for(lambda: len(listener.seen) >= WARMUP, 120, "the warm-up clicks stored", interval=0.05)
        sent.clear()
        lag = click_at(rate, range(first, first + clicks))
        wait_for(lambda: len(listener.seen) >= WARMUP + clicks, 120, "every rating stored", interval=0.05)
    listener.stop.set()
    listener.join()
    listener.conn.close()
    ids = _rater_ids(db, clicks)
    latencies = [listener.seen[f"{turn}:{ids[f'B{n:06d}']}"] - at for n, (turn, at) in sent.items()]
    tenth = max(1, clicks // 10)
    return {"clicks": clicks, "sender_lag_s": round(lag, 3), **_percentiles(latencies),
            "first_tenth_p50_ms": round(statistics.median(latencies[:tenth]) * 1000, 1),
            "last_tenth_p50_ms": round(statistics.median(latencies[-tenth:]) * 1000, 1)}


def direct(db: Database, turns: list[int], clicks: int, first: int) -> dict[str, Any]:
    """The baseline: the same storage function, called in this process, one click at a time."""
    latencies = []
    for i in range(clicks):
        started = time.monotonic()
        record_rating(db, _payload(turns[i % len(turns)], first + i))
        latencies.append(time.monotonic() - started)
    return {"clicks": clicks, **_percentiles(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="clicks per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's pool processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with fresh_postgres(PG) as url:
        turns = make_graded_turns(url, 100)
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute(_TRIGGER)
        db = Database(url)
        baseline = direct(db, turns, 500, first=0)
        worker = through_worker(db, url, turns, args.rate, args.seconds, args.concurrency, first=10_000)
        db.dispose()
    figures = {"rate": args.rate, "concurrency": args.concurrency, "worker": worker, "direct": baseline,
               "load_average": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{worker['clicks']} clicks at {args.rate:g}/s, one worker (--concurrency {args.concurrency}), PostgreSQL")
    print(f"  click -> stored (worker)   p50 {worker['p50_ms']} ms  p99 {worker['p99_ms']} ms  "
          f"max {worker['max_ms']} ms  (sender fell behind by {worker['sender_lag_s']} s)")
    print(f"  median of the first / last tenth of clicks: {worker['first_tenth_p50_ms']} / "
          f"{worker['last_tenth_p50_ms']} ms (a growing figure means a backlog)")
    print(f"  direct call (baseline)     p50 {baseline['p50_ms']} ms  p99 {baseline['p99_ms']} ms  "
          f"max {baseline['max_ms']} ms")
    print(f"  load average {figures['load_average']:.1f}")


if __name__ == "__main__":
    main()

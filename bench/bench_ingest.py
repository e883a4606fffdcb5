"""Benchmark: rating ingestion through one Celery worker into PostgreSQL, beside a raw bulk insert.

    python bench/bench_ingest.py [--ratings 10000] [--concurrency 2] [--batch 500] [--json]

In one run, on a fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards) and the Redis
on 127.0.0.1:6379 (a private queue in database 14):

* raw: the same rating rows written with one executemany INSERT (SQLAlchemy batches it into
  multi-row statements), one transaction;
* per-message: every rating published through the bot's ``CelerySink`` (one
  ``mockingbird.record_rating`` message each, as clicks arrive, each written ahead to the outbox),
  then consumed by one ``celery -A tasks worker`` (prefork, ``--concurrency``), which stores them
  in batches (``tasks.batching``: up to ``FLUSH_EVERY`` messages per transaction, outbox rows
  deleted in it): timed from the worker being ready to the last rating stored;
* batched: the same ratings as ``record_ratings`` messages of ``--batch`` each (how the outbox
  relay sends a backlog), consumed by the same kind of worker.

The worker stores every message durably (a committed transaction) before acknowledging it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from sqlalchemy import delete, func, insert, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Rating, User, UserRole, utcnow  # noqa: E402
from tasks.batching import FLUSH_EVERY  # noqa: E402
from tasks.celery_app import make_app  # noqa: E402
from tasks.celery_sink import CelerySink, publisher  # noqa: E402
from tests.celery_support import celery_worker, fresh_postgres, make_graded_turns, wait_for  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")


def _count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Rating)) or 0


def _payloads(turns: list[int], n: int) -> list[dict[str, Any]]:
    raters = max(1, n // len(turns))
    return [
        {
            "turn_id": turns[i % len(turns)],
            "value": 1 if i % 3 else -1,
            "rater": {"platform": "slack", "user_id": f"U{i // len(turns):05d}"},
        }
        for i in range(raters * len(turns))
    ]


def raw_insert(db: Database, payloads: list[dict[str, Any]]) -> float:
    """Rows/s for the same rating rows written directly (users created beforehand, not timed)."""
    with db.session() as session:
        ids = {}
        for p in payloads:
            key = p["rater"]["user_id"]
            if key not in ids:
                ids[key] = None
        session.execute(
            insert(User),
            [
                {
                    "platform": "slack",
                    "platform_user_id": k,
                    "role": UserRole.candidate,
                    "created_at": utcnow(),
                }
                for k in ids
            ],
        )
    with db.session() as session:
        user_ids = dict(
            session.execute(select(User.platform_user_id, User.id).where(User.platform == "slack")).all()
        )
    now = utcnow()
    rows = [
        {
            "turn_id": p["turn_id"],
            "rater_id": user_ids[p["rater"]["user_id"]],
            "value": p["value"],
            "created_at": now,
            "updated_at": now,
        }
        for p in payloads
    ]
    started = time.perf_counter()
    with db.session() as session:  # SQLAlchemy's executemany: batched multi-row INSERTs ("insertmanyvalues")
        session.execute(insert(Rating), rows)
    elapsed = time.perf_counter() - started
    with db.session() as session:
        session.execute(delete(Rating))
    return len(rows) / elapsed


def through_worker(
    db: Database, url: str, payloads: list[dict[str, Any]], concurrency: int, batch: int | None
) -> dict[str, float]:
    queue = f"mb-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(REDIS_URL=REDIS, CELERY_QUEUE=queue)
    started = time.perf_counter()
    if batch is None:
        sink = CelerySink(db, settings)
        for payload in payloads:
            sink.submit("record_rating", payload)
    else:
        publish = publisher(make_app(settings), queue)
        for i in range(0, len(payloads), batch):
            publish("record_ratings", payloads[i : i + batch])
    published = time.perf_counter() - started
    with celery_worker(REDIS, url, queue=queue, concurrency=concurrency, prefetch=8) as worker:
        started = time.perf_counter()
        wait_for(lambda: _count(db) == len(payloads), 1800, "every rating", interval=0.02)
        consumed = time.perf_counter() - started
    with db.session() as session:
        session.execute(delete(Rating))
    sizes = [int(n) for n in re.findall(r"record_rating: batch of (\d+) stored", "\n".join(worker.lines))]
    return {
        "publish_per_s": len(payloads) / published,
        "store_per_s": len(payloads) / consumed,
        "transactions": len(sizes),
        "mean_batch": sum(sizes) / len(sizes) if sizes else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with fresh_postgres(PG) as url:
        turns = make_graded_turns(url, 100)
        db = Database(url)
        payloads = _payloads(turns, args.ratings)
        raw = raw_insert(db, payloads)
        single = through_worker(db, url, payloads, args.concurrency, None)
        batched = through_worker(db, url, payloads, args.concurrency, args.batch)
        db.dispose()
    figures = {
        "ratings": len(payloads),
        "concurrency": args.concurrency,
        "batch": args.batch,
        "raw_rows_per_s": round(raw),
        "per_message_store_per_s": round(single["store_per_s"]),
        "per_message_publish_per_s": round(single["publish_per_s"]),
        "per_message_transactions": single["transactions"],
        "per_message_mean_batch": round(single["mean_batch"]),
        "flush_every": FLUSH_EVERY,
        "batched_store_per_s": round(batched["store_per_s"]),
        "per_message_vs_raw": round(single["store_per_s"] / raw, 3),
        "batched_vs_raw": round(batched["store_per_s"] / raw, 3),
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['ratings']} ratings, one worker (--concurrency {args.concurrency}), PostgreSQL")
    print(f"  raw bulk insert        {figures['raw_rows_per_s']:>9,} rows/s")
    print(
        f"  per-message via Celery {figures['per_message_store_per_s']:>9,} ratings/s "
        f"({figures['per_message_vs_raw']:.1%} of raw; publishing {figures['per_message_publish_per_s']:,}/s; "
        f"{figures['per_message_transactions']} transactions, {figures['per_message_mean_batch']} per batch)"
    )
    print(
        f"  batched ({args.batch}/message)   {figures['batched_store_per_s']:>9,} ratings/s "
        f"({figures['batched_vs_raw']:.1%} of raw)"
    )
    print(f"  load average {figures['load_average']:.1f}")


if __name__ == "__main__":
    main()

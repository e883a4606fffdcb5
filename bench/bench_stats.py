"""Benchmark: team-lead statistics (``compute_stats``) over a large window of ratings.

    python bench/bench_stats.py [--sessions 100000] [--days 7,30,90] [--repeat 3] [--json]

A fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards) gets ``--sessions`` completed
interviews spread over the last 90 days, three graded turns each (three model versions) and one
rating per turn, loaded with ``generate_series``. For each window the benchmark times
``compute_stats`` by role and by model (what ``/interview-stats`` runs) against a baseline
measured in the same run: one aggregate over the same ratings joined to their turns and sessions
(``count`` and ``sum``), about the least any exact method must read. Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LOAD = [
    "INSERT INTO users (platform, platform_user_id, role, created_at) "
    "SELECT 'slack', 'U' || g, 'candidate', now() FROM generate_series(1, 2000) g",
    "INSERT INTO interview_sessions (platform, candidate_id, role, kind, level, planned_questions, state, version,"
    " provider, created_at, updated_at) "
    "SELECT 'slack', 1 + g % 2000, (ARRAY['backend', 'sre', 'design', 'sales'])[1 + g % 4], 'technical', 'mid',"
    " 3, 'completed', 3, 'openai', now() - (g % 90) * interval '1 day' - (g % 1440) * interval '1 minute', now()"
    " FROM generate_series(1, {sessions}) g",
    "INSERT INTO turns (session_id, index, state, question, key_points, answer_truncated, feedback, provider,"
    " model_version, valid_first_try, asked_at, graded_at) "
    "SELECT s.id, i, 'graded', 'q', '[]', false, json_build_object('score', 1 + (s.id + i) % 10, 'strengths',"
    " '[]'::json, 'weaknesses', '[]'::json, 'suggestions', '[]'::json, 'criteria', '{}'::json, 'summary', 's'),"
    " 'openai', 'v' || (s.id % 3), (s.id + i) % 7 <> 0, s.created_at, s.created_at"
    " FROM interview_sessions s, generate_series(0, 2) i",
    "INSERT INTO ratings (turn_id, rater_id, value, created_at, updated_at) "
    "SELECT t.id, 1 + t.id % 2000, CASE WHEN t.id % 4 = 0 THEN -1 ELSE 1 END, t.graded_at, t.graded_at FROM turns t",
    "ANALYZE",
]
BASELINE = (
    "SELECT count(*), sum(r.value) FROM ratings r JOIN turns t ON r.turn_id = t.id "
    "JOIN interview_sessions s ON t.session_id = s.id WHERE r.updated_at >= now() - {days} * interval '1 day'"
)


def best_ms(repeat: int, work: Any) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return round(min(timings), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--days", default="7,30,90")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    import psycopg

    from bot.store.db import Database
    from bot.store.stats import compute_stats
    from tests.celery_support import fresh_postgres

    with fresh_postgres(PG) as url:
        db = Database(url)
        try:
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                started = time.perf_counter()
                for statement in LOAD:
                    conn.execute(statement.replace("{sessions}", str(args.sessions)))  # type: ignore[arg-type]
                load_s = time.perf_counter() - started
                def baseline(days: int) -> None:
                    conn.execute(BASELINE.format(days=days)).fetchone()

                rows = []
                for days in (int(d) for d in args.days.split(",")):
                    stats = compute_stats(db, days, "role")
                    rows.append({
                        "days": days,
                        "ratings": stats.ratings_up + stats.ratings_down,
                        "baseline_ms": best_ms(args.repeat, lambda d=days: baseline(d)),
                        "by_role_ms": best_ms(args.repeat, lambda d=days: compute_stats(db, d, "role")),
                        "by_model_ms": best_ms(args.repeat, lambda d=days: compute_stats(db, d, "model")),
                    })
        finally:
            db.dispose()
    report = {"sessions": args.sessions, "turns": 3 * args.sessions, "load_s": round(load_s, 1), "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.sessions} sessions, {3 * args.sessions} turns and ratings over 90 days (loaded in {load_s:.1f} s)")
    print(f"{'days':>5} {'ratings':>8} {'baseline':>10} {'by role':>10} {'by model':>10}  (ms, best of {args.repeat})")
    for row in rows:
        print(f"{row['days']:>5} {row['ratings']:>8} {row['baseline_ms']:>10} {row['by_role_ms']:>10} "
              f"{row['by_model_ms']:>10}")


if __name__ == "__main__":
    main()

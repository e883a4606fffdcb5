"""Benchmark: dataset export of up to 1,000,000 synthetic ratings — rows/s and peak memory.

    python bench/bench_export.py [--rows 1000000] [--steps 250000,500000,1000000] [--format trl-kto] [--json]

A fresh PostgreSQL database (127.0.0.1:5432, dropped afterwards) is filled with KTO rows (one
per rating, with the real grading prompt and a feedback completion, each mentioning the
candidate's email and name so redaction has work to do) by COPY. For each step the export runs
in a fresh process (``mockingbird dataset export`` minus the build, with the progress bar off),
and its peak resident memory is read from the kernel (``wait4``). Flat memory across steps is
the claim under test: the export streams (a server-side cursor, one row at a time to disk).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

CHILD = """
import sys, time
from pathlib import Path
from bot.store.db import Database
from tasks.data import export
db = Database(sys.argv[1])
started = time.perf_counter()
result = export.export(db, sys.argv[2], Path(sys.argv[3]), progress=lambda done, total: None)
print(result.rows, time.perf_counter() - started)
"""


def seed(url: str) -> int:
    """The candidate and session the synthetic rows belong to (their name is redacted on export)."""
    from bot.store.db import Database
    from bot.store.models import User
    from tests.factories import finished_session

    db = Database(url)
    with db.session() as session:
        user = User(platform="slack", platform_user_id="U0BENCH01", display_name="Dana Scully")
        session_id = finished_session(session, user, level="senior").id
    db.dispose()
    return session_id


def fill(url: str, session_id: int, start: int, rows: int) -> None:
    """COPY ``rows`` KTO rows: what ``preferences.build`` leaves after that many ratings."""
    import psycopg

    from tasks.data.prompting import completion_text, feedback_messages, prompt_hash

    variants = []
    for i in range(50):
        prompt = feedback_messages(
            role="backend",
            kind="technical",
            level="senior",
            domain="databases",
            question=f"How would you shard a table that grows by {i + 2} million rows a day?",
            key_points=["shard key", "rebalancing", "hot spots"],
            answer=(
                f"I would pick tenant id as the shard key (variant {i}). Mail dana.scully@example.org or "
                "call +1 202 555 0143 for the design doc. Dana Scully wrote the rebalancing plan; we moved "
                "hot tenants first and kept p99 under 40 ms."
            ),
        )
        completion = completion_text(
            {
                "score": 6 + i % 4,
                "strengths": ["Clear shard key."],
                "weaknesses": ["No rollback plan."],
                "suggestions": ["Describe resharding."],
                "criteria": {"correctness": 7, "depth": 6},
                "summary": "Solid, add detail.",
            }
        )
        variants.append((json.dumps(prompt), prompt_hash(prompt), completion))
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY preference_pairs (kind, source, dedup_key, session_id, prompt, completion, label, "
            "model_version, rater_role, created_at, prompt_hash) FROM STDIN"
        ) as copy:
            for i in range(start, start + rows):
                prompt, digest, completion = variants[i % len(variants)]
                copy.write_row(
                    (
                        "kto",
                        "rating",
                        f"kto:bench:{i}",
                        session_id,
                        prompt,
                        completion,
                        i % 3 != 0,
                        "bench-v1",
                        "candidate",
                        "2026-01-01 00:00:00+00",
                        digest,
                    )
                )
        conn.commit()


def run_export(url: str, fmt: str, out: Path) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, fmt, str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"export failed with status {status}")
    rows, seconds = output.split()
    return {
        "rows": int(rows),
        "seconds": float(seconds),
        "rows_per_s": int(rows) / float(seconds),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "file_mb": out.stat().st_size / 1e6,
    }


def main() -> None:
    from tests.celery_support import fresh_postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--steps", default="")
    parser.add_argument("--format", default="trl-kto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s] or [args.rows // 4, args.rows // 2, args.rows]
    results = []
    with fresh_postgres(PG) as url, tempfile.TemporaryDirectory(prefix="mb-export-") as folder:
        filled, session_id = 0, seed(url)
        for step in sorted(steps):
            started = time.perf_counter()
            fill(url, session_id, filled, step - filled)
            filled = step
            print(f"filled {step:,} rows in {time.perf_counter() - started:.0f}s", file=sys.stderr)
            out = Path(folder) / f"{args.format}.jsonl"
            results.append(run_export(url, args.format, out))
            out.unlink()
    if args.json:
        print(
            json.dumps(
                {"format": args.format, "load_average": os.getloadavg()[0], "steps": results}, indent=2
            )
        )
        return
    print(f"export --format {args.format}, PostgreSQL, load average {os.getloadavg()[0]:.1f}")
    for r in results:
        print(
            f"  {r['rows']:>9,} rows  {r['rows_per_s']:>8,.0f} rows/s  peak RSS {r['peak_rss_mb']:6.1f} MB  "
            f"file {r['file_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    main()

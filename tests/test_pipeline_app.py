"""The Celery app as the operator meets it: ``celery -A tasks``, beat, the CLI, a job with its result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery.app.utils import find_app
from typer.testing import CliRunner

from bot.config import Settings
from bot.engine import Actor
from tasks.pipeline.app import make_app
from tests.celery_support import ROOT, celery_beat, celery_worker, fresh_postgres, make_graded_turns, wait_for


def test_celery_finds_the_app_and_importing_ingest_does_not_load_celery() -> None:
    code = (
        "import sys, tasks, tasks.pipeline.ingest, tasks.pipeline.dispatch; "
        "sys.exit(any(m == 'celery' or m.startswith('celery.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    app = find_app("tasks")
    app.loader.import_default_modules()
    names = set(app.tasks)
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in names
    assert {
        "mockingbird.record_rating",
        "mockingbird.record_correction",
        "mockingbird.build_preferences",
        "mockingbird.export_dataset",
    } <= names
    rating = app.tasks["mockingbird.record_rating"]
    assert rating.acks_late and rating.reject_on_worker_lost and rating.max_retries and rating.retry_backoff


def test_without_redis_tasks_run_in_process() -> None:
    app = make_app(Settings())
    assert app.conf.task_always_eager and app.conf.broker_url == "memory://"
    assert (
        make_app(Settings(REDIS_URL="redis://127.0.0.1:6379/3")).conf.result_backend
        == "redis://127.0.0.1:6379/3"
    )


@pytest.mark.redis
@pytest.mark.slow  # beat's first interval run is 15 s after start
def test_beat_schedules_the_outbox_relay(redis_url: str, tmp_path: Path) -> None:
    queue = f"mb-beat-{time.monotonic_ns()}"
    client = redis.Redis.from_url(redis_url)

    def queued_tasks() -> set[str]:
        return {json.loads(m)["headers"]["task"] for m in client.lrange(queue, 0, -1)}

    with celery_beat(redis_url, f"sqlite:///{tmp_path / 'beat.db'}", queue=queue) as beat:
        wait_for(lambda: "mockingbird.relay_outbox" in queued_tasks(), 30, f"beat to send ({beat.output})")
    client.delete(queue)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_worker_builds_the_nightly_dataset_and_returns_its_result(
    postgres_url: str, redis_url: str
) -> None:
    with fresh_postgres(postgres_url) as url:
        turns = make_graded_turns(url, 3)
        queue = f"mb-nightly-{time.monotonic_ns()}"
        app = make_app(Settings(REDIS_URL=redis_url, CELERY_QUEUE=queue))
        for value, turn in zip((1, -1, 1), turns, strict=True):
            app.send_task(
                "mockingbird.record_rating",
                queue=queue,
                args=({"turn_id": turn, "value": value, "rater": {"platform": "slack", "user_id": "cara"}},),
            )
        with celery_worker(redis_url, url, queue=queue) as worker:
            marked = redis.Redis.from_url(redis_url)
            wait_for(lambda: marked.scard(f"{queue}:dirty-turns") == 3, 30, "ratings to mark their turns")
            built = app.send_task("mockingbird.build_preferences", queue=queue).get(timeout=60)
            assert built["created"] == 3 and marked.scard(f"{queue}:dirty-turns") == 0
            result = app.send_task("mockingbird.nightly_dataset", queue=queue).get(timeout=60)
            files = result["files"]
            assert files["trl-kto"]["rows"] == 3 and files["trl-dpo"]["rows"] == 0
            assert Path(files["trl-kto"]["path"]).is_relative_to(worker.env["MOCKINGBIRD_DATA_DIR"])


def _cli(*args: str) -> tuple[int, str]:
    from bot.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines


def test_cli_exports_validates_and_explains_missing_redis(tmp_path: Path) -> None:
    from bot.app import build_engine

    engine = build_engine()
    cara = Actor("console", "cara", display_name="Cara")
    started = engine.start(cara, role="backend", kind="behavioral", level="mid", questions=1)
    turn = engine.answer(started.session.id, cara, "I led the migration and cut costs by 30%.").graded
    engine.rate(turn.id, cara, 1)
    out = tmp_path / "kto.jsonl"
    code, output = _cli("dataset", "export", "--format", "trl-kto", "--out", str(out))
    assert code == 0 and "Wrote 1 trl-kto rows" in output
    code, output = _cli("dataset", "validate", str(out), "--format", "trl-kto")
    assert code == 0 and "1 valid trl-kto rows" in output
    code, output = _cli("dataset", "export", "--format", "csv", "--out", str(out))
    assert code == 2 and "--format must be one of trl-dpo, trl-kto, openai-dpo" in output
    code, output = _cli("dataset", "export", "--format", "trl-dpo", "--out", str(out), "--since", "yesterday")
    assert code == 2 and "--since must be a date" in output
    code, output = _cli("worker")
    assert code == 2 and "REDIS_URL is not set" in output
    code, output = _cli("outbox", "status")
    assert code == 0 and "0 pending" in output
    code, output = _cli("dead-letters", "--json")
    assert code == 0 and output == "[]"
    code, output = _cli("forget", "--platform", "console", "--user", "cara")
    assert code == 0
    code, output = _cli("dataset", "export", "--format", "trl-kto", "--out", str(out))
    assert code == 0 and out.read_text() == ""

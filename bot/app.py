"""Composition root: build the engine from settings. The only place that wires layers together."""

from __future__ import annotations

import logging

from bot.config import Settings, get_settings
from bot.engine import InterviewEngine
from bot.engine.exemplars import ExemplarSource
from bot.engine.signals import SignalSink
from bot.errors import FixableError
from bot.ops.metrics import PrometheusObserver
from bot.store.db import Database
from chains import providers

log = logging.getLogger(__name__)


class NoDatabaseYet(FixableError):
    """A reading command found no database, or one that needs migrating first."""

    exit_code = 1


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database for a command that writes: with ``migrate`` the default SQLite file's
    directory is created and migrations are applied. A ``DATABASE_URL`` that cannot work raises
    ``DatabaseUnavailable`` (one line with the fix)."""
    if migrate and not settings.database_url:
        settings.ensure_data_dir()
    db = Database(settings.resolved_database_url)
    if migrate:
        db.upgrade()
    return db


def open_existing_database(settings: Settings) -> Database:
    """The database for a command that only reads (``stats``): never created, never migrated.

    A missing default SQLite file, or a database behind this code's migrations, raises
    ``NoDatabaseYet`` saying what to run: creating or migrating it is for commands that write.
    """
    if not settings.database_url and not settings.default_database_path.is_file():
        raise NoDatabaseYet(f"There is no database yet at {settings.default_database_path}",
                            "it is created by the first `mockingbird practice` (or `mockingbird db upgrade`)")
    db = Database(settings.resolved_database_url)
    problem = db.revision().problem()
    if problem is not None:
        db.dispose()
        raise NoDatabaseYet(problem.problem, problem.fix)
    return db


def make_sink(settings: Settings, db: Database) -> SignalSink:
    if settings.tasks_in_process:
        from tasks.dispatch import InProcessSink

        return InProcessSink(db)
    from tasks.celery_sink import CelerySink  # imported lazily: needs Celery configured

    return CelerySink(db, settings)


def build_engine(settings: Settings | None = None, *, provider: str | None = None,
                 db: Database | None = None) -> InterviewEngine:
    from tasks.registry import variant_chooser
    from tasks.training.gemini_backend import RegistryExemplars

    settings = settings or get_settings()
    db = db or open_database(settings)
    chosen = provider or settings.llm_provider
    # A promoted Gemini exemplar set (prompt-tuning version) replaces the live query for Gemini.
    exemplars = RegistryExemplars(db, fallback=ExemplarSource(db)) if chosen == "gemini" else ExemplarSource(db)
    return InterviewEngine(db, providers.build(settings, provider), settings, signals=make_sink(settings, db),
                           exemplars=exemplars, variants=variant_chooser(db, chosen), observer=PrometheusObserver())

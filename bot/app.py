"""Composition root: build the engine from settings. The only place that wires layers together."""

from __future__ import annotations

import logging

from bot.config import Settings, get_settings
from bot.engine import InterviewEngine
from bot.engine.prefetch import NextQuestions
from bot.engine.signals import SignalSink
from bot.ops.metrics import PrometheusObserver
from bot.store.db import Database, open_database
from bot.store.exemplars import ExemplarSource
from chains import providers

log = logging.getLogger(__name__)


def make_sink(settings: Settings, db: Database) -> SignalSink:
    if settings.tasks_in_process:
        from tasks.pipeline.dispatch import InProcessSink

        return InProcessSink(db)
    from tasks.pipeline.sink import CelerySink  # imported lazily: needs Celery configured

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
                           exemplars=exemplars, variants=variant_chooser(db, chosen), observer=PrometheusObserver(),
                           next_questions=NextQuestions(db))

"""Composition root: build the engine from settings. The only place that wires layers together."""

from __future__ import annotations

import logging
import time

from bot.config import Settings, get_settings
from bot.engine import InterviewEngine
from bot.engine.prefetch import NextQuestions
from bot.engine.signals import SignalSink
from bot.ops.blas import one_blas_thread
from bot.ops.metrics import PrometheusObserver
from bot.store.db import Database, open_database
from bot.store.exemplars import ExemplarSource
from chains import grading, providers
from chains.bank import load_bank
from chains.schemas import SessionReport

log = logging.getLogger(__name__)


def make_sink(settings: Settings, db: Database) -> SignalSink:
    if settings.tasks_in_process:
        from tasks.pipeline.dispatch import InProcessSink

        return InProcessSink(db)
    from tasks.pipeline.sink import CelerySink  # imported lazily: needs Celery configured

    return CelerySink(db, settings)


def build_engine(settings: Settings | None = None, *, provider: str | None = None,
                 db: Database | None = None, serving: bool = False) -> InterviewEngine:
    """The engine for ``settings``; ``serving`` (a bot about to take traffic) also runs ``warm_up``
    and keeps numpy's BLAS on one thread (``bot.ops.blas``)."""
    from tasks.registry import variant_chooser
    from tasks.training.gemini_backend import RegistryExemplars

    settings = settings or get_settings()
    db = db or open_database(settings)
    chosen = provider or settings.llm_provider
    # A promoted Gemini exemplar set (prompt-tuning version) replaces the live query for Gemini.
    exemplars = RegistryExemplars(db, fallback=ExemplarSource(db)) if chosen == "gemini" else ExemplarSource(db)
    engine = InterviewEngine(db, providers.build(settings, provider), settings, signals=make_sink(settings, db),
                             exemplars=exemplars, variants=variant_chooser(db, chosen), observer=PrometheusObserver(),
                             next_questions=NextQuestions(db))
    if serving:
        one_blas_thread()  # a server's parallelism is its requests, not numpy's (bot.ops.blas)
        warm_up(engine)
    return engine


def warm_up(engine: InterviewEngine) -> None:
    """Build now what the first interview of a process would otherwise build, without a model call.

    Providers are built on first use (so a bare install and the CLIs start fast), and so is the
    offline grader's embedding table. In a server that put the provider's SDK and LangChain
    imports, its chains, and the embedding model into the first answer's latency (350-550 ms
    on a 2-core VM, seconds where no bytecode is cached), and concurrent first requests each
    built their own provider. Two public calls build them here:

    * the report of a session with nothing answered, which every provider answers without a
      model call (``ChatProvider.report`` returns None, so the engine keeps its own report), but
      only after the fallback order has built the provider, as the first question would;
    * the offline grader on one bank question, after ``grading.prepare`` has loaded the embedding
      table, the bank's vectors and each role's words that the relevance check beside every model
      (``grading.relevance_check``) uses.

    Call it before ``freeze_startup_heap`` so what it builds is frozen with the rest.
    """
    started = time.perf_counter()
    question = load_bank().questions[0]
    nothing_answered = SessionReport(
        session_id=0, role=question.role, kind=question.kind, level=question.level, turns=[], average_score=None,
        answered=0, skipped=0, strengths=[], weaknesses=[], next_steps=[], summary="",
    )
    try:
        engine.provider.report(nothing_answered)
    except Exception as exc:  # the first interview meets the same failure and falls back or says so
        log.warning("warm-up: the provider could not be built: %s", exc)
    grading.prepare()
    grading.grade(question, "I would measure first, then change one thing and measure again.")
    log.info("warm-up took %.0f ms", (time.perf_counter() - started) * 1000)

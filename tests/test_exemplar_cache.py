"""Few-shot exemplars are cached briefly per role and kind, and the offline rubric never asks for them."""

from __future__ import annotations

from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.exemplars import ExemplarSource
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink

ANSWER = "When I was at my last job I led a migration; I planned it, I wrote the runbook, latency fell 40%."


def _corrected_turn(engine: InterviewEngine, recruiter: Actor, who: str) -> None:
    person = Actor("console", who)
    started = engine.start(person, role="backend", kind="behavioral", questions=1)
    turn = engine.answer(started.session.id, person, ANSWER).graded
    engine.correct(turn.id, recruiter, turn.feedback.model_copy(update={"score": 9}))


def test_cache_serves_within_ttl_and_refreshes_after(sqlite_db: Database, settings, recruiter: Actor) -> None:
    engine = InterviewEngine(sqlite_db, OfflineProvider(), settings, signals=InProcessSink(sqlite_db))
    cached, fresh = ExemplarSource(sqlite_db, ttl_s=3600), ExemplarSource(sqlite_db, ttl_s=0)
    assert cached("backend", "behavioral") == () == fresh("backend", "behavioral")
    _corrected_turn(engine, recruiter, "c1")
    assert cached("backend", "behavioral") == ()  # still the cached answer
    assert len(fresh("backend", "behavioral")) == 1
    assert cached("backend", "technical") == ()  # keys are per role and kind


def test_offline_provider_skips_the_exemplar_query(sqlite_db: Database, settings) -> None:
    asked: list[tuple[str, str]] = []

    def exemplars(role: str, kind: str) -> tuple:
        asked.append((role, kind))
        return ()

    engine = InterviewEngine(sqlite_db, OfflineProvider(), settings, signals=InProcessSink(sqlite_db),
                             exemplars=exemplars)
    person = Actor("console", "c2")
    started = engine.start(person, role="backend", questions=1)
    engine.answer(started.session.id, person, ANSWER)
    assert asked == []


def test_forgetting_someone_empties_the_cache_at_once(sqlite_db: Database, settings, recruiter: Actor) -> None:
    engine = InterviewEngine(sqlite_db, OfflineProvider(), settings, signals=InProcessSink(sqlite_db))
    cached = ExemplarSource(sqlite_db, ttl_s=3600)
    _corrected_turn(engine, recruiter, "c3")
    assert len(cached("backend", "behavioral")) == 1
    assert engine.forget("console", "c3")
    assert cached("backend", "behavioral") == ()  # not their answer for another hour

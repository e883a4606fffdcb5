"""The Gemini backend: a few-shot exemplar set snapshot as a registry version, measured through Gemini."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.config import Settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.exemplars import ExemplarSource
from tasks import registry
from tasks.training import entry
from tasks.training.gemini_backend import RegistryExemplars
from tests.conftest import make_settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.llm_env import KEYS, env_for

ANSWER = (
    "In my last job I led our API migration, wrote the plan and cut p95 latency by 30%. Mail: ann@corp.io"
)


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEYS["gemini"]) as server:
        yield server


def seed(engine: InterviewEngine, recruiter: Actor) -> None:
    """Two corrected backend/behavioral answers, one 👍-rated qa/technical answer, one 👎-rated."""
    for index in range(2):
        person = Actor("console", f"b{index}", display_name="Ann Example")
        started = engine.start(person, role="backend", kind="behavioral", questions=1)
        turn = engine.answer(started.session.id, person, f"{ANSWER} (story {index})").graded
        engine.correct(
            turn.id,
            recruiter,
            turn.feedback.model_copy(update={"score": 8, "summary": f"Recruiter note {index}."}),
        )
    for value in (1, -1):
        person = Actor("console", f"q{value}")
        started = engine.start(person, role="qa", kind="technical", questions=1)
        engine.rate(
            engine.answer(started.session.id, person, f"I would write a test plan ({value}).").graded.id,
            person,
            value,
        )


@pytest.fixture
def gemini_settings(fake: FakeGemini, engine: InterviewEngine, recruiter: Actor, tmp_path: Path) -> Settings:
    """Gemini served by the fake, over a database seeded with corrections and ratings (``seed``)."""
    seed(engine, recruiter)
    return make_settings(
        LLM_PROVIDER="gemini", MOCKINGBIRD_DATA_DIR=str(tmp_path / "data"), **env_for("gemini", fake.base_url)
    )


def test_gemini_refresh_snapshots_the_best_feedback_and_measures_it(
    fake: FakeGemini, database: Database, gemini_settings: Settings
) -> None:
    view = entry.run_gemini(database, gemini_settings, "mb-gemini-fewshot-1", eval_limit=6)

    groups = view.data_snapshot["exemplar_set"]
    assert set(groups) == {"backend/behavioral", "qa/technical"}
    assert [e["feedback"]["summary"] for e in groups["backend/behavioral"]] == [
        "Recruiter note 1.",
        "Recruiter note 0.",
    ]
    assert len(groups["qa/technical"]) == 1  # the 👎-rated answer is no exemplar
    stored = json.dumps(groups)
    assert "ann@corp.io" not in stored and "Ann" not in stored  # redacted before any prompt sees it
    assert json.loads(Path(view.artifact).read_text())["groups"] == groups

    # Measured through the real Gemini provider with the set pinned: the exemplars are on the wire.
    assert len(fake.requests) == 6
    behavioral = [r for r in fake.requests if len(r.body["contents"]) > 1]
    assert len(behavioral) == 3  # eval items 4-6 are backend/behavioral
    assert "Recruiter note" in behavioral[0].body["contents"][1]["parts"][0]["text"]
    assert view.metrics["json_validity"] == 1.0 and view.metrics["eval_items"] == 6
    assert view.metrics["agreement"] is not None and view.metrics["eval_provider"] == "gemini"


def test_a_promoted_set_serves_gemini_sessions_and_rollback_restores_the_live_query(
    fake: FakeGemini, database: Database, engine: InterviewEngine, recruiter: Actor, gemini_settings: Settings
) -> None:
    entry.run_gemini(database, gemini_settings, "set-1", evaluate_with=None)
    assert not registry.get_version(database, "set-1").gate_passed  # unmeasured: the gate stays closed
    with pytest.raises(registry.RegistryError, match="was not measured"):
        registry.promote(database, "set-1")
    registry.record_metrics(database, "set-1", {"json_validity": 1.0, "agreement": 0.75})
    registry.promote(database, "set-1")

    # New data after the snapshot: the live query sees it, the promoted set does not.
    person = Actor("console", "late")
    started = engine.start(person, role="backend", kind="behavioral", questions=1)
    late = engine.answer(started.session.id, person, "I organised the release and shipped it on time.").graded
    engine.correct(late.id, recruiter, late.feedback.model_copy(update={"summary": "Late note."}))

    served = build_engine(gemini_settings, db=database)
    assert isinstance(served.exemplars, RegistryExemplars)
    summaries = [f.summary for _, _, f in served.exemplars("backend", "behavioral")]
    assert summaries == ["Recruiter note 1.", "Recruiter note 0."]
    assert served.exemplars("frontend", "technical") == ()
    registry.rollback(database, "set-1")
    live_query = [f.summary for _, _, f in ExemplarSource(database)("backend", "behavioral")]
    assert [f.summary for _, _, f in served.exemplars("backend", "behavioral")] == live_query
    assert live_query[0] == "Late note."


def test_nothing_to_refresh_is_a_clear_error(sqlite_db: Database, tmp_path: Path) -> None:
    settings = make_settings(MOCKINGBIRD_DATA_DIR=str(tmp_path / "data"))
    with pytest.raises(entry.RetrainError, match="no exemplars to refresh"):
        entry.run_gemini(sqlite_db, settings, "empty", evaluate_with=None)
    assert registry.list_versions(sqlite_db) == []

"""The model registry: gate, traffic split, the statistical rule, promotion and rollback, the CLI."""

from __future__ import annotations

import json
import random
from collections import Counter
from itertools import count
from statistics import NormalDist

import pytest
from typer.testing import CliRunner

from bot.app import build_engine
from bot.cli import app
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import InterviewSession, Rating, SessionState, Turn, TurnState, User, utcnow
from chains.providers.offline import OfflineProvider
from tasks import registry
from tasks.dispatch import InProcessSink
from tests.conftest import make_settings

GOOD = {
    "json_validity": 0.98,
    "agreement": 0.8,
    "preference_accuracy": 0.7,
    "preference_accuracy_base": 0.5,
    "method": "dpo",
    "serving": "lora-adapter",
}
_people = count(1)


def add(
    db: Database, name: str, backend: str = "trl", metrics: dict | None = None, artifact: str | None = None
) -> registry.VersionView:
    return registry.register_candidate(
        db,
        name=name,
        backend=backend,
        base_model="tiny",
        artifact=artifact,
        metrics=GOOD if metrics is None else metrics,
    )


def seed_ratings(db: Database, model_version: str, up: int, down: int) -> None:
    """``up`` 👍 and ``down`` 👎 on feedback written by ``model_version``, one rater and turn each."""
    with db.session() as session:
        owner = User(platform="console", platform_user_id=f"owner-{next(_people)}")
        session.add(owner)
        session.flush()
        record = InterviewSession(
            platform="console",
            candidate_id=owner.id,
            role="backend",
            kind="technical",
            level="mid",
            planned_questions=up + down,
            state=SessionState.completed,
            model_version=model_version,
        )
        session.add(record)
        session.flush()
        for index, value in enumerate([1] * up + [-1] * down):
            turn = Turn(
                session_id=record.id,
                index=index,
                state=TurnState.graded,
                question="Q?",
                answer="A.",
                feedback={"score": 5},
                model_version=model_version,
                graded_at=utcnow(),
            )
            rater = User(platform="console", platform_user_id=f"rater-{next(_people)}")
            session.add_all([turn, rater])
            session.flush()
            session.add(Rating(turn_id=turn.id, rater_id=rater.id, value=value))


# ── the statistical test ────────────────────────────────────────────────────────────
def test_two_proportion_z_test_matches_the_textbook() -> None:
    result = registry.two_proportion_z_test(60, 100, 45, 100)
    assert result.z == pytest.approx(2.124, abs=1e-3)
    assert result.p_better == pytest.approx(0.0168, abs=1e-4)
    assert result.p_worse == pytest.approx(1 - 0.0168, abs=1e-4)
    assert result.p_better == pytest.approx(1 - NormalDist().cdf(result.z), rel=1e-3)
    assert registry.two_proportion_z_test(0, 0, 5, 10).z is None
    same = registry.two_proportion_z_test(10, 10, 20, 20)  # no variance: no evidence either way
    assert (same.p_better, same.p_worse) == (0.5, 0.5)


# ── the gate ────────────────────────────────────────────────────────────────────────
def test_gate_passes_good_metrics_and_names_every_failure() -> None:
    assert registry.run_gate(GOOD, "trl").passed
    bad = registry.run_gate({**GOOD, "json_validity": 0.5, "preference_accuracy": 0.4}, "trl")
    assert not bad.passed
    failed = {c.name for c in bad.checks if not c.passed}
    assert failed == {"json_validity", "preference_accuracy", "preference_gain"}
    assert any("JSON validity 0.500 is below 0.95" in reason for reason in bad.reasons())
    missing = registry.run_gate({"method": "dpo"}, "trl")
    assert not missing.passed and "was not measured" in " ".join(missing.reasons())
    # OpenAI exposes no log-probabilities of given text: preference accuracy is not required there.
    assert registry.run_gate({"json_validity": 1.0, "agreement": 0.7}, "openai").passed
    unpaired = {"json_validity": 1.0, "agreement": 0.7, "method": "kto", "heldout_pairs": 0}
    assert registry.run_gate(unpaired, "trl").passed  # KTO labels without a 👍/👎 pair per prompt
    assert not registry.run_gate({**unpaired, "heldout_pairs": 3}, "trl").passed
    stricter = registry.GateThresholds(min_agreement=0.9)
    assert not registry.run_gate(GOOD, "trl", stricter).passed


# ── split ───────────────────────────────────────────────────────────────────────────
def test_only_gated_servable_candidates_take_traffic(database: Database) -> None:
    add(database, "failing", metrics={**GOOD, "json_validity": 0.2})
    with pytest.raises(registry.RegistryError, match="has not passed the evaluation gate"):
        registry.set_traffic(database, "failing", 0.1)
    add(database, "prefix", metrics={**GOOD, "serving": "prefix-adapter"})
    with pytest.raises(registry.RegistryError, match="LoRA adapters per request"):
        registry.set_traffic(database, "prefix", 0.1)
    add(database, "a")
    add(database, "b")
    registry.set_traffic(database, "a", 0.7)
    with pytest.raises(registry.RegistryError, match="at most 30%"):
        registry.set_traffic(database, "b", 0.5)
    with pytest.raises(registry.RegistryError, match="between 0 and 1"):
        registry.set_traffic(database, "b", 1.5)
    with pytest.raises(registry.RegistryError, match="no model version named 'nope'"):
        registry.set_traffic(database, "nope", 0.1)
    with pytest.raises(registry.RegistryError, match="already exists"):
        add(database, "a")
    assert registry.get_version(database, "a").metrics["split_started_at"]


def test_choose_variant_splits_new_sessions_by_share(database: Database) -> None:
    rng = random.Random(7)
    assert registry.choose_variant(database, rng, "trl") is None  # nothing registered: configured default
    add(database, "old")
    registry.promote(database, "old")
    add(database, "new")
    registry.set_traffic(database, "new", 0.25)
    add(
        database,
        "ft",
        backend="openai",
        artifact="ft:gpt-4o-mini:acme::abc",
        metrics={"json_validity": 1.0, "agreement": 0.9},
    )
    registry.set_traffic(database, "ft", 1.0)
    picks = Counter(registry.choose_variant(database, rng, "trl") for _ in range(4000))
    assert set(picks) == {"old", "new"}
    assert picks["new"] / 4000 == pytest.approx(0.25, abs=0.03)
    # An OpenAI version is served by its fine-tuned model name.
    assert registry.choose_variant(database, rng, "openai") == "ft:gpt-4o-mini:acme::abc"
    registry.set_traffic(database, "new", 0.0)
    assert {registry.choose_variant(database, rng, "trl") for _ in range(50)} == {"old"}


def test_engine_records_the_chosen_variant_per_session(database: Database) -> None:
    add(database, "live-adapter")
    registry.promote(database, "live-adapter")
    add(database, "cand-adapter")
    registry.set_traffic(database, "cand-adapter", 0.5)
    chooser = registry.variant_chooser(database, "tgi", random.Random(3))
    engine = InterviewEngine(
        database, OfflineProvider(), make_settings(), signals=InProcessSink(database), variants=chooser
    )
    seen = Counter()
    for index in range(40):
        person = Actor("console", f"p{index}")
        started = engine.start(person, role="backend", questions=1)
        seen[started.session.model_version] += 1
        graded = engine.answer(started.session.id, person, "I would add an index and measure it.").graded
        assert graded.model_version == started.session.model_version  # every turn is attributable
    assert set(seen) == {"live-adapter", "cand-adapter"} and min(seen.values()) >= 10
    assert registry.variant_chooser(database, "offline") is None  # the rubric has no versions


def test_build_engine_wires_the_registry(sqlite_db: Database) -> None:
    add(
        sqlite_db,
        "ft",
        backend="openai",
        artifact="ft:gpt-4o-mini:acme::xyz",
        metrics={"json_validity": 1.0, "agreement": 0.9},
    )
    registry.promote(sqlite_db, "ft")
    engine = build_engine(make_settings(LLM_PROVIDER="openai", LLM_FALLBACKS="offline"), db=sqlite_db)
    assert engine.variants is not None and engine.variants() == "ft:gpt-4o-mini:acme::xyz"
    offline = build_engine(make_settings(), db=sqlite_db)
    assert offline.variants is None


# ── decisions ───────────────────────────────────────────────────────────────────────
def test_review_promotes_a_significantly_better_candidate(database: Database) -> None:
    add(database, "v1")
    registry.promote(database, "v1")
    add(database, "v2")
    registry.set_traffic(database, "v2", 0.5)
    seed_ratings(database, "v2", up=10, down=10)
    seed_ratings(database, "v1", up=10, down=10)
    assert registry.compare(database, "v2").decision == "wait"  # 20 ratings per arm is too few
    seed_ratings(database, "v2", up=35, down=5)
    seed_ratings(database, "v1", up=20, down=20)
    comparison = registry.compare(database, "v2")
    assert (comparison.candidate_arm.up, comparison.candidate_arm.total) == (45, 60)
    assert (comparison.baseline_arm.up, comparison.baseline_arm.total) == (30, 60)
    assert comparison.decision == "promote" and comparison.test.p_better < 0.05
    decisions = registry.review(database)
    assert [(d.name, d.action) for d in decisions] == [("v2", "promoted")]
    statuses = {v.name: v.status for v in registry.list_versions(database)}
    assert statuses == {"v1": "retired", "v2": "live"}
    assert registry.choose_variant(database, random.Random(1), "trl") == "v2"


def test_review_rolls_back_a_significantly_worse_candidate(database: Database) -> None:
    add(database, "v1")
    registry.promote(database, "v1")
    add(database, "bad")
    registry.set_traffic(database, "bad", 0.2)
    seed_ratings(database, "bad", up=12, down=28)
    seed_ratings(database, "v1", up=30, down=10)
    with pytest.raises(registry.RegistryError, match="measured worse"):
        registry.promote(database, "bad")  # no measurably worse model ever goes live
    assert [(d.name, d.action) for d in registry.review(database)] == [("bad", "rolled back")]
    bad = registry.get_version(database, "bad")
    assert (bad.status, bad.traffic_share) == ("retired", 0.0)
    assert registry.get_version(database, "v1").status == "live"


def test_without_a_live_version_the_baseline_is_the_default_model(database: Database) -> None:
    add(database, "first")
    registry.set_traffic(database, "first", 0.5)
    seed_ratings(database, "first", up=40, down=5)
    seed_ratings(database, "grader-v2", up=15, down=25)  # sessions served by the configured default
    comparison = registry.compare(database, "first")
    assert comparison.baseline_arm.label == "default model" and comparison.baseline_arm.total == 40
    assert comparison.decision == "promote"


def test_promotion_needs_the_gate_and_rollback_restores_the_previous_live(database: Database) -> None:
    add(database, "failing", metrics={**GOOD, "agreement": 0.1})
    with pytest.raises(registry.RegistryError, match="agreement with recruiter scores 0.100 is below 0.6"):
        registry.promote(database, "failing")
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        registry.rollback(database)
    for name in ("v1", "v2", "v3"):
        add(database, name)
        registry.promote(database, name)
    assert [v.name for v in registry.list_versions(database) if v.status == "live"] == ["v3"]
    result = registry.rollback(database)
    assert (result.retired.name, result.reinstated.name, result.was_live) == ("v3", "v2", True)
    result = registry.rollback(database, "v2")
    assert result.reinstated.name == "v1"  # v3 was rolled back itself, so it never comes back
    result = registry.rollback(database)
    assert result.reinstated is None and registry.choose_variant(database, random.Random(), "trl") is None
    with pytest.raises(registry.RegistryError, match="already retired"):
        registry.rollback(database, "v1")
    with pytest.raises(registry.RegistryError, match="only a candidate can be promoted"):
        registry.promote(database, "v1")


def test_a_failed_gate_rerun_removes_traffic(database: Database) -> None:
    add(database, "c")
    registry.set_traffic(database, "c", 0.3)
    view = registry.record_metrics(database, "c", {"json_validity": 0.4})
    assert not view.gate_passed and view.traffic_share == 0.0
    assert registry.check_gate(database, "c", registry.GateThresholds(min_json_validity=0.3)).passed


def test_gemini_exemplar_sets_are_promoted_not_split(database: Database) -> None:
    add(
        database,
        "fewshot",
        backend="gemini",
        metrics={"json_validity": 1.0, "agreement": 0.8, "serving": "exemplar-set"},
    )
    with pytest.raises(registry.RegistryError, match="Gemini exemplar set applies to every session"):
        registry.set_traffic(database, "fewshot", 0.1)
    assert registry.promote(database, "fewshot").status == "live"
    assert registry.variant_chooser(database, "gemini") is None


# ── command line ────────────────────────────────────────────────────────────────────
def test_models_commands(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    db = Database(url)
    db.upgrade()
    add(db, "v1")
    add(db, "v2", metrics={**GOOD, "json_validity": 0.1})
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["v1"]["gate_passed"] and not rows["v2"]["gate_passed"]
    assert runner.invoke(app, ["models", "list"]).exit_code == 0
    refused = runner.invoke(app, ["models", "traffic", "v2", "0.2"])
    assert refused.exit_code == 1 and "has not passed the evaluation gate" in refused.output
    assert runner.invoke(app, ["models", "traffic", "v1", "0.2"]).exit_code == 0
    compared = runner.invoke(app, ["models", "compare", "v1", "--json"])
    assert json.loads(compared.stdout)["decision"] == "wait"
    assert runner.invoke(app, ["models", "gate", "v2"]).exit_code == 1
    promoted = runner.invoke(app, ["models", "promote", "v1"])
    assert promoted.exit_code == 0 and "v1 is live" in promoted.output
    rolled = runner.invoke(app, ["models", "rollback"])
    assert rolled.exit_code == 0 and "configured default model" in rolled.output
    assert registry.get_version(db, "v1").status == "retired"
    assert runner.invoke(app, ["models", "promote", "ghost"]).exit_code == 1
    db.dispose()

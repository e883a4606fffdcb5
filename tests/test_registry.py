"""The model registry: gate, traffic split, the statistical rule, promotion and rollback, the CLI."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from itertools import count

import pytest
from typer.testing import CliRunner

from bot.app import build_engine
from bot.cli import app
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import Rating, Turn, TurnState, User, utcnow
from chains.providers.fallback import FallbackProvider
from chains.providers.offline import OfflineProvider
from tasks import registry
from tasks.pipeline.dispatch import InProcessSink
from tasks.registry import sequential
from tests.conftest import make_settings
from tests.factories import finished_session

GOOD = {
    "json_validity": 0.98,
    "agreement": 0.8,
    "preference_accuracy": 0.7,
    "preference_accuracy_base": 0.5,
    "method": "dpo",
    "serving": "lora-adapter",
}
FINE_TUNED = {"json_validity": 1.0, "agreement": 0.9}  # an OpenAI fine-tune's gate metrics
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


def seed_ratings(
    db: Database, model_version: str | None, up: int, down: int, turn_model: str | None = None
) -> None:
    """One session assigned ``model_version`` with ``up`` 👍 and ``down`` 👎 by its candidate, one turn each."""
    with db.session() as session:
        owner = User(platform="console", platform_user_id=f"owner-{next(_people)}")
        record = finished_session(session, owner, planned_questions=up + down, model_version=model_version)
        for index, value in enumerate([1] * up + [-1] * down):
            turn = Turn(
                session_id=record.id,
                index=index,
                state=TurnState.graded,
                question="Q?",
                answer="A.",
                feedback={"score": 5},
                model_version=turn_model or model_version,
                graded_at=utcnow(),
            )
            session.add(turn)
            session.flush()
            session.add(Rating(turn_id=turn.id, rater_id=owner.id, value=value))  # the candidate's vote


def split(db: Database, candidate: str, share: float, live: str = "v1") -> None:
    """A ``live`` version and a gated ``candidate`` taking ``share`` of new sessions."""
    add(db, live)
    registry.promote(db, live)
    add(db, candidate)
    registry.set_traffic(db, candidate, share)


def seed_sessions(
    db: Database, model_version: str | None, patterns: list[tuple[int, int]], times: int
) -> None:
    """``times`` rounds of one session per (👍, 👎) pattern: sessions are the test's units."""
    for _ in range(times):
        for up, down in patterns:
            seed_ratings(db, model_version, up, down)


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


def test_the_gate_refuses_a_version_worse_than_the_incumbent_on_validity_or_mae(database: Database) -> None:
    """The figures bench/bench_finetune.py reports: held-out JSON validity and score MAE."""
    first = {**GOOD, "score_mae": 1.2, "json_validity_base": 0.0, "score_mae_base": 1.5}
    assert add(database, "first", metrics=first).gate_passed  # the incumbent is the base model
    worse_than_base = add(database, "drifted", metrics={**first, "score_mae": 1.8})
    assert not worse_than_base.gate_passed
    assert "score MAE 1.800 is worse than the base model's 1.500" in json.dumps(worse_than_base.metrics)
    registry.promote(database, "first")
    less_valid = add(database, "less-valid", metrics={**GOOD, "json_validity": 0.96, "score_mae": 1.0})
    less_accurate = add(database, "less-accurate", metrics={**GOOD, "json_validity": 1.0, "score_mae": 1.3})
    unscored = add(database, "unscored", metrics={**GOOD, "json_validity": 1.0})
    better = add(database, "better", metrics={**GOOD, "json_validity": 0.98, "score_mae": 1.1})
    failed = {v.name: [c["name"] for c in v.metrics["gate"]["checks"] if not c["passed"]]
              for v in (less_valid, less_accurate, unscored, better)}  # fmt: skip
    assert failed == {
        "less-valid": ["json_validity_vs_incumbent"],
        "less-accurate": ["score_mae_vs_incumbent"],
        "unscored": ["score_mae_vs_incumbent"],
        "better": [],
    }
    with pytest.raises(registry.RegistryError, match="worse than the live version first's 0.980"):
        registry.set_traffic(database, "less-valid", 0.1)
    registry.set_traffic(database, "better", 0.1)  # the live version itself is never its own incumbent
    assert registry.check_gate(database, "first").passed


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
    split(database, "new", 0.25, live="old")
    add(database, "ft", backend="openai", artifact="ft:gpt-4o-mini:acme::abc", metrics=FINE_TUNED)
    registry.set_traffic(database, "ft", 1.0)
    picks = Counter(registry.choose_variant(database, rng, "trl") for _ in range(4000))
    assert set(picks) == {"old", "new"}
    assert picks["new"] / 4000 == pytest.approx(0.25, abs=0.03)
    # An OpenAI version is served by its fine-tuned model name.
    assert registry.choose_variant(database, rng, "openai") == "ft:gpt-4o-mini:acme::abc"
    registry.set_traffic(database, "new", 0.0)
    assert {registry.choose_variant(database, rng, "trl") for _ in range(50)} == {"old"}


def test_engine_records_the_chosen_variant_per_session(database: Database) -> None:
    split(database, "cand-adapter", 0.5, live="live-adapter")
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
    add(sqlite_db, "ft", backend="openai", artifact="ft:gpt-4o-mini:acme::xyz", metrics=FINE_TUNED)
    registry.promote(sqlite_db, "ft")
    engine = build_engine(make_settings(LLM_PROVIDER="openai", LLM_FALLBACKS="offline"), db=sqlite_db)
    assert engine.variants is not None and engine.variants() == "ft:gpt-4o-mini:acme::xyz"
    offline = build_engine(make_settings(), db=sqlite_db)
    assert offline.variants is None


# ── decisions ───────────────────────────────────────────────────────────────────────
# The rule is the sequential test of tasks.registry.sequential on per-session 👍 shares (see
# tests/test_sequential.py for its error rates); these tests check the wiring.
def test_review_promotes_a_clearly_better_candidate(database: Database) -> None:
    split(database, "v2", 0.5)
    seed_sessions(database, "v2", [(3, 1)], 20)
    seed_sessions(database, "v1", [(2, 2)], 20)
    waiting = registry.compare(database, "v2")
    assert waiting.decision == "wait" and "need 30 sessions per arm (have 20 and 20)" in waiting.reason
    seed_sessions(database, "v2", [(3, 1), (4, 0)], 10)
    seed_sessions(database, "v1", [(2, 2), (1, 3)], 10)
    comparison = registry.compare(database, "v2")
    c, b = comparison.candidate_arm, comparison.baseline_arm
    assert (c.sessions, c.up, c.total, b.sessions, b.up, b.total) == (40, 130, 160, 40, 70, 160)
    assert c.session_mean == pytest.approx((30 * 0.75 + 10 * 1.0) / 40) and c.fallback_rate == 0.0
    assert comparison.decision == "promote", comparison.reason
    low, high = comparison.as_dict()["confidence_sequence"]
    assert 0 < low < high
    decisions = registry.review(database)
    assert [(d.name, d.action) for d in decisions] == [("v2", "promoted")]
    statuses = {v.name: v.status for v in registry.list_versions(database)}
    assert statuses == {"v1": "retired", "v2": "live"}
    assert registry.choose_variant(database, random.Random(1), "trl") == "v2"


def test_review_rolls_back_a_clearly_worse_candidate(database: Database) -> None:
    split(database, "bad", 0.2)
    seed_sessions(database, "bad", [(1, 2), (0, 3)], 16)
    seed_sessions(database, "v1", [(2, 1), (3, 0)], 16)
    with pytest.raises(registry.RegistryError, match="measured worse"):
        registry.promote(database, "bad")  # no measurably worse model ever goes live
    assert [(d.name, d.action) for d in registry.review(database)] == [("bad", "rolled back")]
    bad = registry.get_version(database, "bad")
    assert (bad.status, bad.traffic_share) == ("retired", 0.0)
    assert registry.get_version(database, "v1").status == "live"


def test_many_ratings_in_one_session_are_one_observation(database: Database) -> None:
    """The old z-test counted 400 correlated ratings from two sessions as 400 units of evidence."""
    split(database, "v2", 0.5)
    seed_ratings(database, "v2", up=200, down=0)
    seed_ratings(database, "v1", up=0, down=200)
    comparison = registry.compare(database, "v2")
    assert (comparison.candidate_arm.sessions, comparison.candidate_arm.total) == (1, 200)
    assert comparison.decision == "wait"


def test_no_difference_after_max_days_retires_the_candidate(database: Database) -> None:
    split(database, "same", 0.5)
    seed_sessions(database, "same", [(2, 1), (1, 2)], 20)
    seed_sessions(database, "v1", [(1, 2), (2, 1)], 20)
    assert registry.compare(database, "same").decision == "wait"
    later = datetime.fromisoformat(registry.get_version(database, "same").metrics["split_started_at"])
    policy = registry.current_policy()
    decisions = registry.review(database, now=later + timedelta(days=policy.max_days, minutes=1))
    assert [(d.name, d.action) for d in decisions] == [("same", "retired")]
    assert "no difference" in decisions[0].comparison.reason
    assert registry.get_version(database, "same").status == "retired"


def test_without_a_live_version_the_baseline_is_the_default_model(database: Database) -> None:
    add(database, "first")
    registry.set_traffic(database, "first", 0.5)
    seed_sessions(database, "first", [(4, 1), (5, 0)], 20)
    seed_sessions(database, "grader-v2", [(1, 2), (2, 3)], 20)  # sessions served by the configured default
    seed_ratings(database, None, 1, 1, turn_model="gpt-4o-mini")  # no variant assigned at all
    comparison = registry.compare(database, "first")
    assert comparison.baseline_arm.label == "default model" and comparison.baseline_arm.sessions == 41
    assert comparison.decision == "promote"


def test_policy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.current_policy() == sequential.Policy()
    monkeypatch.setenv("AB_ALPHA", "0.01")
    monkeypatch.setenv("AB_MIN_SESSIONS", "100")
    assert registry.current_policy() == sequential.Policy(alpha=0.01, min_sessions=100)
    monkeypatch.setenv("AB_MAX_DAYS", "soon")
    with pytest.raises(registry.RegistryError, match="AB_MAX_DAYS='soon' is not a number"):
        registry.current_policy()
    monkeypatch.setenv("AB_MAX_DAYS", "-1")
    with pytest.raises(registry.RegistryError, match="invalid"):
        registry.current_policy()


# ── attribution ─────────────────────────────────────────────────────────────────────
class _Broken(OfflineProvider):
    """A variant whose grading always fails, so the fallback provider answers."""

    def grade(self, request):  # type: ignore[no-untyped-def]
        raise RuntimeError("adapter not loaded")


def test_a_failed_variants_turn_is_credited_to_the_fallback_and_counts_against_its_arm(
    database: Database,
) -> None:
    add(database, "live-adapter")
    registry.promote(database, "live-adapter")
    add(database, "cand-adapter")
    registry.set_traffic(database, "cand-adapter", 1.0)
    provider = FallbackProvider([("tgi", _Broken), ("offline", OfflineProvider)])
    engine = InterviewEngine(
        database, provider, make_settings(), signals=InProcessSink(database), variants=lambda: "cand-adapter"
    )
    person = Actor("console", "p-fallback")
    started = engine.start(person, role="backend", questions=1)
    assert started.session.model_version == "cand-adapter"
    graded = engine.answer(started.session.id, person, "I would add an index and measure it.").graded
    assert graded.model_version != "cand-adapter"
    with database.session() as session:
        turn = session.get(Turn, graded.id)
        assert turn.fell_back and turn.model_version == turn.model != "cand-adapter"
        rater = User(platform="console", platform_user_id="rater-fallback")
        session.add(rater)
        session.flush()
        session.add(Rating(turn_id=turn.id, rater_id=rater.id, value=1))  # a 👍 for the fallback's words
    arm = registry.compare(database, "cand-adapter").candidate_arm
    # Not the variant's 👍: excluded from its ratings, counted as one failure of its session.
    assert (arm.up, arm.total, arm.turns, arm.fallbacks, arm.fallback_rate) == (0, 0, 1, 1, 1.0)
    assert (arm.sessions, arm.session_mean) == (1, 0.0)


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
    simulated = runner.invoke(
        app,
        [
            "models",
            "simulate",
            "--rates",
            "0.60,0.70",
            "--per-hour",
            "10",
            "--days",
            "2",
            "--runs",
            "50",
            "--json",
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    figures = json.loads(simulated.stdout)
    assert figures["better_arm"] == "baseline" and figures["power"] > 0.5
    assert figures["policy"] == registry.current_policy().__dict__  # the rule review applies
    text = runner.invoke(app, ["models", "simulate", "--runs", "20", "--days", "1"])
    assert text.exit_code == 0 and "false promotion" in text.output
    bad = runner.invoke(app, ["models", "simulate", "--rates", "0.7"])
    assert bad.exit_code == 2 and "two numbers" in bad.output
    db.dispose()

"""Whose 👍 / 👎 count: the session's candidate and recruiters (team leads too). Anyone else's rating
is stored and shown apart, but never makes a KTO label or moves an A/B arm; a flood of clicks from one
person counts once. And KTO training on real (imbalanced, sometimes one-sided) label data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.engine import Actor, InterviewEngine
from bot.engine.text import shown_count
from bot.store.db import Database
from bot.store.models import PreferencePair, Rating
from chains.providers.offline import OfflineProvider
from tasks import registry
from tasks.data import preferences
from tasks.pipeline.dispatch import InProcessSink
from tasks.training import data
from tests.conftest import make_settings
from tests.training_support import kto_rows, write_jsonl

GOOD = (
    "When I was at my last company our checkout failed 3% of the time. My goal was to fix it within "
    "two weeks. I analysed the logs, I wrote a retry policy and I led the rollout. As a result "
    "failures dropped to 0.2%, and I learned to measure before changing anything."
)
BYSTANDERS = [Actor("console", f"bystander-{n}") for n in range(3)]
LEAD = Actor("console", "tess")  # TEAM_LEADS in make_settings


def _turns(engine: InterviewEngine, actor: Actor, count: int) -> list[int]:
    started = engine.start(actor, role="backend", kind="behavioral", level="mid", questions=count)
    turns = []
    for _ in range(count):
        graded = engine.answer(started.session.id, actor, GOOD).graded
        assert graded is not None
        turns.append(graded.id)
    return turns


def _labels(db: Database) -> dict[int, bool]:
    preferences.build(db)
    with db.session() as session:
        return {row.turn_id: row.label for row in session.scalars(select(PreferencePair).where(
            PreferencePair.kind == "kto"))}


def _stored(db: Database, turn_id: int) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Rating).where(Rating.turn_id == turn_id))


def test_a_bystanders_vote_is_stored_and_shown_apart_but_never_labels(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    t0, t1, t2, t3 = _turns(engine, candidate, 4)
    engine.rate(t0, candidate, 1)
    for person in BYSTANDERS:  # three bystanders outvote the candidate 3 to 1: nothing changes
        engine.rate(t0, person, -1)
    assert _labels(database) == {t0: True}
    assert _stored(database, t0) == 4  # still stored...
    tally = engine.tally(t0, BYSTANDERS[0])
    assert tally == {"turn_id": t0, "up": 1, "down": 0, "others_up": 0, "others_down": 3, "mine": -1}
    assert (shown_count(tally, "up"), shown_count(tally, "down")) == ("1", "0 (+3 from others)")  # ...and shown

    engine.rate(t1, BYSTANDERS[0], -1)  # a bystander alone makes no label at all
    assert t1 not in _labels(database)

    engine.rate(t1, candidate, -1)  # the candidate's vote does
    engine.rate(t2, recruiter, -1)  # so does a recruiter's
    engine.rate(t3, LEAD, 1)  # and a team lead's
    labels = _labels(database)
    assert labels == {t0: True, t1: False, t2: False, t3: True}
    with database.session() as session:
        roles = dict(session.execute(select(PreferencePair.turn_id, PreferencePair.rater_role)
                                     .where(PreferencePair.kind == "kto")).all())
    assert roles == {t0: "candidate", t1: "candidate", t2: "recruiter", t3: "team_lead"}  # no bystander

    engine.rate(t0, recruiter, -1)  # a recruiter disagreeing with the candidate: a tie, no label
    assert t0 not in _labels(database)


def test_a_flood_of_clicks_from_one_person_counts_once(
    engine: InterviewEngine, database: Database, candidate: Actor
) -> None:
    (turn,) = _turns(engine, candidate, 1)
    for n in range(60):  # the candidate clicks back and forth, ending on 👎
        engine.rate(turn, candidate, 1 if n % 2 else -1)
    engine.rate(turn, candidate, -1)
    for _ in range(100):  # one bystander hammers 👍
        engine.rate(turn, BYSTANDERS[0], 1)
    assert _stored(database, turn) == 2  # one row per person: their latest click
    assert _labels(database) == {turn: False}
    assert engine.tally(turn) == {"turn_id": turn, "up": 0, "down": 1, "others_up": 1, "others_down": 0}
    other = Actor("console", "cara-2")  # another candidate, but not this session's: a bystander here
    for _ in range(20):
        engine.rate(turn, other, 1)
    assert _labels(database) == {turn: False}


def test_a_bystanders_thumbs_up_never_makes_a_few_shot_exemplar(
    engine: InterviewEngine, database: Database, candidate: Actor
) -> None:
    from bot.store.exemplars import ExemplarSource

    liked, disliked = _turns(engine, candidate, 2)
    for person in BYSTANDERS:
        engine.rate(disliked, person, 1)  # bystanders' 👍 outnumber the candidate's 👎
    engine.rate(disliked, candidate, -1)
    assert ExemplarSource(database)("backend", "behavioral") == ()
    engine.rate(liked, candidate, 1)
    assert len(ExemplarSource(database)("backend", "behavioral")) == 1


def _variant_engine(database: Database) -> InterviewEngine:
    for name in ("live-v", "cand-v"):
        registry.register_candidate(
            database, name=name, backend="trl", base_model="tiny", artifact=None,
            metrics={"json_validity": 0.98, "agreement": 0.8, "preference_accuracy": 0.7,
                     "preference_accuracy_base": 0.5, "method": "dpo", "serving": "lora-adapter"},
        )
    registry.promote(database, "live-v")
    registry.set_traffic(database, "cand-v", 1.0)
    return InterviewEngine(database, OfflineProvider(), make_settings(), signals=InProcessSink(database),
                           variants=lambda: "cand-v")


def test_a_bystanders_vote_never_moves_an_ab_arm(database: Database, recruiter: Actor) -> None:
    engine = _variant_engine(database)
    cara = Actor("console", "cara")
    (turn,) = _turns(engine, cara, 1)

    def arm() -> tuple[int, int, int]:
        measured = registry.compare(database, "cand-v").candidate_arm
        return measured.up, measured.total, measured.sessions

    for person in BYSTANDERS:
        engine.rate(turn, person, -1)
    assert arm() == (0, 0, 0)  # bystanders alone: no outcome, the session does not count yet
    engine.rate(turn, cara, 1)
    assert arm() == (1, 1, 1)  # the candidate's 👍, the bystanders' 👎 ignored
    for _ in range(30):  # a flood from the candidate is still one vote
        engine.rate(turn, cara, 1)
    assert arm() == (1, 1, 1)
    engine.rate(turn, recruiter, -1)  # a recruiter's vote counts
    assert arm() == (1, 2, 1)
    assert registry.compare(database, "cand-v").candidate_arm.session_mean == 0.5
    assert _stored(database, turn) == 5  # every rating is stored


# ── KTO weights from the label balance ──────────────────────────────────────────────
def _rows(desirable: int, undesirable: int) -> list[dict[str, bool]]:
    return [{"label": True}] * desirable + [{"label": False}] * undesirable


@pytest.mark.parametrize(
    ("desirable", "undesirable", "expected"),
    [
        (50, 50, (1.0, 1.0)),  # balanced
        (60, 50, (1.0, 1.0)),  # 1.2: already in TRL's [1, 4/3]
        (20, 80, (4.6667, 1.0)),  # few 👍: desirable upweighted to 7/6 * 80/20
        (90, 10, (1.0, 7.7143)),  # few 👎: undesirable upweighted to 9 / (7/6)
        (45, 50, (1.2963, 1.0)),  # just under 1:1
    ],
)
def test_kto_weights_follow_the_label_balance(desirable: int, undesirable: int, expected: tuple) -> None:
    weights = data.kto_weights(_rows(desirable, undesirable))
    assert (weights.desirable, weights.undesirable) == (desirable, undesirable)
    assert (weights.desirable_weight, weights.undesirable_weight) == expected
    assert min(weights.desirable_weight, weights.undesirable_weight) == 1.0  # only the rarer kind moves
    low, high = data.KTO_RATIO_RANGE
    assert low <= weights.ratio <= high
    # KTOTrainer's own check (it warns when neither weight is in its range), bounds rounded as it rounds them.
    d, u, dw, uw = desirable, undesirable, weights.desirable_weight, weights.undesirable_weight
    des_ok = round(u * uw / d, 2) <= dw <= round(u * uw / d * 1.33, 2)
    und_ok = round(d * dw / u / 1.33, 2) <= uw <= round(d * dw / u, 2)
    assert des_ok or und_ok


def test_a_one_class_kto_dataset_is_refused_with_one_line(tmp_path: Path) -> None:
    rows = [row for row in kto_rows() if row["label"]]
    path = write_jsonl(tmp_path / "kto.jsonl", rows)
    with pytest.raises(data.DataError) as refused:
        data.load(path, "kto")
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"{path}: all {len(rows)} rows are desirable (👍): KTO needs both desirable and undesirable "
        "examples; collect more ratings or train with --method dpo or sft"
    )
    negatives = write_jsonl(tmp_path / "neg.jsonl", [row for row in kto_rows() if not row["label"]])
    with pytest.raises(data.DataError, match=r"rows are undesirable \(👎\): KTO needs both"):
        data.load(negatives, "kto")
    with pytest.raises(data.DataError, match="KTO needs both"):
        data.kto_weights(_rows(0, 5))


def test_loaded_kto_data_records_its_weights_and_the_trl_job_uses_them(tmp_path: Path) -> None:
    rows = kto_rows()
    rows = [row for row in rows if row["label"]] + [row for row in rows if not row["label"]][:3]
    loaded = data.load(write_jsonl(tmp_path / "kto.jsonl", rows), "kto")
    expected = dataclasses.asdict(data.kto_weights(loaded.train))
    assert loaded.snapshot["kto_weights"] == expected and expected["desirable_weight"] == 1.0
    assert expected["undesirable_weight"] > 1.0  # 👎 are rare here
    from tasks.training.trl_backend import TrlJob

    job = TrlJob(base="tiny", data=loaded, output_dir=tmp_path / "out", name="kto-1")
    chosen = job.hyperparameters()
    assert (chosen["desirable_weight"], chosen["undesirable_weight"]) == (
        expected["desirable_weight"], expected["undesirable_weight"])
    assert json.dumps(chosen)  # goes into the model card as is


def test_stats_and_rollups_count_the_votes_that_count_and_report_the_rest_apart(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    from bot.store.models import DailyRollup, utcnow
    from bot.store.stats import compute_stats
    from tasks.data import rollups

    t0, t1 = _turns(engine, candidate, 2)
    engine.rate(t0, candidate, 1)
    engine.rate(t1, recruiter, -1)
    for person in BYSTANDERS:
        engine.rate(t0, person, -1)
        engine.rate(t1, person, 1)
    stats = compute_stats(database, days=7, by="role")
    assert (stats.ratings_up, stats.ratings_down, stats.ratings_from_others, stats.satisfaction) == (1, 1, 6, 0.5)
    assert "1 👍 / 1 👎 (+6 from others, not counted)" in stats.as_text()
    rollups.rollup(database, days=1)
    with database.session() as session:
        (row,) = session.scalars(select(DailyRollup).where(DailyRollup.day == utcnow().date())).all()
    assert (row.ratings_up, row.ratings_down) == (1, 1)

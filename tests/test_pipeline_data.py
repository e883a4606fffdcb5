"""Preference data, exports, redaction and forgetting — on SQLite and PostgreSQL, no broker needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import (
    DailyRollup,
    DeadLetter,
    ModelVersion,
    OutboxMessage,
    PreferencePair,
    Rating,
    Turn,
    User,
    utcnow,
)
from chains.schemas import Feedback
from tasks.data import export, preferences, rollups
from tasks.data.prompting import completion_text
from tasks.pipeline import ingest, outbox, retrain_trigger
from tasks.pipeline.deadletter import record as dead_letter
from tests.conftest import make_settings

GOOD = (
    "When I was at my last company our checkout failed 3% of the time. My goal was to fix it within "
    "two weeks. I analysed the logs, I wrote a retry policy and I led the rollout. As a result "
    "failures dropped to 0.2%, and I learned to measure before changing anything."
)


def _interview(engine: InterviewEngine, actor: Actor, answers: list[str]) -> list[int]:
    started = engine.start(actor, role="backend", kind="behavioral", level="mid", questions=len(answers))
    turns = []
    for text in answers:
        progress = engine.answer(started.session.id, actor, text)
        assert progress.graded is not None
        turns.append(progress.graded.id)
    return turns


def _pairs(db: Database, **where: object) -> list[PreferencePair]:
    with db.session() as session:
        query = select(PreferencePair).order_by(PreferencePair.id)
        for name, value in where.items():
            query = query.where(getattr(PreferencePair, name) == value)
        return list(session.scalars(query))


def _feedback(db: Database, turn_id: int) -> Feedback:
    with db.session() as session:
        return Feedback.model_validate(session.get(Turn, turn_id).feedback)


def test_preference_data_from_ratings_and_corrections(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    t0, t1, t2 = _interview(engine, candidate, [GOOD, "I fixed it.", GOOD + " Also tests."])
    engine.rate(t0, candidate, 1)
    engine.rate(t1, candidate, -1)
    engine.rate(t2, candidate, 1)
    engine.rate(t2, recruiter, -1)  # a tie: no label
    better = _feedback(database, t1).model_copy(
        update={"score": 2, "summary": "Too short: say what you did."}
    )
    engine.correct(t1, recruiter, better)
    engine.correct(t1, Actor("slack", "URECRUIT"), better)  # the same correction twice: one pair
    engine.correct(t0, recruiter, _feedback(database, t0))  # no change: no pair

    first = preferences.build(database)
    kto = {p.turn_id: p for p in _pairs(database, kind="kto")}
    assert set(kto) == {t0, t1} and kto[t0].label is True and kto[t1].label is False
    assert kto[t0].rater_role == "candidate" and kto[t0].completion == completion_text(
        _feedback(database, t0).model_dump()
    )
    (pair,) = _pairs(database, kind="pair")
    assert (pair.source, pair.turn_id, pair.rater_role) == ("correction", t1, "recruiter")
    assert json.loads(pair.chosen)["summary"] == "Too short: say what you did."
    assert pair.rejected == completion_text(_feedback(database, t1).model_dump())
    assert pair.prompt[-1]["role"] == "user" and "I fixed it." in pair.prompt[-1]["content"]
    assert pair.session_id is not None and pair.correction_id is not None and pair.model_version
    assert first.created == 3

    again = preferences.build(database)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)  # idempotent
    engine.rate(t0, candidate, 0)  # withdrawn
    assert preferences.build(database).removed == 1
    assert {p.turn_id for p in _pairs(database, kind="kto")} == {t1}


def test_a_thumbs_up_and_a_thumbs_down_on_the_same_prompt_make_a_pair(
    engine: InterviewEngine, database: Database
) -> None:
    a, b = Actor("console", "ann"), Actor("console", "bob")
    (first,), (second,) = _interview(engine, a, [GOOD]), _interview(engine, b, [GOOD])
    with database.session() as session:  # the same question and answer, graded differently
        one, two = session.get(Turn, first), session.get(Turn, second)
        two.question, two.domain, two.key_points = one.question, one.domain, one.key_points
        two.feedback = {**one.feedback, "score": 3, "summary": "Weaker feedback."}
    engine.rate(first, a, 1)
    engine.rate(second, b, -1)
    preferences.build(database)
    (pair,) = _pairs(database, source="ratings")
    assert (pair.turn_id, pair.other_turn_id) == (first, second)
    assert json.loads(pair.rejected)["summary"] == "Weaker feedback."
    engine.rate(second, b, 1)  # changed their mind: no longer a pair
    preferences.build(database)
    assert _pairs(database, source="ratings") == []


def _seed(engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor) -> list[int]:
    turns = _interview(engine, candidate, [GOOD, "I rewrote the cache layer and it was faster."])
    engine.rate(turns[0], candidate, 1)
    engine.rate(turns[1], candidate, -1)
    fixed = _feedback(database, turns[1]).model_copy(update={"score": 3, "summary": "Say how much faster."})
    engine.correct(turns[1], recruiter, fixed)
    preferences.build(database)
    return turns


def test_exports_load_with_datasets_and_validate(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor, tmp_path: Path
) -> None:
    import datasets  # the dev extra: a missing package fails here, never skips

    _seed(engine, database, candidate, recruiter)
    expected = {"trl-dpo": 1, "trl-kto": 4, "openai-dpo": 1, "sft": 1}  # KTO: two labels + both sides of the pair
    for fmt, rows in expected.items():
        path = tmp_path / f"{fmt}.jsonl"
        seen: list[tuple[int, int]] = []
        result = export.export(
            database, fmt, path, progress=lambda done, total, seen=seen: seen.append((done, total))
        )
        assert result.rows == rows and export.validate_file(path, fmt) == rows
        assert seen[-1][0] == seen[-1][1] > 0  # the progress bar reached its end
        loaded = datasets.load_dataset("json", data_files=str(path), split="train")
        assert loaded.num_rows == rows
        first = loaded[0]
        if fmt == "trl-dpo":
            assert loaded.column_names == ["prompt", "chosen", "rejected"]
            assert [m["role"] for m in first["prompt"]] == ["system", "user"]
            assert (
                first["chosen"][0]["role"] == "assistant"
                and json.loads(first["chosen"][0]["content"])["score"] == 3
            )
        elif fmt == "trl-kto":
            assert loaded.column_names == ["prompt", "completion", "label"]
            assert sorted(loaded["label"]) == [False, False, True, True]
        elif fmt == "openai-dpo":
            assert loaded.column_names == ["input", "preferred_output", "non_preferred_output"]
            assert first["input"]["messages"][-1]["role"] == "user"
        else:  # sft: the recruiter's correction as the completion
            assert loaded.column_names == ["prompt", "completion"]
            assert json.loads(first["completion"][0]["content"])["summary"] == "Say how much faster."
    future = datetime.now(UTC) + timedelta(days=1)
    assert export.export(database, "trl-dpo", tmp_path / "none.jsonl", since=future).rows == 0


def test_validate_file_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {
        "prompt": [{"role": "user", "content": "q"}],
        "chosen": [{"role": "assistant", "content": "a"}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "chosen": []}) + "\n")
    with pytest.raises(export.ExportError, match=r"bad.jsonl:2: not a trl-dpo row \(chosen: "):
        export.validate_file(path, "trl-dpo")


def test_exports_redact_emails_phones_and_platform_names(database: Database, tmp_path: Path) -> None:
    from chains.providers.offline import OfflineProvider
    from tasks.pipeline.dispatch import InProcessSink

    settings = make_settings(RECRUITERS="slack:U0RECRUIT1")
    engine = InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database))
    dana, fox = (
        Actor("slack", "U0CANDID1", display_name="Dana Scully"),
        Actor("slack", "U0RECRUIT1", display_name="Fox Mulder"),
    )
    answer = (
        GOOD + " Reach me at dana.scully@example.org or +1 202 555 0143; my manager <@U0BOSS0001> "
        "and Dana from the platform team agreed. Discord: <@123456789012345678>."
    )
    (turn,) = _interview(engine, dana, [answer])
    engine.rate(turn, dana, -1)
    fixed = _feedback(database, turn).model_copy(
        update={"summary": "Fox Mulder here: good, but drop the contact details (fox@example.org)."}
    )
    engine.correct(turn, fox, fixed)
    preferences.build(database)
    text = ""
    for fmt in export.FORMATS:
        export.export(database, fmt, tmp_path / f"{fmt}.jsonl")
        text += (tmp_path / f"{fmt}.jsonl").read_text()
    for secret in (
        "dana.scully@example.org",
        "202 555 0143",
        "U0BOSS0001",
        "123456789012345678",
        "Dana",
        "Scully",
        "Fox Mulder",
        "fox@example.org",
        "U0CANDID1",
    ):
        assert secret not in text, secret
    for placeholder in ("[EMAIL]", "[PHONE]", "[USER]", "[NAME]"):
        assert placeholder in text, placeholder
    assert "retry policy" in text  # the answer itself is still there


def test_forgetting_removes_a_person_from_pairs_outbox_dead_letters_and_exports(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor, tmp_path: Path
) -> None:
    other = Actor("console", "otto")
    mine = _seed(engine, database, candidate, recruiter)
    (theirs,) = _interview(engine, other, [GOOD])
    engine.rate(theirs, other, 1)
    preferences.build(database)
    me = {"platform": "console", "user_id": candidate.user_id}
    outbox.keep(database, "record_rating", {"turn_id": theirs, "rater": me, "value": 1})
    outbox.keep(
        database,
        "record_rating",
        {"turn_id": theirs, "rater": {"platform": "console", "user_id": "otto"}, "value": 1},
    )
    dead_letter(database, "mockingbird.record_rating", {"turn_id": mine[0], "value": 9}, "malformed")
    assert engine.forget_me(candidate)

    with database.session() as session:
        assert {p.turn_id for p in session.scalars(select(PreferencePair))} == {theirs}
        assert [o.payload["rater"]["user_id"] for o in session.scalars(select(OutboxMessage))] == ["otto"]
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
    export.export(database, "trl-kto", tmp_path / "kto.jsonl")
    assert len((tmp_path / "kto.jsonl").read_text().splitlines()) == 1

    # A rating still in flight from before the request does not bring the person back ...
    before = (utcnow() - timedelta(seconds=5)).isoformat()
    ingest.record_rating(database, {"turn_id": theirs, "rater": me, "value": -1, "at": before})
    with database.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(User).where(User.platform_user_id == "cara")) == 0
        )
    # ... nor does it become a dead letter; a rating made afterwards is new data.
    assert (
        dead_letter(
            database,
            "mockingbird.record_rating",
            {"turn_id": mine[0], "rater": me, "at": before},
            "rating for unknown turn",
        )
        is None
    )
    ingest.record_rating(database, {"turn_id": theirs, "rater": me, "value": 1, "at": utcnow().isoformat()})
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating).where(Rating.turn_id == theirs)) == 2


def test_forgetting_a_recruiter_removes_the_pairs_made_from_their_corrections(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    _seed(engine, database, candidate, recruiter)
    assert len(_pairs(database, source="correction")) == 1
    engine.forget(recruiter.platform, recruiter.user_id)
    assert _pairs(database, source="correction") == []
    assert len(_pairs(database, kind="kto")) == 2  # the candidate's own labels stay


def test_an_older_message_never_overwrites_a_newer_rating(
    engine: InterviewEngine, database: Database, candidate: Actor
) -> None:
    (turn,) = _interview(engine, candidate, [GOOD])
    person = {"platform": "console", "user_id": candidate.user_id}
    now = utcnow()
    assert (
        ingest.record_rating(
            database, {"turn_id": turn, "rater": person, "value": -1, "at": now.isoformat()}
        )["down"]
        == 1
    )
    late = {"turn_id": turn, "rater": person, "value": 1, "at": (now - timedelta(seconds=30)).isoformat()}
    assert ingest.record_rating(database, late) == {
        "turn_id": turn,
        "up": 0,
        "down": 1,
        "others_up": 0,
        "others_down": 0,
        "mine": -1,
    }  # from the outbox, late
    assert (
        ingest.record_rating(database, {**late, "value": 0})["down"] == 1
    )  # a stale withdrawal is ignored too
    newer = {"turn_id": turn, "rater": person, "value": 1, "at": (now + timedelta(seconds=1)).isoformat()}
    assert ingest.record_rating(database, newer) == {"turn_id": turn, "up": 1, "down": 0, "others_up": 0,
                                                     "others_down": 0, "mine": 1}


def test_retraining_trigger_counts_new_pairs_since_the_last_model(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    settings = make_settings(RETRAIN_MIN_PAIRS=2)
    _seed(engine, database, candidate, recruiter)
    status = retrain_trigger.check(database, settings)
    assert (status["new_pairs"], status["new_kto"], status["due"]) == (1, 2, False)
    assert retrain_trigger.due(database) is None
    turns = _interview(engine, candidate, ["I migrated the queue to Kafka without downtime."])
    fixed = _feedback(database, turns[0]).model_copy(update={"summary": "Explain how you avoided downtime."})
    engine.correct(turns[0], recruiter, fixed)
    preferences.build(database)
    status = retrain_trigger.check(database, settings)
    assert status["due"] and status["new_pairs"] == 2
    assert retrain_trigger.due(database)["new_pairs"] == 2 and not retrain_trigger.due(database)["started"]
    with database.session() as session:
        session.add(ModelVersion(name="dpo-1", backend="trl", created_at=utcnow() + timedelta(seconds=1)))
    assert retrain_trigger.check(database, settings)["new_pairs"] == 0


def test_daily_rollups_are_recomputed_not_added(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    _seed(engine, database, candidate, recruiter)
    for _ in range(2):
        rollups.rollup(database, days=2)
    with database.session() as session:
        (row,) = session.scalars(select(DailyRollup).where(DailyRollup.day == utcnow().date())).all()
    assert (row.role, row.kind, row.sessions, row.completed, row.graded_turns) == (
        "backend",
        "behavioral",
        1,
        1,
        2,
    )
    assert (row.ratings_up, row.ratings_down, row.corrections) == (1, 1, 1)


def test_a_batch_of_ratings_is_stored_once_with_poison_set_aside(
    engine: InterviewEngine, database: Database, candidate: Actor
) -> None:
    from tasks.pipeline import bulk

    t0, t1 = _interview(engine, candidate, [GOOD, "I shipped it."])
    now = utcnow()

    def rating(turn: int, user: str, value: int, seconds: int = 0) -> dict[str, object]:
        return {
            "turn_id": turn,
            "value": value,
            "rater": {"platform": "slack", "user_id": user},
            "at": (now + timedelta(seconds=seconds)).isoformat(),
        }

    batch = [
        rating(t0, "U1", 1),
        rating(t0, "U1", -1, seconds=2),
        rating(t0, "U1", 1, seconds=1),
        rating(t1, "U2", 1),
        {"turn_id": t1, "value": 7},
        rating(424242, "U3", 1),
        rating(t1, "U4", 0),
    ]
    result = bulk.record_ratings(database, batch)
    assert (result.stored, result.withdrawn, result.dead) == (2, 1, 2)
    again = bulk.record_ratings(database, batch)  # a redelivery: the same rows, updated in place
    assert (again.stored, again.dead) == (2, 2)
    with database.session() as session:
        stored = [(r.turn_id, r.value) for r in session.scalars(select(Rating))]
        reasons = sorted(d.reason for d in session.scalars(select(DeadLetter)))
    assert sorted(stored) == sorted({(t0, -1), (t1, 1)})  # no duplicates; U1's newest choice won
    # Each delivery of a poison message is recorded (the dead letters are a log of deliveries).
    assert len(reasons) == 4 and len(distinct := sorted(set(reasons))) == 2
    assert distinct[0].startswith("malformed rating payload: rater: Field required")
    assert distinct[1] == "rating for unknown turn 424242"


def test_forgetting_scrubs_the_persons_answers_from_other_candidates_stored_prompts(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor
) -> None:
    """Cara's corrected answer is a few-shot exemplar in Otto's grading prompt (built by the real
    feedback chain, stored as the engine stores it); forgetting Cara takes it out of Otto's prompt."""
    from bot.store.exemplars import ExemplarSource
    from bot.store.privacy import REMOVED_EXEMPLAR
    from tests.prompt_support import stored_grading_prompt

    secret = "At Initech I rebuilt the billing cron with Cara's pager rota & cut incidents by 40%, <see> notes."
    (mine,) = _interview(engine, candidate, [secret])
    engine.correct(mine, recruiter, _feedback(database, mine).model_copy(update={"summary": "Say more."}))
    (theirs,) = _interview(engine, Actor("console", "otto"), [GOOD])
    exemplars = ExemplarSource(database, ttl_s=0)("backend", "behavioral")
    assert exemplars, "the corrected answer is an exemplar"

    stored, messages = stored_grading_prompt(GOOD, exemplars)
    assert "billing cron" in stored and messages >= 4  # system, exemplar pair, Otto's answer
    with database.session() as session:
        session.get(Turn, theirs).prompt = stored

    assert engine.forget_me(candidate)
    with database.session() as session:
        kept = json.loads(session.get(Turn, theirs).prompt)
    dumped = json.dumps(kept)
    assert "billing cron" not in dumped and "Initech" not in dumped and "Say more." not in dumped
    assert REMOVED_EXEMPLAR in dumped
    assert kept[0] == json.loads(stored)[0] and kept[-1] == json.loads(stored)[-1]  # system and Otto's answer
    assert "checkout failed" in kept[-1]["content"]


@pytest.mark.parametrize(
    "text,names,secret,placeholder",
    [
        ("card 4111 1111 1111 1111 on file", (), "4111 1111 1111 1111", "[CARD]"),
        ("card 4111-1111-1111-1111 on file", (), "4111-1111-1111-1111", "[CARD]"),
        ("card 5555555555554444.", (), "5555555555554444", "[CARD]"),
        ("amex 3782 822463 10005", (), "3782 822463 10005", "[CARD]"),
        ("ask jane, she knows", ("Jane Doe",), "jane", "[NAME]"),
        ("DOE signed it", ("Jane Doe",), "DOE", "[NAME]"),
        ("Zoe Angstrom wrote it", ("Zoë Ångström",), "Angstrom", "[NAME]"),
        ("ask zoe about it", ("Zoë Ångström",), "zoe", "[NAME]"),
        ("Soren led it", ("Søren Kierkegaard",), "Soren", "[NAME]"),
        ("José and jose", ("Jose Garcia",), "Jos", "[NAME]"),
        ("see linkedin.com/in/jane-doe-123 please", (), "jane-doe-123", "[PROFILE]"),
        ("https://www.linkedin.com/in/jane-doe-123/ is me", (), "jane-doe-123", "[PROFILE]"),
        ("code at github.com/janedoe and https://github.com/janedoe/dotfiles", (), "janedoe", "[PROFILE]"),
    ],
)
def test_redaction_catches_cards_loose_names_and_profile_urls(
    text: str, names: tuple[str, ...], secret: str, placeholder: str
) -> None:
    from chains.redact import redact

    out = redact(text, names)
    assert secret not in out and placeholder in out, out


def test_redaction_leaves_look_alikes_alone() -> None:
    from chains.redact import redact

    assert redact("not a card: 4111 1111 1111 1112") == "not a card: 4111 1111 1111 1112"  # fails Luhn
    assert redact("from 2023-01-15 to 2024-02-16") == "from 2023-01-15 to 2024-02-16"
    # a name part that is an everyday word goes only when written as a name
    assert redact("I will ask Will; grace period", ("Will Grace",)) == "I will ask [NAME]; grace period"
    assert redact("see https://docs.python.org/3/") == "see https://docs.python.org/3/"


def test_exports_redact_cards_lower_case_names_and_profiles(database: Database, tmp_path: Path) -> None:
    from chains.providers.offline import OfflineProvider
    from tasks.pipeline.dispatch import InProcessSink

    engine = InterviewEngine(database, OfflineProvider(), make_settings(), signals=InProcessSink(database))
    zoe = Actor("slack", "U0ZOEZOE1", display_name="Zoë Ångström")
    answer = (GOOD + " I'm zoe angstrom (github.com/zangstrom, linkedin.com/in/zoe-angstrom-42); "
              "the refund went to card 4111-1111-1111-1111.")
    (turn,) = _interview(engine, zoe, [answer])
    engine.rate(turn, zoe, 1)
    preferences.build(database)
    export.export(database, "trl-kto", tmp_path / "kto.jsonl")
    text = (tmp_path / "kto.jsonl").read_text()
    for secret in ("zoe", "angstrom", "zangstrom", "zoe-angstrom-42", "4111"):
        assert secret not in text.lower(), secret
    assert "[CARD]" in text and "[PROFILE]" in text and "[NAME]" in text


def test_export_files_are_private_to_their_owner(
    engine: InterviewEngine, database: Database, candidate: Actor, tmp_path: Path
) -> None:
    import os
    import stat

    (turn,) = _interview(engine, candidate, [GOOD])
    engine.rate(turn, candidate, 1)
    preferences.build(database)
    out = tmp_path / "kto.jsonl"
    out.write_text("STALE-EXPORT\n")
    out.chmod(0o644)  # an earlier, world-readable file of the same name
    old = os.umask(0o022)
    try:
        export.export(database, "trl-kto", out)
        fresh = tmp_path / "deeper" / "sft.jsonl"
        export.export(database, "sft", fresh)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and "STALE-EXPORT" not in out.read_text()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_profile_redaction_needs_the_site_not_a_suffix_of_another() -> None:
    from chains.redact import redact

    assert redact("files on box.com/shared, CI/CD, blue/green") == "files on box.com/shared, CI/CD, blue/green"


def test_forgetting_takes_the_persons_answers_out_of_gemini_exemplar_sets(
    engine: InterviewEngine, database: Database, candidate: Actor, recruiter: Actor, tmp_path: Path
) -> None:
    from bot.store.models import ModelVersion
    from tasks.training.gemini_backend import (
        RegistryExemplars,
        build_exemplar_set,
        set_snapshot,
        write_exemplar_set,
    )

    secret = "At Initech I rebuilt the billing cron and my pager rota cut incidents by 40% over one quarter."
    (mine,) = _interview(engine, candidate, [secret])
    engine.correct(mine, recruiter, _feedback(database, mine).model_copy(update={"summary": "Say more."}))
    otto = Actor("console", "otto")
    (theirs,) = _interview(engine, otto, [GOOD])
    engine.rate(theirs, otto, 1)
    groups = build_exemplar_set(database)
    assert len(groups["backend/behavioral"]) == 2
    path = write_exemplar_set(tmp_path / "mb-gemini-1" / "exemplars.json", "mb-gemini-1", groups)
    with database.session() as session:
        session.add(ModelVersion(name="mb-gemini-1", backend="gemini", artifact=str(path), status="live",
                                 promoted_at=utcnow(), data_snapshot=set_snapshot(groups)))
    served = RegistryExemplars(database)
    assert any("billing cron" in answer for _, answer, _ in served("backend", "behavioral"))  # cached now

    assert engine.forget_me(candidate)
    with database.session() as session:
        snapshot = session.scalars(select(ModelVersion)).one().data_snapshot
    assert "billing cron" not in json.dumps(snapshot) and snapshot["exemplars"] == 1
    assert "billing cron" not in path.read_text() and "checkout failed" in path.read_text()
    answers = [answer for _, answer, _ in served("backend", "behavioral")]
    assert len(answers) == 1 and "checkout failed" in answers[0]  # the cached set was refreshed

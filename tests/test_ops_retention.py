"""Retention: transcripts of sessions idle longer than RETENTION_DAYS are scrubbed, numbers are kept."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from bot.config import get_settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import (
    Correction,
    DeadLetter,
    InterviewSession,
    OutboxMessage,
    PreferencePair,
    ProcessedEvent,
    Rating,
    SessionState,
    SurveyResponse,
    Turn,
    TurnState,
    utcnow,
)
from bot.store.stats import compute_stats
from chains.schemas import Feedback
from tasks.data.retention import PURGED_FOLLOW_UP, PURGED_SUMMARY, purge_expired, purge_from_settings

ANSWER = "At Acme I, Jane Doe, cut p99 latency by 40% by adding a cache; call me on 555-0100."
OLD = timedelta(days=40)


def _interview(engine: InterviewEngine, candidate: Actor, recruiter: Actor, *, finish: bool) -> int:
    started = engine.start(candidate, role="backend", questions=2)
    sid = started.session.id
    first = engine.answer(sid, candidate, ANSWER)
    assert first.graded is not None
    engine.rate(first.graded.id, candidate, 1)
    engine.correct(
        first.graded.id,
        recruiter,
        Feedback(score=4, summary="Jane rambled.", weaknesses=["vague"]),
        note="Jane Doe should add numbers",
    )
    if finish:
        engine.answer(sid, candidate, ANSWER)
        engine.survey(sid, candidate, 4, "Loved it — Jane")
    with engine.db.session() as session:
        session.add(
            PreferencePair(
                kind="pair",
                source="correction",
                dedup_key=f"pair-{sid}",
                session_id=sid,
                turn_id=first.graded.id,
                prompt=[{"role": "user", "content": ANSWER}],
                chosen="Jane rambled.",
                rejected="Great answer",
            )
        )
    return sid


def _age(db: Database, session_id: int, by: timedelta = OLD) -> None:
    with db.session() as session:
        session.execute(
            update(InterviewSession).where(InterviewSession.id == session_id).values(updated_at=utcnow() - by)
        )


def _count(db: Database, model: type, *where: object) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def history(engine: InterviewEngine, candidate: Actor, recruiter: Actor) -> dict[str, int]:
    """An old finished session, an old abandoned one, a recent one, and old and new housekeeping rows."""
    ids = {
        "old": _interview(engine, candidate, recruiter, finish=True),
        "abandoned": _interview(engine, Actor("console", "abe"), recruiter, finish=False),
        "recent": _interview(engine, Actor("console", "rhea"), recruiter, finish=True),
    }
    db = engine.db
    with db.session() as session:  # the old session's second question was a follow-up quoting the answer
        second = session.scalars(select(Turn).where(Turn.session_id == ids["old"], Turn.index == 1)).one()
        second.follow_up_of, second.question = second.id - 1, "You mentioned Jane Doe's cache: why there?"
        long_ago = utcnow() - OLD
        session.add_all(
            [
                OutboxMessage(
                    task="record_rating", payload={"x": 1}, idempotency_key="old", delivered_at=long_ago
                ),
                OutboxMessage(task="record_rating", payload={"x": 2}, idempotency_key="pending"),
                OutboxMessage(
                    task="record_rating", payload={"x": 3}, idempotency_key="new", delivered_at=utcnow()
                ),
                DeadLetter(
                    task="record_correction", payload={"note": "Jane"}, reason="poison", created_at=long_ago
                ),
                DeadLetter(task="record_correction", payload={}, reason="poison"),
                ProcessedEvent(key="slack:Ev-old", created_at=long_ago),
                ProcessedEvent(key="slack:Ev-new"),
            ]
        )
    _age(db, ids["old"])
    _age(db, ids["abandoned"])
    return ids


def test_purge_removes_old_text_and_keeps_the_numbers(
    engine: InterviewEngine, history: dict[str, int]
) -> None:
    db = engine.db
    ratings, corrections = _count(db, Rating), _count(db, Correction)
    stats_before = compute_stats(db, days=365)

    report = purge_expired(db, 30)

    assert (report.sessions, report.ended, report.preference_pairs) == (2, 1, 2)
    assert (report.outbox, report.dead_letters, report.processed_events, report.surveys) == (1, 1, 1, 1)
    assert report.corrections == 2 and report.turns == 3  # two old answers, one abandoned
    with db.session() as session:
        for name in ("old", "abandoned"):
            for turn in session.scalars(select(Turn).where(Turn.session_id == history[name])):
                assert turn.answer is None and turn.prompt is None and turn.raw_output is None
                assert turn.state in (TurnState.graded, TurnState.skipped)
                if turn.feedback is not None:
                    feedback = Feedback.model_validate(turn.feedback)  # still a valid Feedback
                    assert feedback.summary == PURGED_SUMMARY and not feedback.strengths + feedback.weaknesses
                    assert 1 <= feedback.score <= 10
        follow_up = session.scalars(
            select(Turn).where(Turn.session_id == history["old"], Turn.index == 1)
        ).one()
        assert follow_up.question == PURGED_FOLLOW_UP
        abandoned = session.get(InterviewSession, history["abandoned"])
        assert abandoned is not None and abandoned.state == SessionState.ended
        assert abandoned.updated_at.replace(tzinfo=None) < (utcnow() - timedelta(days=30)).replace(
            tzinfo=None
        )
        survey = session.scalars(
            select(SurveyResponse).where(SurveyResponse.session_id == history["old"])
        ).one()
        assert survey.comment is None and survey.usefulness == 4
        for correction in session.scalars(
            select(Correction).join(Turn).where(Turn.session_id != history["recent"])
        ):
            assert correction.note is None and correction.feedback["summary"] == PURGED_SUMMARY
            assert correction.feedback["score"] == 4
        recent = session.scalars(select(Turn).where(Turn.session_id == history["recent"])).all()
        assert all(t.answer == ANSWER for t in recent)
        everything = json.dumps(
            [
                [t.answer, t.prompt, t.raw_output, t.feedback, t.question]
                for t in session.scalars(select(Turn).where(Turn.session_id != history["recent"]))
            ]
        )
        assert "Jane" not in everything and "555-0100" not in everything
    assert _count(db, PreferencePair) == 1  # the recent session's
    assert _count(db, OutboxMessage) == 2 and _count(db, DeadLetter) == 1 and _count(db, ProcessedEvent) == 1
    assert (_count(db, Rating), _count(db, Correction)) == (ratings, corrections)

    stats_after = compute_stats(db, days=365)
    assert (stats_after.sessions, stats_after.graded_turns) == (
        stats_before.sessions,
        stats_before.graded_turns,
    )
    assert (
        stats_after.model_dump()["groups"] == stats_before.model_dump()["groups"]
    )  # satisfaction history kept
    report_view = engine.report(history["old"])  # old sessions still open in every screen
    assert report_view.answered == 2 and report_view.average_score is not None


def test_an_abandoned_session_without_answers_is_ended(engine: InterviewEngine, candidate: Actor) -> None:
    started = engine.start(candidate, role="backend", questions=2)  # asked, never answered
    _age(engine.db, started.session.id)
    report = purge_expired(engine.db, 30)
    assert (report.sessions, report.ended) == (0, 1)  # no text to remove, but no longer open
    view = engine.get(started.session.id)
    assert view.state == SessionState.ended and all(t.state == TurnState.skipped for t in view.turns)


def test_a_second_purge_changes_nothing(engine: InterviewEngine, history: dict[str, int]) -> None:
    purge_expired(engine.db, 30)
    again = purge_expired(engine.db, 30)
    assert [
        again.sessions,
        again.turns,
        again.corrections,
        again.surveys,
        again.preference_pairs,
        again.outbox,
        again.dead_letters,
        again.processed_events,
        again.ended,
    ] == [0] * 9


def test_a_dry_run_counts_and_changes_nothing(engine: InterviewEngine, history: dict[str, int]) -> None:
    dry = purge_expired(engine.db, 30, dry_run=True)
    assert dry.dry_run and dry.sessions == 2
    assert _count(engine.db, Turn, Turn.answer.is_not(None)) == 5
    assert _count(engine.db, PreferencePair) == 3
    real = purge_expired(engine.db, 30)
    assert (real.sessions, real.turns, real.preference_pairs) == (
        dry.sessions,
        dry.turns,
        dry.preference_pairs,
    )


def test_small_batches_purge_everything(engine: InterviewEngine, history: dict[str, int]) -> None:
    assert purge_expired(engine.db, 30, batch_size=1).sessions == 2
    assert _count(engine.db, Turn, Turn.answer.is_not(None)) == 2  # the recent session only


def test_retention_must_be_at_least_a_day(sqlite_db: Database) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        purge_expired(sqlite_db, 0)


def test_retention_days_zero_keeps_everything(monkeypatch: pytest.MonkeyPatch, sqlite_db: Database) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_db.url)
    monkeypatch.setenv("RETENTION_DAYS", "0")
    get_settings.cache_clear()
    assert purge_from_settings() is None


def test_cli_purges_with_retention_days(
    monkeypatch: pytest.MonkeyPatch, engine: InterviewEngine, history: dict[str, int]
) -> None:
    from bot.cli import app

    monkeypatch.setenv("DATABASE_URL", engine.db.url)
    monkeypatch.setenv("RETENTION_DAYS", "30")
    get_settings.cache_clear()
    runner = CliRunner()
    dry = runner.invoke(app, ["retention", "purge", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["sessions"] == 2 and json.loads(dry.stdout)["dry_run"] is True
    assert _count(engine.db, Turn, Turn.answer.is_not(None)) == 5
    done = runner.invoke(app, ["retention", "purge"])
    assert done.exit_code == 0 and "Purged 2 session(s)" in done.output.replace("\n", " ")
    assert _count(engine.db, Turn, Turn.answer.is_not(None)) == 2
    monkeypatch.setenv("RETENTION_DAYS", "0")
    get_settings.cache_clear()
    off = runner.invoke(app, ["retention", "purge"])
    assert off.exit_code == 0 and "keeps transcripts forever" in off.output.replace("\n", " ")


def test_purged_transcripts_never_become_training_pairs(
    engine: InterviewEngine, history: dict[str, int]
) -> None:
    from tasks.data.preferences import build

    purge_expired(engine.db, 30)
    build(engine.db)
    with engine.db.session() as session:
        purged_turns = set(session.scalars(select(Turn.id).where(Turn.session_id == history["old"])))
        built = session.scalars(
            select(PreferencePair.turn_id).where(PreferencePair.dedup_key != f"pair-{history['recent']}")
        ).all()
    assert purged_turns and not purged_turns & set(built)
    assert _count(engine.db, PreferencePair, PreferencePair.session_id == history["recent"]) >= 1

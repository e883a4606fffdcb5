"""Team-lead statistics on a known fixture."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from bot.store.models import InterviewSession, Rating, SessionState, Turn, TurnState, User, utcnow
from bot.store.stats import compute_stats, render_chart, wilson_interval

ANSWER = "When I was at my last job I led a migration; I planned it, I wrote the runbook, latency fell 40%."


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (None, None)


def test_stats_count_sessions_ratings_corrections_and_surveys(engine: InterviewEngine, database: Database,
                                                              recruiter: Actor) -> None:
    for index, (role, rating) in enumerate([("backend", 1), ("backend", -1), ("qa", 1), ("qa", 1)]):
        person = Actor("console", f"c{index}")
        started = engine.start(person, role=role, questions=1)
        turn = engine.answer(started.session.id, person, ANSWER).graded
        engine.rate(turn.id, person, rating)
        if index == 0:
            engine.correct(turn.id, recruiter, turn.feedback)
            engine.survey(started.session.id, person, 4)
    engine.start(Actor("console", "quitter"), role="qa", questions=2)

    stats = compute_stats(database, days=7, by="role")
    assert (stats.sessions, stats.completed, stats.graded_turns) == (5, 4, 4)
    assert (stats.ratings_up, stats.ratings_down) == (3, 1)
    assert stats.satisfaction == 0.75 and stats.ci_low < 0.75 < stats.ci_high
    assert stats.completion_rate == 0.8 and stats.corrected_turns == 1 and stats.correction_rate == 0.25
    assert stats.survey_responses == 1 and stats.survey_average == 4
    assert {g.key: (g.up, g.down) for g in stats.groups} == {"backend": (1, 1), "qa": (2, 0)}
    assert stats.json_valid_rate is None  # offline turns are not LLM calls
    assert "75%" in stats.as_text()
    png = render_chart(stats)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert compute_stats(database, days=7, by="week").groups[0].key.count("-W") == 1
    with pytest.raises(ValueError):
        compute_stats(database, by="colour")


def _feedback(score: int) -> dict[str, object]:
    return {"score": score, "strengths": [], "weaknesses": [], "suggestions": [], "criteria": {}, "summary": "s"}


def test_figures_by_model_and_week_are_counted_by_the_database(database: Database) -> None:
    """Ratings on known UTC days across three ISO weeks, from two model versions and the offline rubric."""
    now = utcnow()
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    weeks_ago = [monday - timedelta(weeks=n) + timedelta(hours=12) for n in (0, 1, 2)]
    rows = [  # (provider, model version, score, valid first try, rated at, rating)
        ("tgi", "llama-v2", 8, True, weeks_ago[0], 1),
        ("tgi", "llama-v2", 6, False, weeks_ago[0], -1),
        ("tgi", "llama-v2", 7, True, weeks_ago[1], 1),
        ("openai", "gpt-ft-1", 5, True, weeks_ago[1], 1),
        ("offline", None, 4, None, weeks_ago[2], -1),
        ("openai", "gpt-ft-1", 9, True, now - timedelta(days=40), 1),  # graded and rated outside the window
    ]
    with database.session() as session:
        person = User(platform="slack", platform_user_id="U1")
        session.add(person)
        for provider, version, score, valid, moment, value in rows:
            record = InterviewSession(platform="slack", candidate=person, role="backend", kind="technical",
                                      level="mid", planned_questions=1, state=SessionState.completed,
                                      created_at=moment)
            turn = Turn(session=record, index=0, state=TurnState.graded, question="q", feedback=_feedback(score),
                        provider=provider, model_version=version, valid_first_try=valid, graded_at=moment)
            session.add(turn)
            session.flush()
            session.add(Rating(turn_id=turn.id, rater_id=person.id, value=value, created_at=moment,
                               updated_at=moment))

    by_model = compute_stats(database, days=30, by="model")
    assert (by_model.graded_turns, by_model.average_score) == (5, 6.0)
    assert (by_model.llm_turns, by_model.json_valid_rate) == (4, 0.75)  # the offline turn is no LLM call
    assert (by_model.ratings_up, by_model.ratings_down, by_model.satisfaction) == (3, 2, 0.6)
    assert {g.key: (g.up, g.down) for g in by_model.groups} == {
        "gpt-ft-1": (1, 0), "llama-v2": (2, 1), "offline": (0, 1)
    }
    weeks = [_week_of(moment) for moment in weeks_ago]
    assert [(g.key, g.up, g.down) for g in by_model.weekly] == [
        (weeks[2], 0, 1), (weeks[1], 2, 0), (weeks[0], 1, 1)
    ]
    by_week = compute_stats(database, days=30, by="week")
    assert [(g.key, g.up, g.down) for g in by_week.groups] == [(g.key, g.up, g.down) for g in by_model.weekly]
    assert compute_stats(database, days=90, by="model").ratings_up == 4


def _week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def test_guardrail_interventions_are_counted_per_model_version(engine: InterviewEngine, database: Database) -> None:
    person = Actor("console", "g0")
    turn = engine.answer(engine.start(person, role="qa", questions=1).session.id, person, ANSWER).graded
    assert compute_stats(database, days=7).guardrail_capped == {}
    with database.session() as session:
        session.get(Turn, turn.id).guardrail = "off-topic"
        session.get(Turn, turn.id).model_version = "ft:gpt-4o-mini:mb-1"
        session.commit()
    stats = compute_stats(database, days=7)
    assert stats.guardrail_capped == {"ft:gpt-4o-mini:mb-1": 1}
    assert "capped by the rubric: ft:gpt-4o-mini:mb-1: 1" in stats.as_text()

"""Team-lead statistics on a known fixture."""

from __future__ import annotations

import pytest

from bot.engine import Actor, InterviewEngine
from bot.store.db import Database
from tasks.stats import compute_stats, render_chart, wilson_interval

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

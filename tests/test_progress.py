"""Progress over time (#21): exact figures on a seeded history, on SQLite and PostgreSQL; roles; CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings
from bot.engine import Actor, Forbidden, InterviewEngine
from bot.engine.progress import team_csv
from bot.store.db import Database
from bot.store.models import InterviewSession, SessionState, Turn, TurnState, User

CARA = Actor("console", "cara", display_name="Cara Candidate")
TESS = Actor("console", "tess", display_name="Tess Lead")


def _feedback(score: int, structure: int, delivery: int, *suggestions: str) -> dict[str, object]:
    return {"score": score, "summary": "s", "criteria": {"structure": structure, "delivery": delivery},
            "suggestions": list(suggestions), "strengths": [], "weaknesses": [], "outline": []}


def seed(db: Database) -> None:
    """Cara: backend on Dec 1 (a weak answer, then a better second attempt), frontend on Dec 2, backend
    on Dec 4; Otto: backend on Dec 3; someone on Slack, who never counts for the console team."""
    plan = [
        ("console", "cara", "backend", [(1, 9, _feedback(4, 3, 6, "Use STAR"), False),
                                        (1, 10, _feedback(7, 7, 6, "Add numbers"), True)]),
        ("console", "cara", "frontend", [(2, 9, _feedback(6, 5, 8, "Use STAR"), False),
                                         (2, 10, _feedback(8, 6, 9), False)]),
        ("console", "cara", "backend", [(4, 9, _feedback(5, 4, 7), False)]),
        ("console", "otto", "backend", [(3, 9, _feedback(2, 2, 4), False)]),
        ("slack", "U1", "backend", [(3, 9, _feedback(1, 1, 1), False)]),
    ]
    with db.session() as session:
        users: dict[tuple[str, str], User] = {}
        for platform, user_id, role, turns in plan:
            user = users.get((platform, user_id))
            if user is None:
                user = users[(platform, user_id)] = User(platform=platform, platform_user_id=user_id)
                session.add(user)
                session.flush()
            record = InterviewSession(platform=platform, candidate_id=user.id, role=role, kind="behavioral",
                                      level="mid", planned_questions=len(turns), state=SessionState.completed)
            session.add(record)
            session.flush()
            previous = None
            for index, (day, hour, feedback, retry) in enumerate(turns):
                when = datetime(2026, 12, day, hour, tzinfo=UTC)
                turn = Turn(session_id=record.id, index=index, question="q?", state=TurnState.graded, answer="a",
                            feedback=feedback, asked_at=when, graded_at=when,
                            attempt_of=previous.id if retry and previous else None)
                session.add(turn)
                session.flush()
                previous = turn


def test_progress_figures_are_exact(database: Database, settings) -> None:  # type: ignore[no-untyped-def]
    seed(database)
    engine = InterviewEngine(database, None, settings)  # type: ignore[arg-type]
    mine = engine.progress(CARA, today=date(2026, 12, 4))
    assert (mine.answers, mine.sessions, mine.average) == (4, 3, 5.75)  # first attempts only
    assert mine.by_role == {"backend": {"answers": 2, "average": 4.5}, "frontend": {"answers": 2, "average": 7.0}}
    assert mine.criteria == {"delivery": {"answers": 4, "average": 7.5, "first": 6.0, "latest": 7.0},
                             "structure": {"answers": 4, "average": 4.5, "first": 3.0, "latest": 4.0}}
    assert [(p.day, p.role, p.average, p.criteria["structure"]) for p in mine.timeline] == [
        ("2026-12-01", "backend", 4.0, 3.0), ("2026-12-02", "frontend", 7.0, 5.5), ("2026-12-04", "backend", 5.0, 4.0)]
    # structure after "Use STAR": +4 (3 -> 7) and +1 (5 -> 6); after "Add numbers": -2
    assert [(w.criterion, w.average, w.helped_most, w.gain) for w in mine.weakest] == [
        ("structure", 4.5, "Use STAR", 2.5), ("delivery", 7.5, "Add numbers", 2.0)]
    assert (mine.streak_days, mine.longest_streak_days, mine.practice_days) == (1, 2, 3)
    assert engine.progress(CARA, today=date(2026, 12, 5)).streak_days == 1  # alive until the day ends
    assert engine.progress(CARA, today=date(2026, 12, 6)).streak_days == 0
    with pytest.raises(Forbidden, match="only team leads"):
        engine.team_progress(CARA)
    team = engine.team_progress(TESS)
    assert [(r.role, r.criterion, r.average, r.answers, r.candidates) for r in team] == [
        ("backend", "structure", 3.0, 3, 2), ("backend", "delivery", 5.67, 3, 2),
        ("frontend", "structure", 5.5, 2, 1), ("frontend", "delivery", 8.5, 2, 1)]
    rows = list(csv.reader(io.StringIO(team_csv(team))))
    assert rows[0] == ["role", "criterion", "average", "answers", "candidates"]
    assert rows[1] == ["backend", "structure", "3.0", "3", "2"]


def test_progress_cli_json_and_team_csv(sqlite_db: Database, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seed(sqlite_db)
    monkeypatch.setenv("DATABASE_URL", sqlite_db.url)
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(app, ["progress", "--user", "cara", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["average"] == 5.75 and figures["weakest"][0]["helped_most"] == "Use STAR"
    shown = runner.invoke(app, ["progress", "--user", "cara"]).stdout
    assert "structure" in shown and "Use STAR" in shown and "backend" in shown
    refused = runner.invoke(app, ["progress", "--user", "cara", "--team"])
    assert refused.exit_code == 1 and "only team leads" in refused.output
    out = tmp_path / "team.csv"
    lead = runner.invoke(app, ["progress", "--user", "tess", "--team", "--team-lead", "--csv", str(out)])
    assert lead.exit_code == 0, lead.output
    assert out.read_text().splitlines()[1] == "backend,structure,3.0,3,2"


def test_the_chart_renders_from_many_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.engine.progress import CandidateProgress
    from bot.engine.progress_chart import render_progress_chart

    empty = CandidateProgress(answers=0, sessions=0, average=None, by_role={}, criteria={})
    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(lambda _: render_progress_chart(empty), range(8)))
    assert all(image.startswith(b"\x89PNG") for image in images) and len(set(images)) == 1

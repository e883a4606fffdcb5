"""`mockingbird db upgrade` and `mockingbird forget` as an operator runs them: a real process, the
default SQLite database in the data directory, what the command says checked against the database."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from bot.config import get_settings
from bot.engine import Actor, InterviewEngine
from bot.store.db import Database, alembic_config
from bot.store.models import (
    Correction,
    InterviewSession,
    OutboxMessage,
    PreferencePair,
    Rating,
    SurveyResponse,
    Turn,
    User,
    UserRole,
)
from bot.store.privacy import Forgotten, forget_person
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink

ANSWER = ("At my last company I owned our checkout service; I found the slow query with EXPLAIN, added an "
          "index and cut p95 latency from 900 ms to 40 ms in two days.")


def mockingbird(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy())


def _database() -> Database:
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    return Database(get_settings().resolved_database_url)


def _revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_db_upgrade_takes_the_revision_as_an_argument_and_reports_the_one_reached() -> None:
    database = _database()
    head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
    assert head != "0001"

    first = mockingbird("db", "upgrade", "0001")
    assert first.returncode == 0, first.stderr
    assert _revision(database) == "0001"
    assert first.stderr.strip() == f"Database is at revision 0001; the newest is {head}."

    latest = mockingbird("db", "upgrade")
    assert latest.returncode == 0, latest.stderr
    assert _revision(database) == head and latest.stderr.strip() == f"Database is at revision {head} (the newest)."

    behind = mockingbird("db", "upgrade", "0001")  # a target it is past: says where it is, not "0001"
    assert behind.returncode == 0, behind.stderr
    assert _revision(database) == head
    assert " ".join(behind.stderr.split()) == (f"Database is at revision {head} (the newest); it was already past "
                                               "0001, and upgrade never goes back.")


def test_db_upgrade_to_an_unknown_revision_is_one_line_and_changes_nothing() -> None:
    database = _database()
    scripts = ScriptDirectory.from_config(alembic_config(database.url))
    known = ", ".join(script.revision for script in reversed(list(scripts.walk_revisions())))
    result = mockingbird("db", "upgrade", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Unknown revision 'nope': use head or one of {known}."]
    assert "Traceback" not in result.stderr and _revision(database) is None


def _history(database: Database) -> tuple[InterviewEngine, int]:
    """Cara practises one question, rates it and answers the survey; Rita corrects it."""
    database.upgrade()
    engine = InterviewEngine(database, OfflineProvider(), get_settings(), signals=InProcessSink(database))
    cara = Actor("console", "cara", display_name="Cara")
    rita = Actor("console", "rita", display_name="Rita", claimed_role=UserRole.recruiter)
    started = engine.start(cara, role="backend", kind="behavioral", level="mid", questions=1)
    graded = engine.answer(started.session.id, cara, ANSWER).graded
    assert graded is not None and graded.feedback is not None
    engine.rate(graded.id, cara, 1)
    engine.correct(graded.id, rita, graded.feedback.model_copy(update={"score": 9}))
    engine.survey(started.session.id, cara, 5)
    with database.session() as session:  # a signal still waiting for the broker
        session.add(OutboxMessage(task="rate", payload={"rater": {"platform": "console", "user_id": "cara"}},
                                  idempotency_key="waiting-1"))
    return engine, started.session.id


def _rows(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_forget_person_counts_what_it_deleted() -> None:
    database = _database()
    _history(database)
    pairs = _rows(database, PreferencePair)
    with database.session() as session:
        removed = forget_person(session, "console", "cara")
    assert removed == Forgotten(users=1, sessions=1, turns=1, ratings=1, corrections=1, survey_responses=1,
                                preference_pairs=pairs, outbox_messages=1)
    for model in (InterviewSession, Turn, Rating, Correction, SurveyResponse, PreferencePair, OutboxMessage):
        assert _rows(database, model) == 0, model
    with database.session() as session:
        again = forget_person(session, "console", "cara")
    assert again == Forgotten() and not again


def test_forget_reports_the_counts_and_refuses_an_unknown_platform() -> None:
    database = _database()
    _history(database)
    unknown = mockingbird("forget", "--platform", "slak", "--user", "cara")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "Unknown platform 'slak': use slack, discord or console (or terminal)."]
    assert _rows(database, InterviewSession) == 1  # nothing was deleted

    pairs = _rows(database, PreferencePair)
    result = mockingbird("forget", "--platform", "Terminal", "--user", "cara")  # the terminal's people
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())
    expected_pairs = f"{pairs} preference pair{'s' if pairs != 1 else ''}, " if pairs else ""
    assert said == ("Deleted console:cara: 1 user, 1 session, 1 turn, 1 rating, 1 correction, 1 survey response, "
                    f"{expected_pairs}1 outbox message.")
    with database.session() as session:
        assert session.scalar(select(User.id).where(User.platform_user_id == "cara")) is None

    recruiter = mockingbird("forget", "--platform", "console", "--user", "rita")
    assert " ".join(recruiter.stderr.split()) == "Deleted console:rita: 1 user."  # her correction went with cara
    nobody = mockingbird("forget", "--platform", "slack", "--user", "U404")
    assert nobody.returncode == 0 and nobody.stderr.strip() == "No data stored for slack:U404."

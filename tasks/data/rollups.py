"""Daily stats roll-ups: one row per (day, role, kind, model version) in ``daily_rollups``.

A small table for dashboards (Grafana, Metabase) to chart months of activity without scanning
every rating; the team-lead statistics (``bot.store.stats``) count the live tables, in the database,
so they are exact to the minute. The job recomputes whole days
(today and yesterday by default), replacing their rows, so running it twice changes nothing
and late-arriving ratings are counted on the next run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import (
    Correction,
    DailyRollup,
    InterviewSession,
    Rating,
    SessionState,
    SurveyResponse,
    Turn,
    utcnow,
)
from bot.store.tally import counted_rater

Key = tuple[str, str, str]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _day(session: Session, day: date) -> dict[Key, dict[str, int]]:
    start, end = _bounds(day)
    rows: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    version = func.coalesce(Turn.model_version, "")
    # A session counts under its model version, or the one its first graded turn used.
    first_turn = (
        select(Turn.model_version)
        .where(Turn.session_id == InterviewSession.id, Turn.model_version.is_not(None))
        .order_by(Turn.index)
        .limit(1)
        .scalar_subquery()
    )
    session_version = func.coalesce(InterviewSession.model_version, first_turn, "")
    by_turn = (InterviewSession.role, InterviewSession.kind, version)

    def turn_query(*columns: Any) -> Any:
        return select(*by_turn, *columns).join(InterviewSession, Turn.session_id == InterviewSession.id)

    for role, kind, ver, sessions, completed in session.execute(
        select(
            InterviewSession.role,
            InterviewSession.kind,
            session_version,
            func.count(),
            func.sum(case((InterviewSession.state == SessionState.completed, 1), else_=0)),
        )
        .where(InterviewSession.created_at >= start, InterviewSession.created_at < end)
        .group_by(InterviewSession.role, InterviewSession.kind, session_version)
    ):
        rows[(role, kind, ver)]["sessions"] += sessions
        rows[(role, kind, ver)]["completed"] += completed or 0
    for role, kind, ver, graded, valid in session.execute(
        turn_query(func.count(), func.sum(case((Turn.valid_first_try.is_(True), 1), else_=0)))
        .where(Turn.graded_at >= start, Turn.graded_at < end)
        .group_by(*by_turn)
    ):
        rows[(role, kind, ver)]["graded_turns"] += graded
        rows[(role, kind, ver)]["valid_first_try"] += valid or 0
    for role, kind, ver, up, down in session.execute(
        turn_query(
            func.sum(case((Rating.value > 0, 1), else_=0)), func.sum(case((Rating.value < 0, 1), else_=0))
        )
        # The votes that count: the session's candidate's and recruiters' (bot.store.tally).
        .join(Rating, and_(Rating.turn_id == Turn.id,
                           counted_rater(Rating.rater_id, InterviewSession.candidate_id)))
        .where(Rating.updated_at >= start, Rating.updated_at < end)
        .group_by(*by_turn)
    ):
        rows[(role, kind, ver)]["ratings_up"] += up or 0
        rows[(role, kind, ver)]["ratings_down"] += down or 0
    for role, kind, ver, corrections in session.execute(
        turn_query(func.count())
        .join(Correction, Correction.turn_id == Turn.id)
        .where(Correction.created_at >= start, Correction.created_at < end)
        .group_by(*by_turn)
    ):
        rows[(role, kind, ver)]["corrections"] += corrections
    for role, kind, ver, surveys, usefulness in session.execute(
        select(
            InterviewSession.role,
            InterviewSession.kind,
            session_version,
            func.count(),
            func.sum(SurveyResponse.usefulness),
        )
        .join(InterviewSession, SurveyResponse.session_id == InterviewSession.id)
        .where(SurveyResponse.created_at >= start, SurveyResponse.created_at < end)
        .group_by(InterviewSession.role, InterviewSession.kind, session_version)
    ):
        rows[(role, kind, ver)]["surveys"] += surveys
        rows[(role, kind, ver)]["usefulness_sum"] += usefulness or 0
    return rows


def rollup(db: Database, days: int = 2, *, today: date | None = None) -> dict[str, Any]:
    """Recompute the last ``days`` days (today included). Returns rows written per day."""
    today = today or utcnow().date()
    written: dict[str, int] = {}
    for offset in range(days):
        day = today - timedelta(days=offset)
        with db.session() as session:
            values = _day(session, day)
            session.execute(delete(DailyRollup).where(DailyRollup.day == day))
            for (role, kind, ver), counts in values.items():
                session.add(DailyRollup(day=day, role=role, kind=kind, model_version=ver[:120], **counts))
            written[day.isoformat()] = len(values)
    return {"days": written}

"""Team-lead statistics: satisfaction (👍 rate with a Wilson interval), sessions, corrections, validity.

One implementation for the CLI and every chat adapter: ``compute_stats`` returns a ``Stats``
model, ``Stats.as_text()`` a short summary, ``render_chart`` a PNG.
"""

from __future__ import annotations

import io
import math
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, func, not_, select

from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, Rating, SessionState, SurveyResponse, Turn, utcnow
from bot.store.tally import count_if, counted_rater

GroupBy = Literal["role", "kind", "model", "week"]
GROUPINGS: tuple[str, ...] = ("role", "kind", "model", "week")


def wilson_interval(up: int, total: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """95% Wilson score interval for a proportion; honest for small counts, unlike p ± 2·se."""
    if total == 0:
        return None, None
    p = up / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


class Group(BaseModel):
    key: str
    up: int = 0
    down: int = 0
    satisfaction: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def finish(self) -> Group:
        total = self.up + self.down
        self.satisfaction = round(self.up / total, 4) if total else None
        self.ci_low, self.ci_high = wilson_interval(self.up, total)
        return self


class Stats(BaseModel):
    days: int
    since: datetime
    by: str
    sessions: int
    completed: int
    completion_rate: float | None
    graded_turns: int
    average_score: float | None
    ratings_up: int
    ratings_down: int
    # Ratings by people other than the session's candidate and recruiters: stored, not counted above.
    ratings_from_others: int = 0
    satisfaction: float | None
    ci_low: float | None
    ci_high: float | None
    corrected_turns: int
    correction_rate: float | None
    llm_turns: int
    json_valid_rate: float | None
    # Model feedback the rubric's relevance guardrail capped, per model version (LLM providers only).
    guardrail_capped: dict[str, int] = {}
    survey_responses: int
    survey_average: float | None
    groups: list[Group]
    weekly: list[Group]

    def as_text(self) -> str:
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.0f}%"

        lines = [f"Mockingbird stats, last {self.days} days"]
        interval = (f" (95% CI {pct(self.ci_low)}-{pct(self.ci_high)})" if self.ci_low is not None else "")
        others = f" (+{self.ratings_from_others} from others, not counted)" if self.ratings_from_others else ""
        lines.append(f"Satisfaction: {pct(self.satisfaction)} 👍{interval}, {self.ratings_up} 👍 / "
                     f"{self.ratings_down} 👎{others}")
        lines.append(f"Sessions: {self.sessions}, completed {pct(self.completion_rate)}; graded answers: "
                     f"{self.graded_turns}, average score {self.average_score if self.average_score else 'n/a'}")
        lines.append(f"Corrections: {self.corrected_turns} answers corrected ({pct(self.correction_rate)}); "
                     f"JSON validity (first try, LLM calls): {pct(self.json_valid_rate)}")
        if self.guardrail_capped:
            capped = ", ".join(f"{model}: {count}" for model, count in sorted(self.guardrail_capped.items()))
            lines.append(f"Non-answers a model scored above 3, capped by the rubric: {capped}")
        if self.survey_responses:
            lines.append(f"Usefulness survey: {self.survey_average}/5 from {self.survey_responses} responses")
        if self.groups:
            lines.append(f"By {self.by}:")
            for group in self.groups:
                lines.append(f"  {group.key}: {pct(group.satisfaction)} 👍 ({group.up} 👍 / {group.down} 👎)")
        return "\n".join(lines)


def _week(moment: date) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column, as ``YYYY-MM-DD`` text, computed by the database."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)  # SQLite keeps UTC timestamps as ISO text


def compute_stats(db: Database, days: int = 30, by: str = "role") -> Stats:
    """The figures for the last ``days`` days, grouped ``by`` role, kind, model version or week.

    Everything is counted by the database (grouped by key and UTC day), so the cost grows with
    the number of groups and days, not with the number of ratings or turns in the window.
    """
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    since = utcnow() - timedelta(days=days)
    rated_day = _utc_day(Rating.updated_at, db.engine.dialect.name)
    key_column = {"role": InterviewSession.role, "kind": InterviewSession.kind,
                  "model": func.coalesce(Turn.model_version, Turn.provider, "unknown"),
                  "week": rated_day}[by]
    llm = and_(Turn.provider.is_not(None), Turn.provider != "offline")
    with db.session() as session:
        sessions, completed = session.execute(
            select(func.count(), count_if(InterviewSession.state == SessionState.completed))
            .where(InterviewSession.created_at >= since)
        ).one()
        graded, score_sum, llm_turns, llm_valid = session.execute(
            select(func.count(), func.sum(Turn.feedback["score"].as_integer()), count_if(llm),
                   count_if(and_(llm, Turn.valid_first_try.is_(True))))
            .where(Turn.graded_at >= since, Turn.feedback.is_not(None))
        ).one()
        # Satisfaction counts the votes that count (the candidate's and recruiters'); anyone else's
        # ratings are stored and reported apart, as on the feedback message.
        counted = counted_rater(Rating.rater_id, InterviewSession.candidate_id)
        ratings = session.execute(
            select(key_column, rated_day, count_if(and_(Rating.value > 0, counted)),
                   count_if(and_(Rating.value < 0, counted)), count_if(not_(counted)))
            .join(Turn, Rating.turn_id == Turn.id).join(InterviewSession, Turn.session_id == InterviewSession.id)
            .where(Rating.updated_at >= since)
            .group_by(key_column, rated_day)
        ).all()
        capped_model = func.coalesce(Turn.model_version, Turn.provider, "unknown")  # one object: one bind
        capped = session.execute(
            select(capped_model, func.count())
            .where(Turn.graded_at >= since, Turn.guardrail.is_not(None))
            .group_by(capped_model)
        ).all()
        corrected = session.scalar(select(func.count(func.distinct(Correction.turn_id)))
                                   .where(Correction.updated_at >= since)) or 0
        survey = session.execute(select(func.count(), func.avg(SurveyResponse.usefulness))
                                 .where(SurveyResponse.created_at >= since)).one()

    groups: dict[str, Group] = {}
    weekly: dict[str, Group] = {}
    others = 0
    for key, day, up, down, from_others in ratings:
        others += from_others
        week = _week(date.fromisoformat(str(day)))
        label = week if by == "week" else str(key)
        for target in (groups.setdefault(label, Group(key=label)), weekly.setdefault(week, Group(key=week))):
            target.up += up
            target.down += down
    up, down = sum(g.up for g in groups.values()), sum(g.down for g in groups.values())
    ci_low, ci_high = wilson_interval(up, up + down)
    return Stats(
        days=days, since=since, by=by, sessions=sessions, completed=completed,
        completion_rate=_rate(completed, sessions), graded_turns=graded,
        average_score=round(score_sum / graded, 2) if graded else None,
        ratings_up=up, ratings_down=down, ratings_from_others=others, satisfaction=_rate(up, up + down),
        ci_low=ci_low, ci_high=ci_high,
        corrected_turns=corrected, correction_rate=_rate(corrected, graded),
        llm_turns=llm_turns, json_valid_rate=_rate(llm_valid, llm_turns),
        guardrail_capped={str(model): count for model, count in capped},
        survey_responses=survey[0] or 0,
        survey_average=round(float(survey[1]), 2) if survey[1] is not None else None,
        groups=sorted((g.finish() for g in groups.values()), key=lambda g: g.key),
        weekly=sorted((g.finish() for g in weekly.values()), key=lambda g: g.key),
    )


def render_chart(stats: Stats) -> bytes:
    """A PNG: weekly 👍 rate with its interval, and 👍 rate per group."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (trend, bars) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    weeks = [w for w in stats.weekly if w.satisfaction is not None]
    if weeks:
        xs = list(range(len(weeks)))
        trend.plot(xs, [100 * w.satisfaction for w in weeks], marker="o", color="#2b7bb9")  # type: ignore[operator]
        trend.fill_between(xs, [100 * (w.ci_low or 0) for w in weeks], [100 * (w.ci_high or 0) for w in weeks],
                           alpha=0.2, color="#2b7bb9")
        trend.set_xticks(xs, [w.key for w in weeks], rotation=30, ha="right", fontsize=8)
    else:
        trend.text(0.5, 0.5, "no ratings yet", ha="center", va="center", transform=trend.transAxes)
    trend.set_ylim(0, 100)
    trend.set_ylabel("helpful ratings (%)")
    trend.set_title("Satisfaction by week (95% CI)")
    groups = [g for g in stats.groups if g.satisfaction is not None]
    if groups:
        bars.bar([g.key for g in groups], [100 * g.satisfaction for g in groups],  # type: ignore[operator]
                 color="#5aa469")
        bars.tick_params(axis="x", labelrotation=30, labelsize=8)
    else:
        bars.text(0.5, 0.5, "no ratings yet", ha="center", va="center", transform=bars.transAxes)
    bars.set_ylim(0, 100)
    bars.set_title(f"Satisfaction by {stats.by}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()

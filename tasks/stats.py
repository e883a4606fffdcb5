"""Team-lead statistics: satisfaction (👍 rate with a Wilson interval), sessions, corrections, validity.

One implementation for the CLI and every chat adapter: ``compute_stats`` returns a ``Stats``
model, ``Stats.as_text()`` a short summary, ``render_chart`` a PNG.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, Rating, SessionState, SurveyResponse, Turn, utcnow

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
    satisfaction: float | None
    ci_low: float | None
    ci_high: float | None
    corrected_turns: int
    correction_rate: float | None
    llm_turns: int
    json_valid_rate: float | None
    survey_responses: int
    survey_average: float | None
    groups: list[Group]
    weekly: list[Group]

    def as_text(self) -> str:
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.0f}%"

        lines = [f"Mockingbird stats, last {self.days} days"]
        interval = (f" (95% CI {pct(self.ci_low)}-{pct(self.ci_high)})" if self.ci_low is not None else "")
        lines.append(f"Satisfaction: {pct(self.satisfaction)} 👍{interval}, {self.ratings_up} 👍 / "
                     f"{self.ratings_down} 👎")
        lines.append(f"Sessions: {self.sessions}, completed {pct(self.completion_rate)}; graded answers: "
                     f"{self.graded_turns}, average score {self.average_score if self.average_score else 'n/a'}")
        lines.append(f"Corrections: {self.corrected_turns} answers corrected ({pct(self.correction_rate)}); "
                     f"JSON validity (first try, LLM calls): {pct(self.json_valid_rate)}")
        if self.survey_responses:
            lines.append(f"Usefulness survey: {self.survey_average}/5 from {self.survey_responses} responses")
        if self.groups:
            lines.append(f"By {self.by}:")
            for group in self.groups:
                lines.append(f"  {group.key}: {pct(group.satisfaction)} 👍 ({group.up} 👍 / {group.down} 👎)")
        return "\n".join(lines)


def _week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compute_stats(db: Database, days: int = 30, by: str = "role") -> Stats:
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}")
    if days < 1:
        raise ValueError("days must be at least 1")
    since = utcnow() - timedelta(days=days)
    key_column = {"role": InterviewSession.role, "kind": InterviewSession.kind,
                  "model": func.coalesce(Turn.model_version, Turn.provider, "unknown"),
                  "week": Rating.updated_at}[by]
    with db.session() as session:
        sessions = session.scalar(select(func.count()).where(InterviewSession.created_at >= since)) or 0
        completed = session.scalar(select(func.count()).where(
            InterviewSession.created_at >= since, InterviewSession.state == SessionState.completed)) or 0
        turns = session.execute(
            select(Turn.feedback, Turn.provider, Turn.valid_first_try)
            .where(Turn.graded_at >= since, Turn.feedback.is_not(None))
        ).all()
        ratings = session.execute(
            select(key_column, Rating.value, Rating.updated_at)
            .join(Turn, Rating.turn_id == Turn.id).join(InterviewSession, Turn.session_id == InterviewSession.id)
            .where(Rating.updated_at >= since)
        ).all()
        corrected = session.scalar(select(func.count(func.distinct(Correction.turn_id)))
                                   .where(Correction.updated_at >= since)) or 0
        survey = session.execute(select(func.count(), func.avg(SurveyResponse.usefulness))
                                 .where(SurveyResponse.created_at >= since)).one()

    scores = [t.feedback["score"] for t in turns]
    llm_turns = [t for t in turns if t.provider and t.provider != "offline"]
    up = sum(1 for r in ratings if r.value > 0)
    down = sum(1 for r in ratings if r.value < 0)
    groups: dict[str, Group] = {}
    weekly: dict[str, Group] = defaultdict(lambda: Group(key=""))
    for key, value, updated_at in ratings:
        label = _week(key) if by == "week" else str(key)
        group = groups.setdefault(label, Group(key=label))
        week = weekly[_week(updated_at)]
        week.key = _week(updated_at)
        for target in (group, week):
            if value > 0:
                target.up += 1
            elif value < 0:
                target.down += 1
    ci_low, ci_high = wilson_interval(up, up + down)
    return Stats(
        days=days, since=since, by=by, sessions=sessions, completed=completed,
        completion_rate=_rate(completed, sessions), graded_turns=len(turns),
        average_score=round(sum(scores) / len(scores), 2) if scores else None,
        ratings_up=up, ratings_down=down, satisfaction=_rate(up, up + down), ci_low=ci_low, ci_high=ci_high,
        corrected_turns=corrected, correction_rate=_rate(corrected, len(turns)),
        llm_turns=len(llm_turns),
        json_valid_rate=_rate(sum(1 for t in llm_turns if t.valid_first_try), len(llm_turns)),
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

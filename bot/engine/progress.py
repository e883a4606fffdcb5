"""Progress over time: a candidate's scores per criterion and per role, weakest criteria, streaks;
and, for team leads, the weakest criteria across the team by role (with a CSV export).

Every figure is computed from the stored turns, so any replica gives the same answer. Averages count
first attempts only (a second attempt has seen the feedback); the sequence of all graded answers,
second attempts included, decides which suggestion helped most: after a feedback that suggested
something, how much the criterion's score rose in the candidate's next answer that was scored on it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import InterviewSession, Turn, User, as_utc

WEAKEST = 3  # criteria listed as the weakest


@dataclass(frozen=True)
class _Answer:
    session_id: int
    role: str
    when: datetime
    first_attempt: bool
    score: int
    criteria: dict[str, int]
    suggestions: list[str]
    candidate_id: int


@dataclass(frozen=True)
class SessionPoint:
    """One session on the timeline: its average and per-criterion averages (first attempts)."""

    session_id: int
    day: str
    role: str
    average: float
    criteria: dict[str, float]


@dataclass(frozen=True)
class Weakness:
    criterion: str
    average: float
    answers: int
    helped_most: str | None  # the suggestion after which this criterion rose the most, if any did
    gain: float | None  # that rise, on average (points out of 10)


@dataclass(frozen=True)
class CandidateProgress:
    answers: int
    sessions: int
    average: float | None
    by_role: dict[str, dict[str, float]]  # role -> {"answers", "average"}
    criteria: dict[str, dict[str, float]]  # criterion -> {"answers", "average", "first", "latest"}
    timeline: list[SessionPoint] = field(default_factory=list)
    weakest: list[Weakness] = field(default_factory=list)
    streak_days: int = 0  # consecutive days with practice, ending today or yesterday
    longest_streak_days: int = 0
    practice_days: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def as_text(self) -> str:
        """Plain text for chat surfaces (the first line is a title); adapters escape it for their platform."""
        if not self.answers:
            return "Your progress\nNo graded answers yet: start an interview and your progress shows here."
        lines = [
            "Your progress",
            f"{self.answers} answers in {self.sessions} sessions, average {self.average}/10. "
            f"Practice streak: {self.streak_days} day(s) (longest {self.longest_streak_days}).",
            "By role: " + ", ".join(f"{role} {v['average']}/10 ({int(v['answers'])})"
                                    for role, v in self.by_role.items()),
            "Criteria (average, first → latest session): " + ", ".join(
                f"{name} {v['average']} ({v['first']} → {v['latest']})" for name, v in self.criteria.items()),
        ]
        for weak in self.weakest:
            helped = f"; helped most: {weak.helped_most} (+{weak.gain})" if weak.helped_most else ""
            lines.append(f"Weak: {weak.criterion} {weak.average}/10{helped}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TeamWeakness:
    role: str
    criterion: str
    average: float
    answers: int
    candidates: int


def _mean(values: list[int] | list[float]) -> float:
    return round(sum(values) / len(values), 2)


def _answers(session: Session, *conditions: Any) -> list[_Answer]:
    rows = session.execute(
        select(Turn.session_id, Turn.attempt_of, Turn.feedback, Turn.graded_at, Turn.asked_at,
               InterviewSession.role, InterviewSession.candidate_id)
        .join(InterviewSession, Turn.session_id == InterviewSession.id)
        .join(User, InterviewSession.candidate_id == User.id)
        .where(Turn.feedback.is_not(None), *conditions)
        .order_by(Turn.graded_at, Turn.id)
    )
    return [_Answer(row.session_id, row.role, as_utc(row.graded_at or row.asked_at), row.attempt_of is None,
                    int(row.feedback["score"]), {k: int(v) for k, v in (row.feedback.get("criteria") or {}).items()},
                    list(row.feedback.get("suggestions") or []), row.candidate_id) for row in rows]


def _streaks(days: set[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive practice days; the current run may end yesterday."""
    longest, run, previous = 0, 0, None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest, previous = max(longest, run), day
    current, day = 0, today if today in days else today - timedelta(days=1)
    while day in days:
        current, day = current + 1, day - timedelta(days=1)
    return current, longest


def _helped_most(answers: list[_Answer], criterion: str) -> tuple[str | None, float | None]:
    """The suggestion whose feedback was followed by the largest average rise in ``criterion``."""
    gains: dict[str, list[int]] = defaultdict(list)
    scored = [a for a in answers if criterion in a.criteria]
    for before, after in zip(scored, scored[1:], strict=False):
        for suggestion in dict.fromkeys(before.suggestions):
            gains[suggestion].append(after.criteria[criterion] - before.criteria[criterion])
    best = max(gains.items(), key=lambda item: (_mean(item[1]), len(item[1]), item[0]), default=None)
    if best is None or _mean(best[1]) <= 0:
        return None, None
    return best[0], _mean(best[1])


def candidate_progress(session: Session, platform: str, user_id: str, today: date) -> CandidateProgress:
    """One candidate's progress on one platform (``today`` decides whether the streak is still alive)."""
    answers = _answers(session, User.platform == platform, User.platform_user_id == user_id)
    firsts = [a for a in answers if a.first_attempt]
    by_role: dict[str, list[int]] = defaultdict(list)
    by_criterion: dict[str, list[int]] = defaultdict(list)
    per_session: dict[int, list[_Answer]] = defaultdict(list)
    for answer in firsts:
        by_role[answer.role].append(answer.score)
        per_session[answer.session_id].append(answer)
        for name, value in answer.criteria.items():
            by_criterion[name].append(value)
    timeline = []
    for session_id, items in sorted(per_session.items(), key=lambda item: (item[1][0].when, item[0])):
        named: dict[str, list[int]] = defaultdict(list)
        for item in items:
            for name, value in item.criteria.items():
                named[name].append(value)
        timeline.append(SessionPoint(session_id, items[0].when.date().isoformat(), items[0].role,
                                     _mean([i.score for i in items]), {n: _mean(v) for n, v in sorted(named.items())}))
    criteria = {}
    for name, values in sorted(by_criterion.items()):
        points = [p.criteria[name] for p in timeline if name in p.criteria]
        criteria[name] = {"answers": len(values), "average": _mean(values), "first": points[0], "latest": points[-1]}
    weakest = []
    for name in sorted(criteria, key=lambda n: (criteria[n]["average"], n))[:WEAKEST]:
        helped, gain = _helped_most(answers, name)
        weakest.append(Weakness(name, criteria[name]["average"], int(criteria[name]["answers"]), helped, gain))
    days = {a.when.date() for a in answers}
    current, longest = _streaks(days, today)
    return CandidateProgress(
        answers=len(firsts), sessions=len(per_session), average=_mean([a.score for a in firsts]) if firsts else None,
        by_role={role: {"answers": len(v), "average": _mean(v)} for role, v in sorted(by_role.items())},
        criteria=criteria, timeline=timeline, weakest=weakest, streak_days=current, longest_streak_days=longest,
        practice_days=len(days),
    )


def team_weaknesses(session: Session, platform: str) -> list[TeamWeakness]:
    """Every criterion per role across the platform's candidates, weakest first within each role."""
    scores: dict[tuple[str, str], list[int]] = defaultdict(list)
    people: dict[tuple[str, str], set[int]] = defaultdict(set)
    for answer in _answers(session, User.platform == platform):
        if answer.first_attempt:
            for name, value in answer.criteria.items():
                scores[(answer.role, name)].append(value)
                people[(answer.role, name)].add(answer.candidate_id)
    rows = [TeamWeakness(role, name, _mean(values), len(values), len(people[(role, name)]))
            for (role, name), values in scores.items()]
    return sorted(rows, key=lambda r: (r.role, r.average, r.criterion))


def team_text(rows: list[TeamWeakness], per_role: int = WEAKEST) -> str:
    """The weakest criteria of each role as plain text (first line a title), for chat surfaces."""
    lines = ["Team: weakest criteria by role"]
    for role in dict.fromkeys(r.role for r in rows):
        weakest = [r for r in rows if r.role == role][:per_role]
        lines.append(f"{role}: " + ", ".join(f"{r.criterion} {r.average}/10 ({r.answers} answers, "
                                             f"{r.candidates} people)" for r in weakest))
    return "\n".join(lines) if rows else lines[0] + "\nNo graded answers yet."


def team_csv(rows: list[TeamWeakness]) -> str:
    """The team's weaknesses as CSV (role, criterion, average, answers, candidates)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["role", "criterion", "average", "answers", "candidates"])
    for row in rows:
        writer.writerow([_csv_cell(row.role), _csv_cell(row.criterion), row.average, row.answers, row.candidates])
    return out.getvalue()


def _csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (criterion names come from models)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

"""Measuring the arms of a split: per-session 👍 shares of a candidate and the live version,
compared by the sequential test (``tasks.registry.sequential``).

A session belongs to the arm of the variant it was assigned. Only turns that variant answered
itself count as its 👍 / 👎; a turn a fallback answered counts as one failure for the arm, so a
model that fails more cannot look better. Only the session's candidate's and recruiters' ratings
count (``bot.store.tally``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, computed_field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import InterviewSession, ModelVersion, Rating, Turn, utcnow
from bot.store.tally import counted_rater
from tasks.registry import sequential
from tasks.registry.versions import RegistryError, VersionView, live_row, row_named

# The decision rule's parameters, from the environment (see docs/retraining.md): review,
# compare, promote and ``mockingbird models simulate`` all read them here.
POLICY_ENV = {
    "alpha": "AB_ALPHA",
    "tau": "AB_TAU",
    "min_sessions": "AB_MIN_SESSIONS",
    "min_hours": "AB_MIN_HOURS",
    "max_days": "AB_MAX_DAYS",
}


def current_policy() -> sequential.Policy:
    """``sequential.Policy`` with any ``AB_*`` environment overrides (a bad value fails loudly)."""
    values: dict[str, float | int] = {}
    for field_name, variable in POLICY_ENV.items():
        raw = os.environ.get(variable, "").strip()
        if raw:
            try:
                values[field_name] = int(raw) if field_name == "min_sessions" else float(raw)
            except ValueError as exc:
                raise RegistryError(f"{variable}={raw!r} is not a number.") from exc
    try:
        return sequential.Policy(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise RegistryError(
            f"The A/B policy from {', '.join(POLICY_ENV.values())} is invalid: {exc}."
        ) from exc


@dataclass
class Arm:
    """One arm of a comparison: its sessions, the ratings of turns its own model answered, its fallbacks."""

    label: str
    sessions: int = 0  # sessions with at least one counted outcome (the test's units)
    up: int = 0  # 👍 on turns the arm's own model answered
    total: int = 0  # 👍 + 👎 on those turns
    turns: int = 0  # graded turns in the arm's sessions
    fallbacks: int = 0  # of which a fallback provider answered (each counts as a failure)
    share_sum: float = 0.0  # sum over sessions of the session's 👍 share
    share_sumsq: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float | None:
        """👍 rate of the ratings on turns the arm's own model answered."""
        return round(self.up / self.total, 4) if self.total else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fallback_rate(self) -> float | None:
        return round(self.fallbacks / self.turns, 4) if self.turns else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def session_mean(self) -> float | None:
        """Mean per-session 👍 share, fallbacks counted as failures: what the test compares."""
        return round(self.share_sum / self.sessions, 4) if self.sessions else None


@dataclass
class Comparison:
    candidate: str
    since: str | None
    candidate_arm: Arm
    baseline_arm: Arm
    decision: str  # promote / rollback / retire / wait
    reason: str
    policy: sequential.Policy
    # The test's figures (``sequential.evidence``), rounded for people and JSON:
    difference: float  # candidate minus baseline, in mean per-session 👍 share
    confidence_sequence: list[float]  # the always-valid interval around it
    log_likelihood_ratio: float
    threshold: float  # what log_likelihood_ratio must reach for a decision

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, by pydantic: the fields, the arms' rates and the test's figures (not the raw evidence)."""
        return _COMPARISON.dump_python(self, mode="json")


_COMPARISON = TypeAdapter(Comparison)


def _arm(session: Session, label: str, condition: Any, since: datetime | None) -> Arm:
    """Aggregate an arm's graded turns per session into one observation per session.

    A session's outcome list is the 👍 / 👎 ratings (the candidate's and recruiters' only: a
    bystander's rating never moves an arm) of its turns that its assigned model answered, plus
    one failure per turn a fallback provider answered; its share is the fraction of 👍 in that
    list. Sessions with no outcome yet do not count.
    """
    query = (
        select(Turn.session_id, Turn.id, Turn.fell_back, Rating.value)
        .select_from(Turn)
        .join(InterviewSession, InterviewSession.id == Turn.session_id)
        .outerjoin(
            Rating,
            (Rating.turn_id == Turn.id)
            & (Rating.value != 0)
            # Only votes that count: the session's candidate's and recruiters' (bot.store.tally).
            & counted_rater(Rating.rater_id, InterviewSession.candidate_id),
        )
        .where(Turn.graded_at.is_not(None), condition)
    )
    if since is not None:
        query = query.where(Turn.graded_at >= since)
    per_session: dict[int, list[int]] = {}  # session -> [up, outcomes]
    arm = Arm(label)
    seen_turns: set[int] = set()
    for session_id, turn_id, fell_back, value in session.execute(query):
        counts = per_session.setdefault(session_id, [0, 0])
        first = turn_id not in seen_turns
        seen_turns.add(turn_id)
        if first:
            arm.turns += 1
        if fell_back:
            if first:  # one failure per fallback turn, whatever its ratings say
                arm.fallbacks += 1
                counts[1] += 1
        elif value is not None:
            arm.total += 1
            arm.up += int(value > 0)
            counts[0] += int(value > 0)
            counts[1] += 1
    for up, outcomes in per_session.values():
        if outcomes:
            share = up / outcomes
            arm.sessions += 1
            arm.share_sum += share
            arm.share_sumsq += share * share
    return arm


def compare(
    db: Database, name: str, *, policy: sequential.Policy | None = None, now: datetime | None = None
) -> Comparison:
    """A candidate against its baseline (the live version, else the configured default), sessions as units."""
    rule = policy or current_policy()
    with db.session() as session:
        row = row_named(session, name)
        view = VersionView.of(row)
        started = view.metrics.get("split_started_at")
        since = datetime.fromisoformat(started) if started else None
        live = live_row(session, row.backend)
        assigned = InterviewSession.model_version
        candidate_arm = _arm(session, view.serving_id, assigned == view.serving_id, since)
        if live is not None:
            baseline_id = VersionView.of(live).serving_id
            baseline_arm = _arm(session, baseline_id, assigned == baseline_id, since)
        else:
            registered = [
                VersionView.of(r).serving_id
                for r in session.scalars(select(ModelVersion).where(ModelVersion.backend == row.backend))
            ]
            baseline_arm = _arm(
                session, "default model", or_(assigned.is_(None), assigned.not_in(registered)), since
            )
    hours = 0.0
    if since is not None:
        hours = max(((now or utcnow()) - since).total_seconds() / 3600, 0.0)
    c, b = candidate_arm, baseline_arm
    sums = (c.sessions, c.share_sum, c.share_sumsq, b.sessions, b.share_sum, b.share_sumsq)
    seen = sequential.evidence(*sums, rule)
    code = int(sequential.decide(*sums, hours, rule))
    decision = sequential.DECISIONS[code]
    interval = f"difference {float(seen.difference):+.3f}, always-valid {1 - rule.alpha:.0%} interval " + (
        f"[{float(seen.difference - seen.half_width):+.3f}, {float(seen.difference + seen.half_width):+.3f}]"
    )
    fallbacks = f"fallback rates {_pct(c.fallback_rate)} vs {_pct(b.fallback_rate)}"
    if decision == "promote":
        reason = f"better per session ({interval}; {fallbacks})"
    elif decision == "rollback":
        reason = f"worse per session ({interval}; {fallbacks})"
    elif decision == "retire":
        reason = f"no difference found in {rule.max_days:g} days ({interval}); retired"
    elif min(c.sessions, b.sessions) < rule.min_sessions:
        reason = f"need {rule.min_sessions} sessions per arm (have {c.sessions} and {b.sessions})"
    elif hours < rule.min_hours:
        reason = f"need {rule.min_hours:g} hours of the split (have {hours:.1f})"
    else:
        reason = f"no clear difference yet ({interval}; {fallbacks})"
    low, high = seen.difference - seen.half_width, seen.difference + seen.half_width
    return Comparison(
        name, started, candidate_arm, baseline_arm, decision, reason, rule,
        difference=_figure(seen.difference), confidence_sequence=[_figure(low), _figure(high)],
        log_likelihood_ratio=_figure(seen.log_lr), threshold=_figure(-math.log(rule.alpha)),
    )


def _figure(value: Any) -> float:
    return round(float(value), 4)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"

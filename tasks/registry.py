"""The model registry: candidates, an evaluation gate, a traffic split, promotion and rollback.

Every trained version (a TGI LoRA adapter, an OpenAI fine-tuned model, a Gemini few-shot
exemplar set) is a row in ``model_versions``: status ``candidate`` -> ``live`` -> ``retired``.

- **Gate.** A candidate takes traffic or goes live only if its held-out metrics pass:
  JSON validity, agreement with the recruiter-approved score (within one point), and, where
  it can be measured (TRL DPO/KTO), preference accuracy at least 0.5 and no lower than the
  base model's. Missing measurements fail the gate.
- **Split.** ``choose_variant`` picks, for each NEW session, a candidate with probability
  equal to its ``traffic_share``, otherwise the live version (or ``None``: the configured
  default). The engine stores the pick in ``interview_sessions.model_version`` and passes it
  to the provider as ``request.model`` (OpenAI model name, TGI ``adapter_id``), so every turn
  and every 👍 / 👎 is attributable to a version.
- **Decision.** An always-valid sequential test (``tasks.sequential``: a mixture SPRT on the
  difference of the arms' mean per-session 👍 share) is applied whenever ``review`` runs,
  hourly or not, with false promotions plus false rollbacks at most alpha (0.05) in total.
  Sessions are the units (each session's ratings are one observation). Before
  ``min_sessions`` per arm nothing is decided; evidence that the candidate is better:
  promote; worse: roll back (retire, no more traffic); nothing after ``max_days``: "no
  difference", the candidate is retired. A manual promotion is refused when the candidate
  is measured worse, so no measurably worse model goes live.
- **Attribution.** A session belongs to the arm of the variant it was assigned
  (``interview_sessions.model_version``). Only turns that variant answered itself count as
  its 👍 / 👎; a turn where it failed and a fallback provider answered (``turns.fell_back``;
  the turn's ``model_version`` names the fallback model) counts as one failure (a
  👎-equivalent) for the arm, so a model that fails more cannot look better. Each arm reports
  its fallback rate. Only the session's candidate's and recruiters' ratings count; anyone
  else's is stored and shown but never moves an arm (``bot.store.tally``).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import InterviewSession, ModelVersion, Rating, Turn, utcnow
from bot.store.tally import counted_rater
from tasks import sequential

CANDIDATE, LIVE, RETIRED = "candidate", "live", "retired"
BACKENDS = ("trl", "openai", "gemini")
# Which registry backend serves the sessions of each LLM provider.
PROVIDER_BACKEND = {"tgi": "trl", "local": "trl", "openai": "openai", "gemini": "gemini"}
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


class RegistryError(ValueError):
    """A registry action that cannot be done; the message says why and what to do instead."""


# ── gate ────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class GateThresholds:
    min_json_validity: float = 0.95
    min_agreement: float = 0.6
    min_preference_accuracy: float = 0.5


@dataclass
class Check:
    name: str
    value: float | None
    threshold: str
    passed: bool
    note: str = ""


@dataclass
class GateResult:
    passed: bool
    checks: list[Check]
    at: str = field(default_factory=lambda: utcnow().isoformat())

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "at": self.at, "checks": [c.__dict__ for c in self.checks]}

    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.note}" for c in self.checks if not c.passed]


def run_gate(
    metrics: dict[str, Any], backend: str, thresholds: GateThresholds = GateThresholds()
) -> GateResult:
    """Check measured metrics against the thresholds; a missing required metric fails."""
    checks: list[Check] = []

    def at_least(name: str, minimum: float, label: str) -> None:
        value = metrics.get(name)
        if value is None:
            checks.append(Check(name, None, f">= {minimum}", False, f"{label} was not measured"))
        else:
            ok = float(value) >= minimum
            checks.append(
                Check(
                    name,
                    float(value),
                    f">= {minimum}",
                    ok,
                    f"{label} {float(value):.3f} {'meets' if ok else 'is below'} {minimum}",
                )
            )

    at_least("json_validity", thresholds.min_json_validity, "JSON validity")
    at_least("agreement", thresholds.min_agreement, "agreement with recruiter scores")
    if backend == "trl" and metrics.get("method", "dpo") == "kto" and metrics.get("heldout_pairs") == 0:
        checks.append(
            Check(
                "preference_accuracy",
                None,
                "n/a",
                True,
                "no held-out prompt has both a 👍 and a 👎 reply; judged by the other checks",
            )
        )
    elif backend == "trl" and metrics.get("method", "dpo") in ("dpo", "kto"):
        at_least("preference_accuracy", thresholds.min_preference_accuracy, "held-out preference accuracy")
        base, after = metrics.get("preference_accuracy_base"), metrics.get("preference_accuracy")
        if base is not None and after is not None:
            ok = after >= base
            checks.append(
                Check(
                    "preference_gain",
                    round(after - base, 4),
                    ">= 0",
                    ok,
                    f"preference accuracy {'did not fall' if ok else 'fell'} from the base model's "
                    f"{base:.3f} to {after:.3f}",
                )
            )
    else:
        checks.append(
            Check(
                "preference_accuracy",
                metrics.get("preference_accuracy"),
                "n/a",
                True,
                "not measurable for this backend or method; judged by the other checks",
            )
        )
    return GateResult(all(c.passed for c in checks), checks)


# ── views ───────────────────────────────────────────────────────────────────────────
@dataclass
class VersionView:
    id: int
    name: str
    backend: str
    base_model: str | None
    artifact: str | None
    status: str
    traffic_share: float
    metrics: dict[str, Any]
    data_snapshot: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None
    retired_at: datetime | None

    @classmethod
    def of(cls, row: ModelVersion) -> VersionView:
        return cls(
            id=row.id,
            name=row.name,
            backend=row.backend,
            base_model=row.base_model,
            artifact=row.artifact,
            status=row.status,
            traffic_share=row.traffic_share,
            metrics=dict(row.metrics or {}),
            data_snapshot=dict(row.data_snapshot or {}),
            created_at=row.created_at,
            promoted_at=row.promoted_at,
            retired_at=row.retired_at,
        )

    @property
    def serving_id(self) -> str:
        return serving_id(self.backend, self.name, self.artifact)

    @property
    def gate_passed(self) -> bool:
        return bool(self.metrics.get("gate", {}).get("passed"))

    @property
    def splittable(self) -> bool:
        return splittable(self.backend, self.metrics)


def serving_id(backend: str, name: str, artifact: str | None) -> str:
    """What a session asks the provider for: the OpenAI model name, or the TGI adapter id (the name)."""
    return (artifact or name) if backend == "openai" else name


def splittable(backend: str, metrics: dict[str, Any]) -> bool:
    """Whether a provider can serve this version for some sessions only (chosen per request)."""
    if backend == "openai":
        return True
    if backend == "trl":
        return metrics.get("serving", "lora-adapter") == "lora-adapter"
    return False  # a Gemini exemplar set applies to every session once promoted


def _get(session: Session, name: str, *, lock: bool = False) -> ModelVersion:
    query = select(ModelVersion).where(ModelVersion.name == name)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        known = session.scalars(select(ModelVersion.name).order_by(ModelVersion.id.desc()).limit(5)).all()
        hint = f" Known versions: {', '.join(known)}." if known else " The registry is empty."
        raise RegistryError(f"There is no model version named {name!r}.{hint}")
    return row


def _live(session: Session, backend: str, *, lock: bool = False) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.status == LIVE, ModelVersion.backend == backend)
    if lock:
        query = query.with_for_update()
    return session.scalars(query.order_by(ModelVersion.promoted_at.desc())).first()


# ── lifecycle ───────────────────────────────────────────────────────────────────────
def register_candidate(
    db: Database,
    *,
    name: str,
    backend: str,
    base_model: str | None,
    artifact: str | None,
    data_snapshot: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    thresholds: GateThresholds = GateThresholds(),
) -> VersionView:
    """Add a new version as a candidate (no traffic) and run the gate on the metrics it came with."""
    if backend not in BACKENDS:
        raise RegistryError(f"backend must be one of {', '.join(BACKENDS)} (got {backend!r})")
    measured = dict(metrics or {})
    measured["gate"] = run_gate(measured, backend, thresholds).as_dict()
    with db.session() as session:
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
            raise RegistryError(f"A model version named {name!r} already exists; choose another --name.")
        row = ModelVersion(
            name=name,
            backend=backend,
            base_model=base_model,
            artifact=artifact,
            status=CANDIDATE,
            traffic_share=0.0,
            data_snapshot=dict(data_snapshot or {}),
            metrics=measured,
        )
        session.add(row)
        session.flush()
        return VersionView.of(row)


def record_metrics(
    db: Database, name: str, metrics: dict[str, Any], thresholds: GateThresholds = GateThresholds()
) -> VersionView:
    """Merge new measurements into a version and re-run its gate."""
    with db.session() as session:
        row = _get(session, name, lock=True)
        merged = {**(row.metrics or {}), **metrics}
        merged["gate"] = run_gate(merged, row.backend, thresholds).as_dict()
        row.metrics = merged
        if not merged["gate"]["passed"] and row.status == CANDIDATE:
            row.traffic_share = 0.0  # a candidate that no longer passes takes no traffic
        return VersionView.of(row)


def check_gate(db: Database, name: str, thresholds: GateThresholds = GateThresholds()) -> GateResult:
    with db.session() as session:
        row = _get(session, name, lock=True)
        result = run_gate(row.metrics or {}, row.backend, thresholds)
        row.metrics = {**(row.metrics or {}), "gate": result.as_dict()}
        if not result.passed and row.status == CANDIDATE:
            row.traffic_share = 0.0
        return result


def set_traffic(db: Database, name: str, share: float) -> VersionView:
    """Give a gated candidate ``share`` (0-1) of new sessions; the live version serves the rest."""
    if not 0.0 <= share <= 1.0:
        raise RegistryError("The traffic share is a fraction between 0 and 1, for example 0.1 for 10%.")
    with db.session() as session:
        row = _get(session, name, lock=True)
        view = VersionView.of(row)
        if row.status != CANDIDATE:
            raise RegistryError(f"{name} is {row.status}; only a candidate takes a traffic share.")
        if share > 0 and not view.gate_passed:
            reasons = "; ".join(run_gate(view.metrics, row.backend).reasons()) or "the gate has not been run"
            raise RegistryError(f"{name} has not passed the evaluation gate ({reasons}).")
        if share > 0 and not view.splittable:
            raise RegistryError(
                f"{name} cannot be served to only some sessions ("
                + (
                    "a Gemini exemplar set applies to every session"
                    if row.backend == "gemini"
                    else "TGI serves LoRA adapters per request, not prefix adapters or full models"
                )
                + "); evaluate it and promote it instead."
            )
        others = (
            session.scalar(
                select(func.coalesce(func.sum(ModelVersion.traffic_share), 0.0)).where(
                    ModelVersion.status == CANDIDATE,
                    ModelVersion.backend == row.backend,
                    ModelVersion.id != row.id,
                )
            )
            or 0.0
        )
        if share + others > 1.0 + 1e-9:
            raise RegistryError(
                f"Other {row.backend} candidates already take {others:.0%} of sessions; "
                f"at most {1 - others:.0%} is left for {name}."
            )
        metrics = dict(row.metrics or {})
        if share > 0 and row.traffic_share == 0:
            metrics["split_started_at"] = utcnow().isoformat()
        row.metrics = metrics
        row.traffic_share = share
        return VersionView.of(row)


def choose_variant(db: Database, rng: random.Random, backend: str | None = None) -> str | None:
    """The model name / TGI adapter id a NEW session should use, or None for the configured default."""
    with db.session() as session:
        query = select(ModelVersion).where(ModelVersion.status.in_((LIVE, CANDIDATE)))
        if backend is not None:
            query = query.where(ModelVersion.backend == backend)
        rows = [VersionView.of(r) for r in session.scalars(query.order_by(ModelVersion.id))]
    candidates = [
        v for v in rows if v.status == CANDIDATE and v.traffic_share > 0 and v.gate_passed and v.splittable
    ]
    live = next(
        (
            v
            for v in sorted(rows, key=lambda v: v.promoted_at or v.created_at, reverse=True)
            if v.status == LIVE and v.splittable
        ),
        None,
    )
    draw = rng.random()
    for candidate in candidates:
        if draw < candidate.traffic_share:
            return candidate.serving_id
        draw -= candidate.traffic_share
    return live.serving_id if live else None


def variant_chooser(
    db: Database, provider: str, rng: random.Random | None = None
) -> Callable[[], str | None] | None:
    """``InterviewEngine(variants=...)`` for the configured provider, or None where nothing is registered."""
    backend = PROVIDER_BACKEND.get(provider)
    if backend is None or backend == "gemini":
        return None
    chooser = rng or random.SystemRandom()
    return lambda: choose_variant(db, chooser, backend)


# ── measurement ─────────────────────────────────────────────────────────────────────
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

    @property
    def rate(self) -> float | None:
        """👍 rate of the ratings on turns the arm's own model answered."""
        return round(self.up / self.total, 4) if self.total else None

    @property
    def fallback_rate(self) -> float | None:
        return round(self.fallbacks / self.turns, 4) if self.turns else None

    @property
    def session_mean(self) -> float | None:
        """Mean per-session 👍 share, fallbacks counted as failures: what the test compares."""
        return round(self.share_sum / self.sessions, 4) if self.sessions else None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__ | {
            "rate": self.rate,
            "fallback_rate": self.fallback_rate,
            "session_mean": self.session_mean,
        }


@dataclass
class Comparison:
    candidate: str
    since: str | None
    candidate_arm: Arm
    baseline_arm: Arm
    evidence: sequential.Evidence
    decision: str  # promote / rollback / retire / wait
    reason: str
    policy: sequential.Policy

    def as_dict(self) -> dict[str, Any]:
        e = self.evidence
        return {
            "candidate": self.candidate,
            "since": self.since,
            "decision": self.decision,
            "reason": self.reason,
            "candidate_arm": self.candidate_arm.as_dict(),
            "baseline_arm": self.baseline_arm.as_dict(),
            "difference": round(float(e.difference), 4),
            "confidence_sequence": [
                round(float(e.difference - e.half_width), 4),
                round(float(e.difference + e.half_width), 4),
            ],
            "log_likelihood_ratio": round(float(e.log_lr), 4),
            "threshold": round(float(-math.log(self.policy.alpha)), 4),
            "policy": self.policy.__dict__,
        }


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
        row = _get(session, name)
        view = VersionView.of(row)
        started = view.metrics.get("split_started_at")
        since = datetime.fromisoformat(started) if started else None
        live = _live(session, row.backend)
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
    return Comparison(name, started, candidate_arm, baseline_arm, seen, decision, reason, rule)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# ── promotion and rollback ──────────────────────────────────────────────────────────
def promote(db: Database, name: str, *, policy: sequential.Policy | None = None) -> VersionView:
    """Make a gated candidate live; the live version it replaces is retired (rollback brings it back)."""
    comparison = compare(db, name, policy=policy)
    if comparison.decision == "rollback":
        raise RegistryError(
            f"{name} is measured worse than what it would replace ({comparison.reason}); "
            "it cannot go live. Roll it back instead."
        )
    with db.session() as session:
        row = _get(session, name, lock=True)
        view = VersionView.of(row)
        if row.status != CANDIDATE:
            raise RegistryError(
                f"{name} is {row.status}; only a candidate can be promoted "
                "(use rollback to bring back a retired version)."
            )
        if not view.gate_passed:
            reasons = "; ".join(run_gate(view.metrics, row.backend).reasons()) or "the gate has not been run"
            raise RegistryError(f"{name} has not passed the evaluation gate ({reasons}).")
        if row.backend == "trl" and not view.splittable:
            raise RegistryError(
                f"{name} is a {view.metrics.get('serving')}; TGI selects LoRA adapters per request "
                "only. Deploy it as its own TGI model and register that instead."
            )
        now = utcnow()
        previous = _live(session, row.backend, lock=True)
        if previous is not None:
            previous.status, previous.retired_at, previous.traffic_share = RETIRED, now, 0.0
        row.status, row.promoted_at, row.retired_at, row.traffic_share = LIVE, now, None, 0.0
        # Other candidates are now measured against the new live version, from now on.
        for other in session.scalars(
            select(ModelVersion).where(
                ModelVersion.status == CANDIDATE,
                ModelVersion.backend == row.backend,
                ModelVersion.traffic_share > 0,
            )
        ):
            other.metrics = {**(other.metrics or {}), "split_started_at": now.isoformat()}
        row.metrics = {**(row.metrics or {}), "promotion": comparison.as_dict()}
        return VersionView.of(row)


@dataclass
class Rollback:
    retired: VersionView
    reinstated: VersionView | None
    was_live: bool


def rollback(db: Database, name: str | None = None, *, backend: str | None = None) -> Rollback:
    """Retire a candidate (no more traffic), or retire the live version and bring back the one before it."""
    with db.session() as session:
        if name is None:
            query = select(ModelVersion).where(ModelVersion.status == LIVE)
            if backend:
                query = query.where(ModelVersion.backend == backend)
            lives = session.scalars(query.with_for_update()).all()
            if not lives:
                raise RegistryError(
                    "No version is live" + (f" for {backend}" if backend else "") + "; nothing to roll back."
                )
            if len(lives) > 1:
                raise RegistryError(
                    "Several backends have a live version ("
                    + ", ".join(f"{r.name} [{r.backend}]" for r in lives)
                    + "); name the one to roll back."
                )
            row = lives[0]
        else:
            row = _get(session, name, lock=True)
        if row.status == RETIRED:
            raise RegistryError(f"{row.name} is already retired.")
        now = utcnow()
        was_live = row.status == LIVE
        row.status, row.retired_at, row.traffic_share = RETIRED, now, 0.0
        row.metrics = {**(row.metrics or {}), "rolled_back_at": now.isoformat()}
        reinstated = None
        if was_live:
            # The version it replaced: retired after having been live, and never rolled back itself.
            previous = session.scalars(
                select(ModelVersion)
                .where(
                    ModelVersion.backend == row.backend,
                    ModelVersion.status == RETIRED,
                    ModelVersion.promoted_at.is_not(None),
                    ModelVersion.id != row.id,
                )
                .order_by(ModelVersion.retired_at.desc())
                .with_for_update()
            ).all()
            reinstated = next((r for r in previous if "rolled_back_at" not in (r.metrics or {})), None)
            if reinstated is not None:
                reinstated.status, reinstated.retired_at, reinstated.promoted_at = LIVE, None, now
        session.flush()
        return Rollback(VersionView.of(row), VersionView.of(reinstated) if reinstated else None, was_live)


@dataclass
class Decision:
    name: str
    action: str  # promoted / rolled back / retired / waiting
    comparison: Comparison


def review(
    db: Database, *, policy: sequential.Policy | None = None, now: datetime | None = None
) -> list[Decision]:
    """Apply the sequential rule to every candidate taking traffic (the beat schedule runs this hourly).

    The rule is always valid, so running it more often does not raise its error rates.
    """
    rule = policy or current_policy()
    with db.session() as session:
        names = session.scalars(
            select(ModelVersion.name)
            .where(ModelVersion.status == CANDIDATE, ModelVersion.traffic_share > 0)
            .order_by(ModelVersion.id)
        ).all()
    decisions = []
    for name in names:
        comparison = compare(db, name, policy=rule, now=now)
        action = "waiting"
        if comparison.decision == "promote":
            promote(db, name, policy=rule)
            action = "promoted"
        elif comparison.decision == "rollback":
            rollback(db, name)
            action = "rolled back"
        elif comparison.decision == "retire":
            rollback(db, name)
            action = "retired"
        decisions.append(Decision(name, action, comparison))
    return decisions


def list_versions(db: Database, backend: str | None = None) -> list[VersionView]:
    with db.session() as session:
        query = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        if backend:
            query = query.where(ModelVersion.backend == backend)
        return [VersionView.of(row) for row in session.scalars(query)]


def get_version(db: Database, name: str) -> VersionView:
    with db.session() as session:
        return VersionView.of(_get(session, name))

"""The evaluation gate: a version enters as a candidate and takes traffic or goes live only if
its held-out metrics pass (JSON validity, agreement with recruiter scores, and, where TRL can
measure it, preference accuracy no lower than the base model's) and it is no worse than the
incumbent (the live version, else the base model) on JSON validity and score MAE. Missing
measurements fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import ModelVersion, utcnow
from tasks.registry.versions import BACKENDS, CANDIDATE, RegistryError, VersionView, live_row, row_named


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

    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.note}" for c in self.checks if not c.passed]


@dataclass(frozen=True)
class Incumbent:
    """What a candidate must not be worse than: the live version's held-out figures, or (for a first
    TRL version) the base model's, measured on the same held-out prompts in the same run."""

    label: str
    json_validity: float | None
    score_mae: float | None

    @classmethod
    def for_candidate(cls, metrics: dict[str, Any], live: ModelVersion | None) -> Incumbent | None:
        if live is not None:
            m = live.metrics or {}
            return cls(f"the live version {live.name}", m.get("json_validity"), m.get("score_mae"))
        if "json_validity_base" in metrics or "score_mae_base" in metrics:
            return cls("the base model", metrics.get("json_validity_base"), metrics.get("score_mae_base"))
        return None


def _no_worse(metrics: dict[str, Any], incumbent: Incumbent, name: str, higher_is_better: bool) -> Check:
    label = {"json_validity": "JSON validity", "score_mae": "score MAE"}[name]
    theirs, ours = getattr(incumbent, name), metrics.get(name)
    if theirs is None:
        return Check(f"{name}_vs_incumbent", ours, "n/a", True, f"{incumbent.label} has no {label} to compare")
    if ours is None:
        return Check(f"{name}_vs_incumbent", None, f"vs {theirs}", False,
                     f"{label} was not measured, so it cannot be shown no worse than {incumbent.label}'s {theirs}")
    ok = ours >= theirs if higher_is_better else ours <= theirs
    return Check(
        f"{name}_vs_incumbent", float(ours), f"{'>=' if higher_is_better else '<='} {theirs}", ok,
        f"{label} {float(ours):.3f} is {'no worse than' if ok else 'worse than'} "
        f"{incumbent.label}'s {float(theirs):.3f}",
    )  # fmt: skip


def run_gate(
    metrics: dict[str, Any],
    backend: str,
    thresholds: GateThresholds = GateThresholds(),
    incumbent: Incumbent | None = None,
) -> GateResult:
    """Check measured metrics against the thresholds and the incumbent; a missing required metric fails.

    A candidate worse than the incumbent on JSON validity or score MAE is refused even when it
    clears the fixed thresholds: a new version must not make feedback less valid or less accurate.
    """
    checks: list[Check] = []
    if incumbent is not None:
        checks.append(_no_worse(metrics, incumbent, "json_validity", higher_is_better=True))
        checks.append(_no_worse(metrics, incumbent, "score_mae", higher_is_better=False))

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


def stored_reasons(view: VersionView) -> list[str]:
    """Why the version's last gate run failed, as recorded (with the incumbent it was held to)."""
    checks = view.metrics.get("gate", {}).get("checks", [])
    return [f"{c['name']}: {c['note']}" for c in checks if not c["passed"]]


def _incumbent(session: Session, row: ModelVersion, metrics: dict[str, Any]) -> Incumbent | None:
    """The incumbent for a version already registered (a live version has none but the base)."""
    live = live_row(session, row.backend)
    return Incumbent.for_candidate(metrics, None if live is None or live.id == row.id else live)


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
    with db.session() as session:
        incumbent = Incumbent.for_candidate(measured, live_row(session, backend))
        measured["gate"] = asdict(run_gate(measured, backend, thresholds, incumbent))
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
        row = row_named(session, name, lock=True)
        merged = {**(row.metrics or {}), **metrics}
        merged["gate"] = asdict(run_gate(merged, row.backend, thresholds, _incumbent(session, row, merged)))
        row.metrics = merged
        if not merged["gate"]["passed"] and row.status == CANDIDATE:
            row.traffic_share = 0.0  # a candidate that no longer passes takes no traffic
        return VersionView.of(row)


def check_gate(db: Database, name: str, thresholds: GateThresholds = GateThresholds()) -> GateResult:
    with db.session() as session:
        row = row_named(session, name, lock=True)
        result = run_gate(row.metrics or {}, row.backend, thresholds, _incumbent(session, row, row.metrics or {}))
        row.metrics = {**(row.metrics or {}), "gate": asdict(result)}
        if not result.passed and row.status == CANDIDATE:
            row.traffic_share = 0.0
        return result

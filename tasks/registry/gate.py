"""The evaluation gate: a version enters as a candidate and takes traffic or goes live only if
its held-out metrics pass (JSON validity, agreement with recruiter scores, and, where TRL can
measure it, preference accuracy no lower than the base model's). Missing measurements fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import ModelVersion, utcnow
from tasks.registry.versions import BACKENDS, CANDIDATE, RegistryError, VersionView, row_named


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
        row = row_named(session, name, lock=True)
        merged = {**(row.metrics or {}), **metrics}
        merged["gate"] = run_gate(merged, row.backend, thresholds).as_dict()
        row.metrics = merged
        if not merged["gate"]["passed"] and row.status == CANDIDATE:
            row.traffic_share = 0.0  # a candidate that no longer passes takes no traffic
        return VersionView.of(row)


def check_gate(db: Database, name: str, thresholds: GateThresholds = GateThresholds()) -> GateResult:
    with db.session() as session:
        row = row_named(session, name, lock=True)
        result = run_gate(row.metrics or {}, row.backend, thresholds)
        row.metrics = {**(row.metrics or {}), "gate": result.as_dict()}
        if not result.passed and row.status == CANDIDATE:
            row.traffic_share = 0.0
        return result

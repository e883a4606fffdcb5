"""The promotion policy: promote, roll back, and the periodic ``review`` that applies the
always-valid sequential test (false promotions plus false rollbacks at most alpha, at any
peeking frequency). A manual promotion is refused when the candidate is measured worse.
The rule's parameters come from the ``AB_*`` environment (docs/retraining.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import ModelVersion, utcnow
from tasks.registry import sequential
from tasks.registry.gate import stored_reasons
from tasks.registry.measurement import Comparison, compare, current_policy
from tasks.registry.versions import CANDIDATE, LIVE, RETIRED, RegistryError, VersionView, live_row, row_named


def promote(db: Database, name: str, *, policy: sequential.Policy | None = None) -> VersionView:
    """Make a gated candidate live; the live version it replaces is retired (rollback brings it back)."""
    comparison = compare(db, name, policy=policy)
    if comparison.decision == "rollback":
        raise RegistryError(
            f"{name} is measured worse than what it would replace ({comparison.reason}); "
            "it cannot go live. Roll it back instead."
        )
    with db.session() as session:
        row = row_named(session, name, lock=True)
        view = VersionView.of(row)
        if row.status != CANDIDATE:
            raise RegistryError(
                f"{name} is {row.status}; only a candidate can be promoted "
                "(use rollback to bring back a retired version)."
            )
        if not view.gate_passed:
            reasons = "; ".join(stored_reasons(view)) or "the gate has not been run"
            raise RegistryError(f"{name} has not passed the evaluation gate ({reasons}).")
        if row.backend == "trl" and not view.splittable:
            raise RegistryError(
                f"{name} is a {view.metrics.get('serving')}; TGI selects LoRA adapters per request "
                "only. Deploy it as its own TGI model and register that instead."
            )
        now = utcnow()
        previous = live_row(session, row.backend, lock=True)
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
            row = row_named(session, name, lock=True)
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

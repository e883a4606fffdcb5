"""The traffic split: ``choose_variant`` picks, for each NEW session, a candidate with probability
equal to its ``traffic_share``, otherwise the live version (or None: the configured default).
The engine stores the pick with the session and passes it to the provider, so every turn and
every 👍 / 👎 is attributable to a version.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import ModelVersion, utcnow
from tasks.registry.gate import stored_reasons
from tasks.registry.versions import CANDIDATE, LIVE, PROVIDER_BACKEND, RegistryError, VersionView, row_named


def set_traffic(db: Database, name: str, share: float) -> VersionView:
    """Give a gated candidate ``share`` (0-1) of new sessions; the live version serves the rest."""
    if not 0.0 <= share <= 1.0:
        raise RegistryError("The traffic share is a fraction between 0 and 1, for example 0.1 for 10%.")
    with db.session() as session:
        row = row_named(session, name, lock=True)
        view = VersionView.of(row)
        if row.status != CANDIDATE:
            raise RegistryError(f"{name} is {row.status}; only a candidate takes a traffic share.")
        if share > 0 and not view.gate_passed:
            reasons = "; ".join(stored_reasons(view)) or "the gate has not been run"
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

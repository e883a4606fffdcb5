"""Stored model versions: what a version is (``VersionView``), how it is served, and finding one.

Every trained version (a TGI LoRA adapter, an OpenAI fine-tuned model, a Gemini few-shot exemplar
set) is a row in ``model_versions``: status ``candidate`` -> ``live`` -> ``retired``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.db import Database
from bot.store.models import ModelVersion

CANDIDATE, LIVE, RETIRED = "candidate", "live", "retired"
BACKENDS = ("trl", "openai", "gemini")
# Which registry backend serves the sessions of each LLM provider.
PROVIDER_BACKEND = {"tgi": "trl", "local": "trl", "openai": "openai", "gemini": "gemini"}


class RegistryError(ValueError):
    """A registry action that cannot be done; the message says why and what to do instead."""


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
        """The row's columns of the same names; the JSON columns copied, so the view is detached."""
        columns = {f.name: getattr(row, f.name) for f in fields(cls)}
        return cls(**columns | {"metrics": dict(row.metrics or {}), "data_snapshot": dict(row.data_snapshot or {})})

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


def row_named(session: Session, name: str, *, lock: bool = False) -> ModelVersion:
    query = select(ModelVersion).where(ModelVersion.name == name)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        known = session.scalars(select(ModelVersion.name).order_by(ModelVersion.id.desc()).limit(5)).all()
        hint = f" Known versions: {', '.join(known)}." if known else " The registry is empty."
        raise RegistryError(f"There is no model version named {name!r}.{hint}")
    return row


def live_row(session: Session, backend: str, *, lock: bool = False) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.status == LIVE, ModelVersion.backend == backend)
    if lock:
        query = query.with_for_update()
    return session.scalars(query.order_by(ModelVersion.promoted_at.desc())).first()


def list_versions(db: Database, backend: str | None = None) -> list[VersionView]:
    with db.session() as session:
        query = select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        if backend:
            query = query.where(ModelVersion.backend == backend)
        return [VersionView.of(row) for row in session.scalars(query)]


def get_version(db: Database, name: str) -> VersionView:
    with db.session() as session:
        return VersionView.of(row_named(session, name))

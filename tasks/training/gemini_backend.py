"""The ``gemini`` backend: prompt-tuning. Rebuild the few-shot exemplar set from the best data, as a version.

Gemini is not fine-tuned here; what improves is the set of worked examples its prompt carries.
A refresh snapshots, per role and kind, the best recruiter-corrected and 👍-rated feedback
(the same ranking as ``bot.store.exemplars.ExemplarSource``), redacted, into a registry
candidate. The set lives in the database (``data_snapshot["exemplar_set"]``) so every bot replica
reads the same one, and a JSON copy is written for review. Once promoted, ``RegistryExemplars``
serves it; until then, and after a rollback to nothing, the live query is used.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.store.db import Database
from bot.store.exemplars import Exemplar, ExemplarSource
from bot.store.models import InterviewSession, ModelVersion
from chains.redact import redact_patterns
from chains.schemas import Feedback
from tasks.data.outputs import open_private

ExemplarFn = Callable[[str, str], tuple[Exemplar, ...]]


def build_exemplar_set(db: Database, per_group: int = 8) -> dict[str, list[dict[str, Any]]]:
    """``{"role/kind": [{question, answer, feedback}, ...]}`` for every role and kind with data."""
    with db.session() as session:
        groups = session.execute(
            select(InterviewSession.role, InterviewSession.kind)
            .distinct()
            .order_by(InterviewSession.role, InterviewSession.kind)
        ).all()
    source = ExemplarSource(db, limit=per_group)
    exemplar_set: dict[str, list[dict[str, Any]]] = {}
    for role, kind in groups:
        chosen = source(role, kind)
        if chosen:
            exemplar_set[f"{role}/{kind}"] = [
                {"question": question, "answer": redact_patterns(answer), "feedback": feedback.model_dump()}
                for question, answer, feedback in chosen
            ]
    return exemplar_set


def write_exemplar_set(path: Path, name: str, exemplar_set: dict[str, list[dict[str, Any]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path) as handle:  # 0600: candidates' answers
        handle.write(json.dumps({"name": name, "groups": exemplar_set}, indent=2, ensure_ascii=False))
    return path


def as_exemplars(items: list[dict[str, Any]]) -> tuple[Exemplar, ...]:
    return tuple(
        (item["question"], item["answer"], Feedback.model_validate(item["feedback"])) for item in items
    )


def set_snapshot(exemplar_set: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "exemplar_set": exemplar_set,
        "groups": len(exemplar_set),
        "exemplars": sum(len(items) for items in exemplar_set.values()),
    }


class RegistryExemplars:
    """``exemplars(role, kind)`` for the engine: the live Gemini set if one is promoted, else ``fallback``."""

    def __init__(self, db: Database, fallback: ExemplarFn | None = None) -> None:
        self.db = db
        self.fallback = fallback
        # keyed by the version's name and revision (forgetting someone edits a set in place)
        self._cache: tuple[tuple[str, int], dict[str, list[dict[str, Any]]]] | None = None
        self._lock = threading.Lock()

    def live_set(self) -> dict[str, list[dict[str, Any]]] | None:
        with self.db.session() as session:
            row = session.execute(
                select(ModelVersion.name, ModelVersion.data_snapshot)
                .where(ModelVersion.backend == "gemini", ModelVersion.status == "live")
                .order_by(ModelVersion.promoted_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        name, snapshot = row
        key = (name, int((snapshot or {}).get("revision") or 0))
        with self._lock:
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, dict((snapshot or {}).get("exemplar_set", {})))
            return self._cache[1]

    def __call__(self, role: str, kind: str) -> tuple[Exemplar, ...]:
        live = self.live_set()
        if live is None:
            return self.fallback(role, kind) if self.fallback else ()
        return as_exemplars(live.get(f"{role}/{kind}", []))

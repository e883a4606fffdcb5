"""The retraining trigger: enough new preference pairs since the last model version → retrain.

``check`` runs on the beat schedule (hourly). ``start_retraining`` records that retraining is due
(``pipeline_state['retrain:due']``) and runs ``tasks.training.entry.retrain_from_settings``, which
trains with ``RETRAIN_BACKEND`` and registers a candidate (no traffic until it passes the gate).
One run at a time: ``pipeline_state['retrain:running']`` keeps a redelivered or overlapping check
from starting a second one while a run is in progress (a claim older than a day is stale).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.store.db import Database
from bot.store.models import ModelVersion, PipelineState, PreferencePair, utcnow
from tasks.data import state

log = logging.getLogger(__name__)

DUE_KEY = "retrain:due"
RUNNING_KEY = "retrain:running"
STALE_RUN = timedelta(days=1)


def new_pairs(db: Database) -> tuple[int, int, datetime | None]:
    """(pairs, KTO labels) created since the newest model version, and that version's time."""
    with db.session() as session:
        since = session.scalar(select(func.max(ModelVersion.created_at)))
        counts = dict.fromkeys(("pair", "kto"), 0)
        # Try-again pairs are answers, not feedback: they never train the feedback writer (tasks.data.export).
        query = (select(PreferencePair.kind, func.count()).where(PreferencePair.source != "retry")
                 .group_by(PreferencePair.kind))
        if since is not None:
            query = query.where(PreferencePair.created_at > since)
        counts.update({kind: n for kind, n in session.execute(query)})
    return counts["pair"], counts["kto"], since


def check(db: Database, settings: Settings) -> dict[str, Any]:
    """Call the retraining entry point when at least ``RETRAIN_MIN_PAIRS`` new pairs exist."""
    pairs, kto, since = new_pairs(db)
    status: dict[str, Any] = {
        "new_pairs": pairs,
        "new_kto": kto,
        "threshold": settings.retrain_min_pairs,
        "since": since.isoformat() if since else None,
        "due": pairs >= settings.retrain_min_pairs,
    }
    if status["due"]:
        status["retraining"] = start_retraining(db, settings, new_pairs=pairs, new_kto=kto, since=since)
    return status


def start_retraining(
    db: Database, settings: Settings, *, new_pairs: int, new_kto: int, since: datetime | None
) -> dict[str, Any]:
    """The retraining entry point: record that retraining is due, then retrain (one run at a time)."""
    record: dict[str, Any] = {
        "due_at": utcnow().isoformat(),
        "backend": settings.retrain_backend,
        "new_pairs": new_pairs,
        "new_kto": new_kto,
        "since": since.isoformat() if since else None,
        "started": False,
    }
    claim = {"started_at": record["due_at"], "backend": settings.retrain_backend}
    with db.session() as session:
        row = session.get(PipelineState, RUNNING_KEY, with_for_update=True)  # concurrent checks queue here
        running = dict(row.value) if row is not None else {}
        started = running.get("started_at")
        busy = bool(started) and "finished_at" not in running and (
            utcnow() - datetime.fromisoformat(started) < STALE_RUN)
        if busy:
            record["skipped"] = f"a retraining run started at {started} is still in progress"
        else:
            state.put(session, RUNNING_KEY, claim)
        state.put(session, DUE_KEY, record)
    log.info(
        "retraining is due: %s new pairs since %s (backend %s)", new_pairs, since, settings.retrain_backend
    )
    if busy:
        return record
    try:
        from tasks.training.entry import retrain_from_settings

        version = retrain_from_settings(db, settings)
        record.update(started=True, version=version.name, gate_passed=version.gate_passed)
    except Exception as exc:  # configuration, data or the backend: recorded, retried at the next check
        log.exception("retraining failed")
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        with db.session() as session:
            state.put(session, RUNNING_KEY, {**claim, "finished_at": utcnow().isoformat()})
            state.put(session, DUE_KEY, record)
    return record


def due(db: Database) -> dict[str, Any] | None:
    with db.session() as session:
        return state.get(session, DUE_KEY)

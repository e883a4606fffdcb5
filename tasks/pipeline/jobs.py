"""Celery tasks: thin wrappers that add delivery guarantees around the plain functions.

Every task acknowledges its message only after it finished (``acks_late``), is put back when its
process dies (``reject_on_worker_lost``), and retries transient failures (database or Redis
unreachable, a lock) with exponential backoff. Storage is idempotent, so a redelivered message
stores nothing new. A payload that can never succeed becomes a dead letter with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Retry
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.config import get_settings
from bot.store.db import Database
from bot.store.models import utcnow
from tasks.data import export, preferences, rollups, state
from tasks.pipeline import bulk, deadletter, ingest, retrain_trigger
from tasks.pipeline.ingest import PoisonPayload
from tasks.pipeline.runtime import database, redis_client

log = logging.getLogger(__name__)

# Retried with backoff: the database, Redis or the broker unreachable or timing out, a lock.
# Not IntegrityError: a constraint violation is almost always permanent (the storage functions
# retry a unique-key race themselves), so it becomes a dead letter at once.
TRANSIENT = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    RedisConnectionError,
    RedisTimeout,
    BrokerError,
    ConnectionError,
    TimeoutError,
)
DIRTY_BATCH = 2000


class PipelineTask(Task):  # type: ignore[misc]
    """Base of every Mockingbird task: late acks, retries with backoff, dead letters."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Reached for errors that are not transient, or after the last retry: keep the payload."""
        if isinstance(exc, Retry):
            return
        payload = args[0] if len(args) == 1 and not kwargs else {"args": list(args), "kwargs": kwargs}
        reason = deadletter.reason_for(exc)
        if isinstance(exc, TRANSIENT):
            reason = f"gave up after {self.request.retries} retries: {reason}"
        try:
            deadletter.record(database(), self.name, payload, reason)
        except Exception:
            log.exception("task %s %s failed and its dead letter could not be stored", self.name, task_id)


def _dirty_key() -> str:
    return f"{get_settings().celery_queue}:dirty-turns"


def _mark_dirty(*turn_ids: Any) -> None:
    """Remember turns for the next incremental preference build (the nightly build catches misses)."""
    client = redis_client()
    ids = [t for t in turn_ids if isinstance(t, int)]
    if client is None or not ids:
        return
    try:
        client.sadd(_dirty_key(), *ids)
    except Exception as exc:
        log.warning("could not mark turns for the preference build: %s", exc)


def _confirm(task: Task, payloads: list[Any]) -> None:
    """Stored or dead-lettered: the sink's write-ahead outbox rows are done."""
    from tasks.pipeline import outbox

    signal = task.name.removeprefix("mockingbird.")
    outbox.confirm(database(), [outbox.key_of(signal, p) for p in payloads if isinstance(p, dict)])


def _signal(task: Task, handler: Any, payload: Any) -> dict[str, Any]:
    db = database()
    try:
        result = handler(db, payload)
    except PoisonPayload as exc:
        dead = deadletter.record(db, task.name, payload, deadletter.reason_for(exc))
        _confirm(task, [payload])
        return {"dead_letter": dead}
    if isinstance(payload, dict) and not payload.get("idempotency_key"):
        _confirm(task, [payload])  # keyed signals were settled in their own transaction (tasks.pipeline.ingest)
    _mark_dirty(result.get("turn_id"))
    return result


# ── signals ─────────────────────────────────────────────────────────────────────────
@shared_task(bind=True, base=PipelineTask, name="mockingbird.record_rating", ignore_result=True)
def record_rating(self: Task, payload: Any) -> dict[str, Any]:
    return _signal(self, ingest.record_rating, payload)


@shared_task(bind=True, base=PipelineTask, name="mockingbird.record_ratings", ignore_result=True)
def record_ratings(self: Task, payloads: Any) -> dict[str, Any]:
    """A batch of ratings in one transaction (the outbox relay sends its backlog this way)."""
    db = database()
    if not isinstance(payloads, list):
        return {
            "dead_letter": deadletter.record(db, self.name, payloads, "expected a list of rating payloads")
        }
    result = bulk.record_ratings(db, payloads)  # settles the outbox rows in its own transaction
    _mark_dirty(*result.turn_ids)
    return result.model_dump()


@shared_task(bind=True, base=PipelineTask, name="mockingbird.record_correction", ignore_result=True)
def record_correction(self: Task, payload: Any) -> dict[str, Any]:
    return _signal(self, ingest.record_correction, payload)


# ── preference data and datasets ────────────────────────────────────────────────────
@shared_task(bind=True, base=PipelineTask, name="mockingbird.build_preferences")
def build_preferences(self: Task, turn_ids: list[int] | None = None, full: bool = False) -> dict[str, Any]:
    """Rebuild pairs for the given turns, or for the turns marked since the last run, or all (``full``)."""
    db = database()
    if full:
        return preferences.build(db).model_dump()
    if turn_ids is not None:
        return preferences.build(db, turn_ids).model_dump()
    client = redis_client()
    total = preferences.BuildResult()
    while client is not None:
        ids = [int(i) for i in client.spop(_dirty_key(), DIRTY_BATCH) or []]
        if not ids:
            break
        try:
            total.add(preferences.build(db, ids))
        except Exception:
            client.sadd(_dirty_key(), *ids)  # try these again next time
            raise
    return total.model_dump()


@shared_task(bind=True, base=PipelineTask, name="mockingbird.export_dataset")
def export_dataset(self: Task, fmt: str, out: str, since: str | None = None) -> dict[str, Any]:
    moment = datetime.fromisoformat(since) if since else None
    return asdict(export.export(database(), fmt, Path(out), since=moment))


def nightly(db: Database, out_dir: Path) -> dict[str, Any]:
    """Full preference build, then every export format into ``out_dir/<date>/``."""
    built = preferences.build(db)
    folder = out_dir / utcnow().date().isoformat()
    files = {fmt: asdict(export.export(db, fmt, folder / f"{fmt}.jsonl")) for fmt in export.FORMATS}
    record = {"at": utcnow().isoformat(), "build": built.model_dump(), "files": files}
    with db.session() as session:
        state.put(session, "dataset:last", record)
    return record


@shared_task(bind=True, base=PipelineTask, name="mockingbird.nightly_dataset")
def nightly_dataset(self: Task) -> dict[str, Any]:
    return nightly(database(), get_settings().data_dir / "datasets")


# ── periodic jobs ───────────────────────────────────────────────────────────────────
@shared_task(bind=True, base=PipelineTask, name="mockingbird.check_retraining")
def check_retraining(self: Task) -> dict[str, Any]:
    return retrain_trigger.check(database(), get_settings())


@shared_task(bind=True, base=PipelineTask, name="mockingbird.rollup_stats")
def rollup_stats(self: Task, days: int = 2) -> dict[str, Any]:
    return rollups.rollup(database(), days)


@shared_task(bind=True, base=PipelineTask, name="mockingbird.purge_retention")
def purge_retention(self: Task) -> dict[str, Any]:
    """Scrub transcripts older than ``RETENTION_DAYS`` (nothing when it is 0)."""
    from tasks.data.retention import purge_from_settings

    report = purge_from_settings(get_settings())
    return {"purged": False} if report is None else {"purged": True, **report.model_dump(mode="json")}


@shared_task(bind=True, base=PipelineTask, name="mockingbird.review_models")
def review_models(self: Task) -> dict[str, Any]:
    """Promote or roll back candidates taking traffic, on the registry's statistical rule."""
    from tasks import registry

    return {"decisions": [{"name": d.name, "action": d.action} for d in registry.review(database())]}


@shared_task(bind=True, base=PipelineTask, name="mockingbird.relay_outbox")
def relay_outbox(self: Task) -> dict[str, Any]:
    from tasks.pipeline.sink import is_broker_error, publisher

    settings = get_settings()
    publish = publisher(self.app, settings.celery_queue)
    return outbox_relay(database(), publish, is_broker_error, settings.celery_visibility_timeout_s)


def outbox_relay(db: Database, publish: Any, is_broker_error: Any, visibility_timeout_s: int = 3600) -> dict[str, Any]:
    from tasks.pipeline import outbox

    grace = outbox.grace_for(visibility_timeout_s)
    return outbox.relay(db, publish, is_broker_error=is_broker_error, grace=grace).model_dump()

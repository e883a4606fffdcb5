"""The Celery application, built from settings: broker and result backend from ``REDIS_URL``.

A factory rather than a module-level singleton, so every process (and every test, with its own
Redis database and queue) gets an app configured from its own settings. ``tasks.celery.app`` is
the instance ``celery -A tasks worker|beat`` finds. Without ``REDIS_URL`` tasks run eagerly,
in the calling process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init

from bot.config import Settings, get_settings

#: Engine signal names (``bot.engine.signals``) to Celery task names.
SIGNAL_TASKS: dict[str, str] = {
    "record_rating": "mockingbird.record_rating",
    "record_correction": "mockingbird.record_correction",
    "record_ratings": "mockingbird.record_ratings",  # a batch: the outbox relay's backlog
}

#: Publishing gives up quickly when Redis is down: the outbox keeps the message instead.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

_apps: dict[tuple[str | None, str, int], Celery] = {}


# Periodic jobs: (name, task, when, expires after seconds). Each expires before its next run, so a
# backlog never piles up while workers are down.
PERIODIC: tuple[tuple[str, str, timedelta | crontab, int], ...] = (
    ("relay-outbox", "mockingbird.relay_outbox", timedelta(seconds=15), 15),
    ("build-preferences", "mockingbird.build_preferences", timedelta(minutes=10), 600),
    ("nightly-dataset", "mockingbird.nightly_dataset", crontab(hour=2, minute=30), 3600),
    ("retrain-check", "mockingbird.check_retraining", crontab(minute=15), 3600),
    ("purge-retention", "mockingbird.purge_retention", crontab(hour=3, minute=45), 3600),
    ("review-models", "mockingbird.review_models", crontab(minute=40), 3600),
    ("stats-rollup", "mockingbird.rollup_stats", crontab(minute=5), 3600),
)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery beat's schedule, from ``PERIODIC``."""
    return {
        name: {"task": task, "schedule": when, "options": {"expires": expires}}
        for name, task, when, expires in PERIODIC
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    url = settings.redis_url
    visibility = settings.celery_visibility_timeout_s
    redis_options = {"socket_connect_timeout": 2, "socket_timeout": 15, "retry_on_timeout": True}
    return {
        "broker_url": url or "memory://",
        "result_backend": url or "cache+memory://",
        "task_always_eager": not url,
        "task_eager_propagates": True,
        "task_default_queue": settings.celery_queue,
        # Delivery: a message is acknowledged only after its task finished, and a task whose
        # process died is put back; storage is idempotent, so a second run stores nothing new.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 8,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_expires": 24 * 3600,
        "timezone": "UTC",
        "enable_utc": True,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": visibility,
            # Messages a killed worker held come back after the visibility timeout; sweep often
            # enough that a short timeout (tests, small deployments) is honoured.
            "unacked_restore_interval": max(1, min(10, visibility // 4)),
            "unacked_restore_throttle": 1,
            **redis_options,
        },
        "result_backend_transport_options": redis_options,
        "task_publish_retry_policy": PUBLISH_RETRY,
        "worker_consumer": "tasks.pipeline.consumer:DeadLetterConsumer",
        "worker_hijack_root_logger": False,
        "beat_schedule": beat_schedule(),
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
    }


@worker_process_init.connect(weak=False)
def _warm_pool_process(**_: Any) -> None:
    """A new pool process opens its database connection now, not on the first click it stores."""
    try:
        from tasks.pipeline.runtime import database

        with database().engine.connect():
            pass
    except Exception:  # the first task reports it; the process must start anyway
        pass


def make_app(settings: Settings | None = None) -> Celery:
    """A configured app whose tasks are ``tasks.pipeline.jobs`` (registered when the app is finalized)."""
    settings = settings or get_settings()
    app = Celery("mockingbird", include=["tasks.pipeline.jobs"])
    app.conf.update(celery_config(settings))
    return app


def app_for(settings: Settings) -> Celery:
    """One app per broker, queue and timeout in this process (publishers reuse its connection pool)."""
    key = (settings.redis_url, settings.celery_queue, settings.celery_visibility_timeout_s)
    if key not in _apps:
        _apps[key] = make_app(settings)
    return _apps[key]

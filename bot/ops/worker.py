"""Health and metrics for Celery processes, connected through Celery's signals.

Imported by the worker (``celery -A tasks worker --include bot.ops.worker``, or one import
line in the Celery app module), it needs no change to any task:

- ``worker_init`` (main process, before the pool forks): empties ``PROMETHEUS_MULTIPROC_DIR``
  so counters start from zero with the process, as Prometheus expects of a restart;
- ``worker_ready`` (main process): serves ``/healthz``, ``/livez`` and ``/metrics`` on
  ``METRICS_PORT``; with prefork children it reports their samples from the shared directory;
- ``worker_process_shutdown`` (each child): tells the multiprocess collector the child is gone;
- ``beat_init``: the same endpoint for beat (liveness, queue depth).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import beat_init, worker_init, worker_process_shutdown, worker_ready

from bot.ops.server import MULTIPROC_ENV, reset_multiprocess_dir, start_ops_server

log = logging.getLogger(__name__)


@worker_init.connect(weak=False)
def _on_worker_init(sender: Any = None, **_: Any) -> None:
    reset_multiprocess_dir()
    pool = getattr(getattr(sender, "pool_cls", None), "__module__", "") or ""
    if "prefork" in pool and not os.environ.get(MULTIPROC_ENV):
        log.warning("prefork worker without %s: metrics recorded by tasks in child processes are not "
                    "exported; set it to an empty writable directory", MULTIPROC_ENV)


@worker_ready.connect(weak=False)
def _on_worker_ready(**_: Any) -> None:
    start_ops_server()


@worker_process_shutdown.connect(weak=False)
def _on_child_exit(pid: int | None = None, **_: Any) -> None:
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@beat_init.connect(weak=False)
def _on_beat_init(**_: Any) -> None:
    start_ops_server()

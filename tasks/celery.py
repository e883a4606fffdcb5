"""The app that ``celery -A tasks worker`` and ``celery -A tasks beat`` find (``tasks.celery.app``).

Importing ``tasks`` or ``tasks.pipeline.ingest`` does not import Celery; only this module (and the
worker-side modules) do.
"""

from __future__ import annotations

import bot.ops.worker  # noqa: F401  (health and metrics server in worker and beat, via Celery signals)
from bot.config import get_settings
from tasks.pipeline.app import make_app

get_settings().data_dir.mkdir(parents=True, exist_ok=True)  # beat keeps its schedule file there
app = make_app()

__all__ = ["app"]

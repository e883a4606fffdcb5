"""Prometheus metrics the bot and worker processes record, and tiny functions to record them.

The engine reports model calls and ratings through the observer the composition root hands it
(``PrometheusObserver``, a ``bot.engine.observer.EngineObserver``); adapters wrap each platform
request in ``track_request``. Recording never raises: a metrics problem must not cost a candidate
their feedback. In a Celery prefork worker set ``PROMETHEUS_MULTIPROC_DIR`` (before the
process starts) so the children's samples reach the parent's ``/metrics``.

Queue depth and the outbox backlog are read when scraped (``bot.ops.queues``), not here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "mockingbird_request_seconds",
    "Time to handle one chat request (command, answer, button, form), by platform and action.",
    ["platform", "action"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
)
LLM_SECONDS = Histogram(
    "mockingbird_llm_seconds",
    "Latency of one model call (with its retries and repair), by the provider that answered.",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
LLM_JSON = Counter(
    "mockingbird_llm_json",
    "Structured outputs by how they became valid: valid_first_try, retried, repaired, fell_back.",
    ["provider", "operation", "outcome"],
)
RATINGS = Counter(
    "mockingbird_ratings",
    "Ratings submitted on feedback (value: up, down, withdrawn); ratings per second is rate() of it.",
    ["platform", "value"],
)

OUTCOMES = ("valid_first_try", "retried", "repaired", "fell_back")
RATING_VALUES = {1: "up", -1: "down", 0: "withdrawn"}


class CallLike(Protocol):
    """What ``chains.providers.CallRecord`` carries (kept structural so no layer depends on ops)."""

    provider: str
    latency_ms: float
    valid_first_try: bool
    repaired: bool
    fell_back: bool


def json_outcome(call: CallLike) -> str:
    """One label per call; the worst thing that happened wins (fell back > repaired > retried)."""
    if call.fell_back:
        return "fell_back"
    if call.repaired:
        return "repaired"
    if not call.valid_first_try:
        return "retried"
    return "valid_first_try"


def observe_llm_call(call: CallLike, operation: str = "grade") -> None:
    """Record one provider call: its latency and how its JSON turned out."""
    try:
        provider = call.provider or "unknown"
        LLM_SECONDS.labels(provider, operation).observe(max(call.latency_ms, 0.0) / 1000.0)
        LLM_JSON.labels(provider, operation, json_outcome(call)).inc()
    except Exception:  # never let metrics break an interview
        log.debug("could not record LLM metrics", exc_info=True)


def count_rating(platform: str, value: int) -> None:
    try:
        RATINGS.labels(platform, RATING_VALUES.get(value, str(value))).inc()
    except Exception:
        log.debug("could not record a rating metric", exc_info=True)


def observe_request(platform: str, action: str, seconds: float) -> None:
    try:
        REQUEST_SECONDS.labels(platform, action).observe(max(seconds, 0.0))
    except Exception:
        log.debug("could not record a request metric", exc_info=True)


@contextmanager
def track_request(platform: str, action: str) -> Iterator[None]:
    """Time a block as one request; failures are timed too (they are requests users waited on)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe_request(platform, action, time.perf_counter() - started)


class PrometheusObserver:
    """The engine's observer in the bot and worker processes: records into the metrics above."""

    def llm_call(self, call: CallLike, operation: str) -> None:
        observe_llm_call(call, operation)

    def rating(self, platform: str, value: int) -> None:
        count_rating(platform, value)

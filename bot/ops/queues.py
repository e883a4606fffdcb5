"""Queue depth, read from the broker when Prometheus scrapes (a gauge that is never stale).

Celery on Redis keeps each queue as a list named after it, plus one list per priority step
(``name\\x06\\x163`` ...), and records which queues exist in ``_kombu.binding.<exchange>``
sets. We read those sets to find the queues, so a queue added later shows up without
configuration. Broadcast and event queues (``*.pidbox``, ``celeryev``) are left out.

The outbox (ratings and corrections kept while the broker was down) is a queue too, in the
database; its backlog is reported next to the broker's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

SEP = "\x06\x16"  # kombu's Redis separator
PRIORITY_STEPS = (3, 6, 9)  # kombu's steps besides 0, which is the bare queue name
BINDING_PREFIX = "_kombu.binding."
DEFAULT_QUEUES = ("celery",)


def _is_internal(exchange: str, queue: str) -> bool:
    return (exchange.endswith("pidbox") or exchange.startswith("celeryev") or queue.endswith("pidbox")
            or queue.startswith("celeryev"))


def discover_queues(client: Any, known: Iterable[str] = DEFAULT_QUEUES) -> list[str]:
    """Queue names: the ``known`` ones plus every queue bound to an exchange in Redis."""
    names = dict.fromkeys(known)
    for key in client.scan_iter(match=f"{BINDING_PREFIX}*", count=200):
        exchange = (key.decode() if isinstance(key, bytes) else key)[len(BINDING_PREFIX):]
        for member in client.smembers(key):
            text = member.decode() if isinstance(member, bytes) else member
            queue = text.split(SEP)[-1]
            if queue and not _is_internal(exchange, queue):
                names.setdefault(queue)
    return list(names)


def queue_depths(client: Any, known: Iterable[str] = DEFAULT_QUEUES) -> dict[str, int]:
    """Messages waiting per queue (all priority lists added up)."""
    queues = discover_queues(client, known)
    pipe = client.pipeline()
    for queue in queues:
        pipe.llen(queue)
        for step in PRIORITY_STEPS:
            pipe.llen(f"{queue}{SEP}{step}")
    sizes = pipe.execute()
    per_queue = 1 + len(PRIORITY_STEPS)
    return {queue: int(sum(sizes[i * per_queue:(i + 1) * per_queue])) for i, queue in enumerate(queues)}


class QueueCollector(Collector):
    """``mockingbird_queue_depth{queue}`` from Redis and ``mockingbird_outbox_pending`` from the database.

    A source that cannot be read is skipped (and ``mockingbird_queue_scrape_errors`` says so):
    ``/healthz`` is the place that reports a dead dependency, ``/metrics`` keeps answering.
    """

    def __init__(self, redis_url: str | None = None, outbox: Callable[[], int] | None = None,
                 queues: Iterable[str] = DEFAULT_QUEUES) -> None:
        self.redis_url = redis_url
        self.outbox = outbox
        self.queues = tuple(queues)
        self._client: Any | None = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def collect(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily("mockingbird_queue_scrape_errors",
                                   "1 when a queue source could not be read on this scrape.",
                                   labels=["source"])
        if self.redis_url:
            depth = GaugeMetricFamily("mockingbird_queue_depth", "Tasks waiting in the broker, per queue.",
                                      labels=["queue"])
            failed = 0
            try:
                for queue, size in queue_depths(self._redis(), self.queues).items():
                    depth.add_metric([queue], size)
            except Exception as exc:
                log.warning("could not read queue depth from Redis: %s", type(exc).__name__)
                failed = 1
            errors.add_metric(["redis"], failed)
            yield depth
        if self.outbox is not None:
            pending = GaugeMetricFamily("mockingbird_outbox_pending",
                                        "Ratings and corrections kept in the outbox, not yet delivered.")
            failed = 0
            try:
                pending.add_metric([], self.outbox())
                yield pending
            except Exception as exc:
                log.warning("could not count the outbox: %s", type(exc).__name__)
                failed = 1
            errors.add_metric(["database"], failed)
        yield errors


"""What the engine reports as it works, to whoever the composition root hands it.

The engine records model calls and ratings through an ``EngineObserver`` instead of importing a
metrics library, so it depends on nothing above or beside it: ``bot.app`` passes the Prometheus
observer (``bot.ops.metrics.PrometheusObserver``), tests pass their own or none.
"""

from __future__ import annotations

from typing import Protocol

from chains.providers import CallRecord


class EngineObserver(Protocol):
    def llm_call(self, call: CallRecord, operation: str) -> None:
        """One provider call finished (``operation``: grade, question)."""

    def rating(self, platform: str, value: int) -> None:
        """A person rated feedback: +1, -1, or 0 (withdrawn)."""


class NoObserver:
    """Records nothing (scripts and tests that do not watch)."""

    def llm_call(self, call: CallRecord, operation: str) -> None:
        pass

    def rating(self, platform: str, value: int) -> None:
        pass

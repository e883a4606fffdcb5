"""Try providers in order; the first valid result wins and records that it fell back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from chains.contract import (
    AllProvidersFailed,
    FollowUpRequest,
    GradeRequest,
    Provider,
    QuestionRequest,
    Result,
)
from chains.schemas import Feedback, Question, SessionReport

log = logging.getLogger(__name__)
T = TypeVar("T")


class FallbackProvider(Provider):
    """Providers are built lazily, so a misconfigured one (no API key) fails over like a dead one."""

    def __init__(self, factories: list[tuple[str, Callable[[], Provider]]]) -> None:
        self._factories = factories
        self._built: dict[str, Provider] = {}
        self._building = threading.Lock()  # concurrent first requests build a provider once
        self.name = factories[0][0]
        # Only the offline rubric ignores exemplars; an order holding any other provider needs them.
        self.uses_exemplars = any(name != "offline" for name, _ in factories)

    def _provider(self, name: str, factory: Callable[[], Provider]) -> Provider:
        if name not in self._built:
            with self._building:
                if name not in self._built:
                    self._built[name] = factory()
        return self._built[name]

    def _run(self, call: Callable[[Provider], Result[T] | None], what: str) -> Result[T] | None:
        errors: list[str] = []
        for position, (name, factory) in enumerate(self._factories):
            try:
                result = call(self._provider(name, factory))
            except Exception as exc:  # any provider failure moves on to the next provider
                log.warning("provider %s failed on %s: %s", name, what, exc)
                errors.append(f"{name}: {exc}")
                continue
            if result is not None and position > 0:
                result.call.fell_back = True
                result.call.errors = errors + result.call.errors
            return result
        raise AllProvidersFailed(f"every provider failed to {what}: " + "; ".join(errors))

    def question(self, request: QuestionRequest) -> Result[Question]:
        result = self._run(lambda p: p.question(request), "write a question")
        assert result is not None
        return result

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        result = self._run(lambda p: p.grade(request), "grade the answer")
        assert result is not None
        return result

    def follow_up(self, request: FollowUpRequest) -> Result[Question] | None:
        try:
            return self._run(lambda p: p.follow_up(request), "write a follow-up")
        except AllProvidersFailed:
            return None

    def report(self, report: SessionReport) -> Result[SessionReport] | None:
        try:
            return self._run(lambda p: p.report(report), "write the report")
        except AllProvidersFailed:
            return None

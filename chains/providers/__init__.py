"""Provider registry: every backend, built-in or a test fake, is registered by name.

``build(settings)`` returns the configured provider wrapped in its fallback order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chains.providers.base import (
    AllProvidersFailed,
    CallRecord,
    FollowUpRequest,
    GradeRequest,
    Provider,
    ProviderError,
    QuestionRequest,
    Result,
)

Factory = Callable[[Any], Provider]
_REGISTRY: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Make a provider available under ``name`` (``LLM_PROVIDER`` / ``LLM_FALLBACKS`` / ``--provider``)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, settings: Any) -> Provider:
    if name not in _REGISTRY:
        raise ProviderError(f"unknown provider {name!r}; choose one of: {', '.join(available())}")
    return _REGISTRY[name](settings)


def build(settings: Any, provider: str | None = None) -> Provider:
    """The configured provider followed by its fallbacks (deduplicated, offline last if listed)."""
    from chains.providers.fallback import FallbackProvider

    primary = provider or settings.llm_provider
    order = list(dict.fromkeys([primary, *settings.llm_fallbacks]))
    if len(order) == 1:
        return create(primary, settings)
    return FallbackProvider([(name, lambda name=name: create(name, settings)) for name in order])


def _offline(settings: Any) -> Provider:
    from chains.providers.offline import OfflineProvider

    return OfflineProvider()


register("offline", _offline)

__all__ = [
    "AllProvidersFailed", "CallRecord", "FollowUpRequest", "GradeRequest", "Provider", "ProviderError",
    "QuestionRequest", "Result", "available", "build", "create", "register",
]

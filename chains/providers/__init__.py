"""Provider registry: every backend, built-in or a test fake, is registered by name.

``build(settings)`` returns the configured provider wrapped in its fallback order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chains.contract import (
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
    """The configured provider followed by its fallbacks (deduplicated, offline last if listed).

    Unknown names fail at once (a typo must not silently mean "offline"). Even a single provider
    is wrapped, so its failure is always ``AllProvidersFailed`` with a reason per provider.
    """
    from chains.providers.fallback import FallbackProvider

    primary = provider or settings.llm_provider
    order = list(dict.fromkeys([primary, *settings.llm_fallbacks]))
    unknown = [name for name in order if name not in _REGISTRY]
    if unknown:
        raise ProviderError(f"unknown provider {unknown[0]!r}; choose one of: {', '.join(available())}")
    return FallbackProvider([(name, lambda name=name: create(name, settings)) for name in order])


def _offline(settings: Any) -> Provider:
    from chains.providers.offline import OfflineProvider

    return OfflineProvider()


def _openai(settings: Any) -> Provider:
    from chains.providers.openai import OpenAIProvider

    return OpenAIProvider(settings)


def _gemini(settings: Any) -> Provider:
    from chains.providers.gemini import GeminiProvider

    return GeminiProvider(settings)


def _tgi(settings: Any) -> Provider:
    from chains.providers.tgi import TGIProvider

    return TGIProvider(settings)


def _local(settings: Any) -> Provider:
    from chains.providers.local import build as build_local  # torch and transformers load only here

    return build_local(settings)


register("offline", _offline)
register("openai", _openai)  # SDKs are imported on first use, so a bare install starts fast
register("gemini", _gemini)
register("tgi", _tgi)
register("local", _local)

__all__ = [
    "AllProvidersFailed", "CallRecord", "FollowUpRequest", "GradeRequest", "Provider", "ProviderError",
    "QuestionRequest", "Result", "available", "build", "create", "register",
]

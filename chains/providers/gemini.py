"""``GeminiProvider``: Gemini through langchain-google-genai's ``ChatGoogleGenerativeAI`` (google-genai SDK).

Google deprecated the older ``google-generativeai`` package in favour of ``google-genai``;
this module uses the latter. Structured output is Gemini's response schema
(``response_mime_type=application/json`` + ``response_json_schema``); a streamed reply is the
same request on ``streamGenerateContent?alt=sse``. Gemini is not fine-tuned here: its
prompt-tuning is the few-shot exemplars the feedback task adds. ``GEMINI_BASE_URL`` points the
SDK elsewhere (a proxy, or the fake server in tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.genai.types import HttpOptions, HttpRetryOptions
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langchain_google_genai import ChatGoogleGenerativeAI

from chains.contract import ProviderError
from chains.llm.errors import is_dropped
from chains.llm.retry import INITIAL_BACKOFF_S, MAX_BACKOFF_S, stream_with_retries, with_retries
from chains.llm.task import Message, OutputSpec
from chains.providers.base import ChatProvider

DEFAULT_URL = "https://generativelanguage.googleapis.com"
# Pinned, not the SDK's default: google-genai 3.x moved its default from v1beta to v1, where
# response_json_schema is not served. Structured output is a v1beta feature of the Gemini API.
API_VERSION = "v1beta"
RETRY_STATUSES = [408, 429, 500, 502, 503, 504]


class GeminiProvider(ChatProvider):
    name = "gemini"
    streams = True  # the reply is plain JSON text, shown while it arrives when a request asks

    def __init__(self, settings: Any, *, client_args: dict[str, Any] | None = None) -> None:
        """From settings; a missing key fails like a dead provider (the fallback order moves on)."""
        if settings.google_api_key is None or not settings.google_api_key.get_secret_value():
            raise ProviderError("GOOGLE_API_KEY is not set")
        super().__init__(settings, model=settings.gemini_model, where=settings.gemini_base_url or DEFAULT_URL)
        # The SDK counts attempts (the first call included) and backs off with tenacity.
        self.retry = HttpRetryOptions(
            attempts=self.max_retries + 1,
            initial_delay=INITIAL_BACKOFF_S,
            jitter=0.25,
            max_delay=MAX_BACKOFF_S,
            http_status_codes=RETRY_STATUSES,
        )
        self.llm = ChatGoogleGenerativeAI(
            model=self.model,
            google_api_key=settings.google_api_key.get_secret_value(),
            base_url=settings.gemini_base_url,
            timeout=self.timeout_s,
            max_retries=self.max_retries + 1,
            client_args=client_args,
        )

    def with_model(self, model: str) -> GeminiProvider:
        variant = super().with_model(model)
        variant.llm = self.llm.model_copy(update={"model": model})
        return variant

    def _bound(self, spec: OutputSpec) -> Runnable[Any, BaseMessage]:
        return self.llm.bind(
            response_mime_type="application/json",
            response_json_schema=spec.schema,
            temperature=spec.temperature,
            http_options=HttpOptions(api_version=API_VERSION, retry_options=self.retry),
        )

    def complete(self, messages: list[Message], spec: OutputSpec) -> str:
        bound = self._bound(spec)
        # google-genai retries timeouts, refused connections, 429 and 5xx, but not a connection the
        # server dropped mid-exchange (an idle keep-alive race); those get the same retry budget here.
        return with_retries(lambda: bound.invoke(messages).text, self.max_retries, when=is_dropped)

    def stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """Retried as ``complete`` until the first chunk (the SDK sends the request on the first read)."""
        bound = self._bound(spec)
        return stream_with_retries(
            lambda: (chunk.text for chunk in bound.stream(messages)), self.max_retries, when=is_dropped
        )


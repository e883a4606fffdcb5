"""OpenAI (and OpenAI-compatible servers) through langchain-openai's ``ChatOpenAI``.

Structured output is the strict ``json_schema`` response format by default; servers or
models without it can use a strict tool call instead (``OPENAI_STRUCTURED_OUTPUT=function_calling``).
Fine-tuned models are just another ``OPENAI_MODEL`` (``ft:gpt-4o-mini:org::id``). The SDK
retries 429 / 5xx / timeouts ``LLM_MAX_RETRIES`` times with backoff, honouring Retry-After.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_openai import ChatOpenAI

from chains.contract import ProviderError
from chains.llm.backend import OutputSpec, message_text
from chains.providers.llm import LLMProvider

Method = Literal["json_schema", "function_calling"]
DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        method: Method = "json_schema",
        http_client: Any = None,
    ) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.method = method
        # The json_schema reply is plain content, so its text can be shown while it arrives
        # (``StructuredChain`` streams when a request asks); a tool call's arguments are not.
        self.streams = method == "json_schema"
        self.where = base_url or DEFAULT_URL
        self.llm = ChatOpenAI(
            model=model,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=http_client,
            stream_usage=False,
        )

    def with_model(self, model: str) -> OpenAIBackend:
        variant = copy.copy(self)
        variant.model = model
        variant.llm = self.llm.model_copy(update={"model_name": model})  # shares the HTTP client
        return variant

    def _bound(self, spec: OutputSpec) -> Runnable[Any, BaseMessage]:
        if self.method == "function_calling":
            tool = {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": f"Record the {spec.name}.",
                    "parameters": spec.schema,
                    "strict": True,
                },
            }
            return self.llm.bind_tools(
                [tool],
                tool_choice=spec.name,
                strict=True,
                parallel_tool_calls=False,
                temperature=spec.temperature,
            )
        # The same ``response_format`` on the wire, passed as extra body: as a keyword, langchain-openai
        # switches to the SDK's beta ``parse()`` path, which re-walks the schema on every call (about
        # 1 ms) only to parse a reply this chain parses and validates itself.
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": spec.name, "strict": True, "schema": spec.schema},
        }
        return self.llm.bind(extra_body={"response_format": response_format}, temperature=spec.temperature)

    def structured(self, spec: OutputSpec) -> Runnable[list[BaseMessage], str]:
        return self._bound(spec) | RunnableLambda(message_text, name="reply_text")

    def stream(self, messages: list[BaseMessage], spec: OutputSpec) -> Iterator[str]:
        """The json_schema reply as it arrives; the SDK retries the request before its first chunk."""
        for chunk in self._bound(spec).stream(messages):
            yield message_text(chunk)


def build(settings: Any, *, http_client: Any = None, method: Method | None = None) -> LLMProvider:
    """The ``openai`` provider from settings; a missing key fails like a dead provider (fallback moves on)."""
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise ProviderError("OPENAI_API_KEY is not set")
    chosen: Method = method or getattr(settings, "openai_structured_output", "json_schema")
    if chosen not in ("json_schema", "function_calling"):
        raise ProviderError(
            f"OPENAI_STRUCTURED_OUTPUT must be json_schema or function_calling, not {chosen!r}"
        )
    backend = OpenAIBackend(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        method=chosen,
        http_client=http_client,
    )
    return LLMProvider(backend, fewshot_token_budget=settings.fewshot_token_budget)

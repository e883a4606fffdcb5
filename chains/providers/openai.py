"""``OpenAIProvider``: OpenAI (and OpenAI-compatible servers) through langchain-openai's ``ChatOpenAI``.

Structured output is the strict ``json_schema`` response format by default; servers or
models without it can use a strict tool call instead (``OPENAI_STRUCTURED_OUTPUT=function_calling``).
Fine-tuned models are just another ``OPENAI_MODEL`` (``ft:gpt-4o-mini:org::id``). The SDK
retries 429 / 5xx / timeouts ``LLM_MAX_RETRIES`` times with backoff, honouring Retry-After
(for a streamed reply too: the request is answered, or refused, before its first chunk).

A streamed reply is read through the OpenAI SDK itself, not ``ChatOpenAI.stream``: the SDK's
documented ``client.post`` with ``cast_to=object`` yields each server-sent chunk as the plain
dict it decoded (its own SSE decoding, error events and retries). Through LangChain every chunk
became a typed ``ChatCompletionChunk`` (the SDK's ``construct_type`` walk), then an
``AIMessageChunk`` and a generation chunk: about 0.18 ms of interpreter time per chunk, so a
feedback streamed in 28 chunks took 8.4 ms of CPU where it now takes 3.3 ms (guard included), and
at 50 concurrent interviews in one process every other interview waited for it
(docs/benchmarks.md). Only the text of each chunk is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import openai
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

from chains.contract import ProviderError
from chains.llm.task import Message, OutputSpec
from chains.providers.base import ChatProvider

Method = Literal["json_schema", "function_calling"]
DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIProvider(ChatProvider):
    name = "openai"

    def __init__(self, settings: Any, *, http_client: Any = None, method: Method | None = None) -> None:
        """From settings; a missing key fails like a dead provider (the fallback order moves on)."""
        if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
            raise ProviderError("OPENAI_API_KEY is not set")
        chosen: Method = method or getattr(settings, "openai_structured_output", "json_schema")
        if chosen not in ("json_schema", "function_calling"):
            raise ProviderError(
                f"OPENAI_STRUCTURED_OUTPUT must be json_schema or function_calling, not {chosen!r}"
            )
        super().__init__(settings, model=settings.openai_model, where=settings.openai_base_url or DEFAULT_URL)
        self.method = chosen
        # The json_schema reply is plain content, so its text can be shown while it arrives;
        # a tool call's arguments are not.
        self.streams = chosen == "json_schema"
        self.llm = ChatOpenAI(
            model=self.model,
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
            http_client=http_client,
            stream_usage=False,
        )
        # The same endpoint, key, timeout and retries, for the streamed replies (see the module docstring);
        # with no ``http_client`` given, each SDK client keeps (and at exit closes) its own pool.
        self.sdk = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=self.timeout_s,
            max_retries=self.max_retries,
            http_client=http_client,
        )

    def with_model(self, model: str) -> OpenAIProvider:
        variant = super().with_model(model)
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
        # 1 ms) only to parse a reply the base parses and validates itself.
        return self.llm.bind(extra_body={"response_format": response_format(spec)}, temperature=spec.temperature)

    def complete(self, messages: list[Message], spec: OutputSpec) -> str:
        return message_text(self._bound(spec).invoke(messages))

    def stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """The reply's text, chunk by chunk: the request ``complete`` sends, with ``stream`` on."""
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": spec.temperature,
            "response_format": response_format(spec),
        }
        # ``with``: a caller that stops reading early (a broken preview) still returns the connection.
        with self.sdk.post("/chat/completions", cast_to=object, body=body, stream=True,
                           stream_cls=openai.Stream[object]) as chunks:
            for chunk in chunks:
                for choice in chunk.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text


def response_format(spec: OutputSpec) -> dict[str, Any]:
    """The strict ``json_schema`` response format for ``spec``."""
    return {"type": "json_schema", "json_schema": {"name": spec.name, "strict": True, "schema": spec.schema}}


def message_text(message: BaseMessage) -> str:
    """The text of a reply; for a tool call, its raw arguments (the JSON the model wrote)."""
    if isinstance(message, AIMessage):
        raw_calls = message.additional_kwargs.get("tool_calls") or []
        if raw_calls:
            return str(raw_calls[0].get("function", {}).get("arguments", ""))
        if message.invalid_tool_calls:
            return str(message.invalid_tool_calls[0].get("args") or "")
        if message.tool_calls:
            return json.dumps(message.tool_calls[0]["args"])
    return message.text


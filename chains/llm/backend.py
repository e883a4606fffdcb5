"""What a provider module supplies: a chat model that writes JSON to a schema.

Every backend turns ``list[BaseMessage]`` into the reply text, as a LangChain Runnable,
using its own native constrained output (OpenAI strict json_schema or a strict tool,
Gemini's response schema, TGI's JSON grammar). Everything else (prompts, few-shot,
parsing, repair, call records) is shared by ``chains.llm.chain``. A backend that can
stream its reply says so (``streams = True``) and has ``stream(messages, spec)``: the
same constrained request, its text yielded as it arrives, retried only before the first chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable


@dataclass(frozen=True)
class OutputSpec:
    """The reply a chain asks for: a schema name (for the wire), its JSON Schema, a temperature."""

    name: str
    schema: dict[str, Any]
    temperature: float


class Backend(Protocol):
    name: str  # provider name, as registered ("openai", "gemini", "tgi")
    model: str  # model (or adapter) name recorded with each call
    timeout_s: float
    where: str  # a secret-free description of the endpoint, for error messages

    def structured(self, spec: OutputSpec) -> Runnable[list[BaseMessage], str]: ...

    def stream(self, messages: list[BaseMessage], spec: OutputSpec) -> Iterator[str]:
        """The reply's text as it arrives (only called when the backend ``streams``)."""
        ...

    def with_model(self, model: str) -> Backend:
        """The same endpoint with another model: a fine-tuned model name, or a TGI LoRA adapter id.

        The registry's traffic split picks it per session (``GradeRequest.model``)."""
        ...


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


def as_role_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """``[{"role", "content"}]``: the stored prompt, and the payload for OpenAI-style chat APIs."""
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, m.type), "content": m.text} for m in messages]

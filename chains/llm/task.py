"""One task a chat model does for the engine: a prompt file in, a validated pydantic result out.

A ``Task`` is data, not a call: which prompt file, which wire shape the model writes, at what
temperature, how a request fills the user template (and which few-shot turns precede it), and
how the validated reply becomes the domain result. The provider base
(``chains.providers.base.ChatProvider``) sends ``messages(request)`` with the provider's own
constrained output for ``spec`` and hands the reply to ``accept``. Messages are plain
``{"role", "content"}`` dicts, the form every SDK takes and the one stored with each turn, so
this module (and the tasks built on it) load without LangChain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from chains import prompts
from chains.llm import parse as parsing
from chains.llm.schema import exact_json_schema, strict_json_schema

In = TypeVar("In")
W = TypeVar("W", bound=BaseModel)
Out = TypeVar("Out")
Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class OutputSpec:
    """The reply a task asks for: a schema name (for the wire), its JSON Schema, a temperature.

    ``exact`` is the same schema with the wire model's ranges and lengths, which the providers'
    strict modes reject but a local grammar enforces (empty: use ``schema``)."""

    name: str
    schema: dict[str, Any]
    temperature: float
    exact: dict[str, Any] = field(default_factory=dict)


def system(text: str) -> Message:
    return {"role": "system", "content": text}


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def assistant(text: str) -> Message:
    return {"role": "assistant", "content": text}


@dataclass(frozen=True)
class Task(Generic[In, W, Out]):
    """``request -> messages`` and ``reply -> Out`` for one prompt file (``chains/prompts/<name>.md``)."""

    prompt: prompts.Prompt
    wire: type[W]
    spec: OutputSpec
    render: Callable[[In], dict[str, str]]
    convert: Callable[[W, In], Out]
    examples: Callable[[In], list[Message]] | None = field(default=None)

    def messages(self, request: In, compact: bool = False) -> list[Message]:
        """The system text verbatim, the few-shot turns, then the user template filled with escaped data.

        ``compact``: the prompt file's compact system text where it has one (``chains.prompts``)."""
        shown = self.examples(request) if self.examples else []
        text = (compact and self.prompt.compact) or self.prompt.system
        return [system(text), *shown, user(self.prompt.render_user(**self.render(request)))]

    def version(self, compact: bool = False) -> str:
        """The prompt version recorded with a call; the compact system text is its own variant."""
        return self.prompt.version + ("+compact" if compact and self.prompt.compact else "")

    def accept(self, raw: str, request: In) -> tuple[Out | None, parsing.Parsed[W]]:
        """The result, or None with the problem a repair call quotes (parse, schema or conversion)."""
        parsed = parsing.parse(raw, self.wire)
        if parsed.value is None:
            return None, parsed
        try:
            return self.convert(parsed.value, request), parsed
        except (ValidationError, ValueError) as exc:
            problem = parsing.describe_validation(exc) if isinstance(exc, ValidationError) else str(exc)
            return None, parsing.Parsed(None, problem)


def task(
    prompt: str,
    *,
    wire: type[W],
    render: Callable[[In], dict[str, str]],
    convert: Callable[[W, In], Out],
    temperature: float = 0.2,
    examples: Callable[[In], list[Message]] | None = None,
) -> Task[In, W, Out]:
    """The task for prompt file ``prompt``; its schema name is the task (``feedback``, ``question``, ...)."""
    name = prompt.removesuffix("_behavioral").removesuffix("_technical")
    spec = OutputSpec(name=name, schema=strict_json_schema(wire), temperature=temperature,
                      exact=exact_json_schema(wire))
    return Task(prompts.load(prompt), wire, spec, render, convert, examples)

"""The one chain shape every task and provider shares.

    request ─> prompt (system file text + few-shot + delimited user data)
            ─> model with native constrained output ─> strict parse
                                                    └─ lenient parse (fences, trailing text)
                                                       └─ one repair call ─> parse
            ─> pydantic result + CallRecord

A provider error (after the SDK's own retries) or a second invalid reply raises
``ProviderError``, and the fallback order moves on to the next provider.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, HumanMessagePromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ValidationError

from chains import prompts
from chains.contract import CallRecord, ProviderError, Result
from chains.llm import parse as parsing
from chains.llm import preview
from chains.llm.backend import Backend, OutputSpec, as_role_dicts
from chains.llm.errors import describe
from chains.llm.schema import strict_json_schema

log = logging.getLogger(__name__)

In = TypeVar("In")
W = TypeVar("W", bound=BaseModel)
Out = TypeVar("Out")


class InvalidOutput(ProviderError):
    """The model's reply could not be used, even after the repair call."""


class StructuredChain(Generic[In, W, Out]):
    """``request -> Result[Out]`` as a LangChain Runnable (``.runnable``), for one prompt file."""

    def __init__(
        self,
        *,
        prompt: str,
        wire: type[W],
        backend: Backend,
        render: Callable[[In], dict[str, str]],
        convert: Callable[[W, In], Out],
        temperature: float = 0.2,
        examples: Callable[[In], list[BaseMessage]] | None = None,
    ) -> None:
        self.prompt = prompts.load(prompt)
        self.repair_prompt = prompts.load("repair")
        self.wire = wire
        self.backend = backend
        self._render = render
        self._convert = convert
        self._examples = examples
        self.template = ChatPromptTemplate.from_messages(
            [
                SystemMessage(content=self.prompt.system),  # a message, not a template: sent verbatim
                MessagesPlaceholder("examples", optional=True),
                HumanMessagePromptTemplate.from_template(self.prompt.user),
            ]
        )
        task = prompt.removesuffix("_behavioral").removesuffix("_technical")  # feedback, follow_up, ...
        spec = OutputSpec(name=task, schema=strict_json_schema(wire), temperature=temperature)
        self.spec = spec
        self.model: Runnable[list[BaseMessage], str] = backend.structured(spec)
        self._variants: dict[str, tuple[Backend, Runnable[list[BaseMessage], str]]] = {}
        self._variants_lock = threading.Lock()
        self.runnable: Runnable[In, Result[Out]] = RunnableLambda(
            self._invoke, name=f"{backend.name}:{prompt}"
        )

    def invoke(self, request: In) -> Result[Out]:
        return self.runnable.invoke(request)

    # ── steps ───────────────────────────────────────────────────────────────────────
    def messages(self, request: In) -> list[BaseMessage]:
        values = self._render(request)
        examples = self._examples(request) if self._examples else []
        return self.template.invoke({**values, "examples": examples}).to_messages()

    def _target(self, request: In) -> tuple[Backend, Runnable[list[BaseMessage], str]]:
        """The configured model, or the session's variant from the registry traffic split."""
        variant = getattr(request, "model", None)
        if not variant or variant == self.backend.model:
            return self.backend, self.model
        with self._variants_lock:
            if variant not in self._variants:
                backend = self.backend.with_model(variant)
                self._variants[variant] = (backend, backend.structured(self.spec))
            return self._variants[variant]

    def _call(self, messages: list[BaseMessage], model: Runnable[list[BaseMessage], str] | None = None) -> str:
        try:
            return (model or self.model).invoke(messages)
        except ProviderError:
            raise
        except Exception as exc:  # every SDK's errors become one readable ProviderError
            raise ProviderError(
                describe(exc, timeout_s=self.backend.timeout_s, where=self.backend.where)
            ) from exc

    def _first_reply(
        self, request: In, messages: list[BaseMessage], backend: Backend, model: Runnable[list[BaseMessage], str]
    ) -> str:
        """The model's reply; streamed when the request wants the text as it arrives and the backend can.

        Streaming only shows the readable text early (``on_text``); the whole reply then takes
        the same parse / validate / repair path as an unstreamed one.
        """
        on_text = getattr(request, "on_text", None)
        if on_text is None or not getattr(backend, "streams", False):
            return self._call(messages, model)
        raw, shown = "", ""
        try:
            for piece in backend.stream(messages, self.spec):
                raw += piece
                text = preview.readable(raw)
                if text and text != shown:
                    shown = text
                    try:
                        on_text(text)
                    except Exception:  # a courtesy to the reader: the reply is graded regardless
                        log.exception("%s: on_text callback failed", self.prompt.name)
        except ProviderError:
            raise
        except Exception as exc:  # the same readable ProviderError as an unstreamed call
            raise ProviderError(
                describe(exc, timeout_s=self.backend.timeout_s, where=self.backend.where)
            ) from exc
        return raw

    def _accept(self, raw: str, request: In) -> tuple[Out | None, parsing.Parsed[W]]:
        parsed = parsing.parse(raw, self.wire)
        if parsed.value is None:
            return None, parsed
        try:
            return self._convert(parsed.value, request), parsed
        except (ValidationError, ValueError) as exc:
            problem = parsing.describe_validation(exc) if isinstance(exc, ValidationError) else str(exc)
            return None, parsing.Parsed(None, problem)

    def _invoke(self, request: In) -> Result[Out]:
        started = time.perf_counter()
        messages = self.messages(request)
        backend, model = self._target(request)
        call = CallRecord(
            provider=backend.name,
            model=backend.model,
            prompt_version=self.prompt.version,
            prompt=json.dumps(as_role_dicts(messages), ensure_ascii=False),
        )
        raw = self._first_reply(request, messages, backend, model)
        value, parsed = self._accept(raw, request)
        call.valid_first_try = value is not None and not parsed.lenient
        if value is not None and parsed.lenient:
            call.repaired = True
            call.errors.append("lenient parse: the reply needed cleaning (code fence or extra text)")
        if value is None:
            problem = parsed.problem or "unusable reply"
            call.errors.append(f"first reply: {problem}")
            log.info(
                "%s %s: invalid reply (%s); asking for a repair", self.backend.name, self.prompt.name, problem
            )
            repair = [
                *messages,
                AIMessage(content=raw[:4000] or "(empty reply)"),
                HumanMessage(content=self.repair_prompt.render_user(problem=problem)),
            ]
            raw = self._call(repair, model)
            value, parsed = self._accept(raw, request)
            if value is None:
                raise InvalidOutput(f"invalid output twice ({parsed.problem})")
            call.repaired = True
        call.raw_output = raw
        call.latency_ms = (time.perf_counter() - started) * 1000
        return Result(value, call)

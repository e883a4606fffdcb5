"""``ChatProvider``: the thin base every chat-model provider is one subclass of.

A provider class (``OpenAIProvider``, ``GeminiProvider``, ``TGIProvider``, ``LocalProvider``)
holds its SDK client and supplies one thing: ``complete(messages, spec)``, the reply text of its
native constrained output (a strict json_schema or tool, a response schema, a JSON grammar), and
``stream(messages, spec)`` where it can stream. Everything else happens here, once:

    request ─> task messages (system file text + few-shot + delimited user data)
            ─> complete (or stream, showing readable text) ─> strict parse
                                                            └─ lenient parse (fences, trailing text)
                                                               └─ one repair call ─> parse
            ─> pydantic result + CallRecord ─> (feedback) the offline grader's guard

A provider error (after the SDK's own retries) or a second invalid reply raises
``ProviderError``, and the fallback order (``chains.providers.fallback``) moves on.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, Self, TypeVar

from chains import grading, prompts
from chains.bank import load_bank
from chains.contract import CallRecord, FollowUpRequest, GradeRequest, Provider, ProviderError, QuestionRequest, Result
from chains.grading import misconceptions
from chains.llm import feedback, follow_up, question, report
from chains.llm.errors import describe
from chains.llm.task import Message, OutputSpec, Task, assistant, user
from chains.schemas import KINDS, Feedback, Question, SessionReport

log = logging.getLogger(__name__)
Out = TypeVar("Out")


class InvalidOutput(ProviderError):
    """The model's reply could not be used, even after the repair call."""


class ChatProvider(Provider):
    """Questions, feedback, follow-ups and reports from one chat model; subclasses supply the call."""

    name: str  # provider name, as registered ("openai", "gemini", "tgi", "local")
    streams = False  # True where ``stream`` shows the reply as it arrives
    # True where the model is one fine-tuned here, on the prompt files' compact system text.
    compact_prompt = False

    def __init__(self, settings: Any, *, model: str, where: str) -> None:
        """``settings`` (``bot.config.Settings`` or alike) gives what every provider shares: the
        timeout and retry budget of a call, and the few-shot token budget."""
        self.model = model  # the model (or adapter) recorded with each call
        self.where = where  # a secret-free description of the endpoint, for error messages
        self.timeout_s: float = settings.llm_timeout_s
        self.max_retries: int = settings.llm_max_retries
        bank = load_bank()
        self.questions = {kind: question.build(kind, bank) for kind in KINDS}
        self.feedback = {kind: feedback.build(kind, settings.fewshot_token_budget) for kind in KINDS}
        self.follow_ups = {kind: follow_up.build(kind) for kind in KINDS}
        self.reporter = report.build()
        self.repair_prompt = prompts.load("repair")
        self._variants: dict[str, ChatProvider] = {}
        self._variants_lock = threading.Lock()

    # ── what a provider supplies ──────────────────────────────────────────────────────────
    @abstractmethod
    def complete(self, messages: list[Message], spec: OutputSpec) -> str:
        """The reply text, constrained to ``spec.schema`` by the provider's own structured output."""

    def stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """The same request's text as it arrives (only called when the provider ``streams``)."""
        raise NotImplementedError(f"{self.name} does not stream")

    def with_model(self, model: str) -> Self:
        """The same endpoint with another model: a fine-tuned model name, or a LoRA adapter.

        The registry's traffic split picks it per session (``GradeRequest.model``). The copy
        shares the tasks and the SDK client; a subclass points its client at the model."""
        other = copy.copy(self)
        other.model = model
        return other

    # ── the engine's contract ─────────────────────────────────────────────────────────────
    def question(self, request: QuestionRequest) -> Result[Question]:
        return self._run(self.questions[request.kind], request)

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        return guard(request, self._run(self.feedback[request.question.kind], request))

    def follow_up(self, request: FollowUpRequest) -> Result[Question] | None:
        return self._run(self.follow_ups[request.question.kind], request)

    def report(self, report: SessionReport) -> Result[SessionReport] | None:
        if report.answered == 0:
            return None  # nothing to summarise; the engine's own report says so
        return self._run(self.reporter, report)

    # ── steps ─────────────────────────────────────────────────────────────────────────────
    def _target(self, request: Any) -> ChatProvider:
        """This provider, or the session's variant from the registry traffic split (built once)."""
        wanted = getattr(request, "model", None)
        if not wanted or wanted == self.model:
            return self
        with self._variants_lock:
            if wanted not in self._variants:
                self._variants[wanted] = self.with_model(wanted)
            return self._variants[wanted]

    def _failed(self, exc: Exception) -> ProviderError:
        """Every SDK's errors as one readable, secret-free ProviderError."""
        return ProviderError(describe(exc, timeout_s=self.timeout_s, where=self.where))

    def _call(self, messages: list[Message], spec: OutputSpec) -> str:
        try:
            return self.complete(messages, spec)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc

    def _first_reply(self, request: Any, messages: list[Message], spec: OutputSpec) -> str:
        """The model's reply; streamed when the request wants the text as it arrives and the provider can.

        Streaming only shows the readable text early (``on_text``); the whole reply then takes
        the same parse / validate / repair path as an unstreamed one.
        """
        on_text = getattr(request, "on_text", None)
        if on_text is None or not self.streams:
            return self._call(messages, spec)
        from chains.llm import preview  # loaded only to stream

        raw, shown = "", ""
        try:
            for piece in self.stream(messages, spec):
                raw += piece
                text = preview.readable(raw)
                if text and text != shown:
                    shown = text
                    try:
                        on_text(text)
                    except Exception:  # a courtesy to the reader: the reply is graded regardless
                        log.exception("%s: on_text callback failed", spec.name)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc
        return raw

    def _run(self, task: Task[Any, Any, Out], request: Any) -> Result[Out]:
        started = time.perf_counter()
        target = self._target(request)
        messages = task.messages(request, compact=target.compact_prompt)
        call = CallRecord(
            provider=self.name,
            model=target.model,
            prompt_version=task.version(target.compact_prompt),
            prompt=json.dumps(messages, ensure_ascii=False),
        )
        raw = target._first_reply(request, messages, task.spec)
        value, parsed = task.accept(raw, request)
        call.valid_first_try = value is not None and not parsed.lenient
        if value is not None and parsed.lenient:
            call.repaired = True
            call.errors.append("lenient parse: the reply needed cleaning (code fence or extra text)")
        if value is None:
            problem = parsed.problem or "unusable reply"
            call.errors.append(f"first reply: {problem}")
            log.info("%s %s: invalid reply (%s); asking for a repair", self.name, task.prompt.name, problem)
            repair = [
                *messages,
                assistant(raw[:4000] or "(empty reply)"),
                user(self.repair_prompt.render_user(problem=problem)),
            ]
            raw = target._call(repair, task.spec)
            value, parsed = task.accept(raw, request)
            if value is None:
                raise InvalidOutput(f"invalid output twice ({parsed.problem})")
            call.repaired = True
        call.raw_output = raw
        call.latency_ms = (time.perf_counter() - started) * 1000
        return Result(value, call)


def guard(request: GradeRequest, result: Result[Feedback]) -> Result[Feedback]:
    """The offline grader's checks beside the model: a non-answer cannot score above 3, nor an answer
    that asserts a known mistake above 4 (the patterns flagged only answers people scored 2-4).

    A model can be talked into praising an off-topic story or a prompt injection; the check
    does not depend on the model, so its verdict caps the score, leads the weaknesses with the
    reason, and is recorded on the call (stats and eval count interventions per model).
    A reply without per-criterion scores gets the offline grader's (progress charts and the
    weakest-criteria views read them): the fine-tuned local models are trained to leave them
    out, as they are the grader's rule-based figures, not something the recruiters taught.
    """
    feedback = result.value
    if not feedback.outline:
        feedback = feedback.model_copy(update={"outline": list(request.question.key_points[:6])})
    if not feedback.criteria:
        feedback = feedback.model_copy(update={"criteria": grading.grade(request.question, request.answer).criteria})
    if feedback.score > grading.NON_ANSWER_CAP:
        verdict = grading.relevance_check(request.question, request.answer)
        if verdict is not None:
            feedback = _capped(feedback, grading.NON_ANSWER_CAP, verdict.reason).model_copy(update={"strengths": []})
            result.call.guardrail = verdict.kind
    if feedback.score > grading.MISTAKE_CAP:
        asserted = misconceptions.asserted(request.question.id, request.answer)
        if asserted:  # strengths are kept: the rest of the answer may deserve them
            feedback = _capped(feedback, grading.MISTAKE_CAP, grading.explain.mistake_remark(asserted[0].correction))
            result.call.guardrail = "known-mistake"
    return Result(feedback, result.call)


def _capped(feedback: Feedback, cap: int, reason: str) -> Feedback:
    """The model's feedback at most ``cap``, with the reason leading its weaknesses and its summary."""
    return feedback.model_copy(update={"score": cap, "weaknesses": [reason, *feedback.weaknesses][:8],
                                       "summary": f"Capped at {cap}/10: {reason}"})

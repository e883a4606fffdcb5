"""The provider contract every LLM backend (and the offline rubric) implements.

The engine asks a provider for the next question and for feedback on an answer; each
call returns the pydantic result together with a ``CallRecord`` describing how it was
made, which the engine stores with the turn (this is where the JSON validity rate,
latency and prompt version figures come from).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chains.schemas import Feedback, Kind, Level, Question, SessionReport

T = TypeVar("T")


@dataclass(frozen=True)
class QuestionRequest:
    role: str
    kind: Kind
    level: Level
    asked_ids: tuple[str, ...] = ()
    asked_texts: tuple[str, ...] = ()
    asked_domains: tuple[str, ...] = ()
    seed: int | None = None
    model: str | None = None  # registry traffic split: a model name or TGI adapter id for this session
    focus: str | None = None  # a job-ad requirement the question should practise (data, never instructions)


@dataclass(frozen=True)
class GradeRequest:
    question: Question
    answer: str
    exemplars: tuple[tuple[str, str, Feedback], ...] = ()  # (question, answer, feedback) few-shot
    model: str | None = None  # registry traffic split: a model name or TGI adapter id for this session
    # Told the readable feedback so far while a streaming provider writes it (chains.llm.preview);
    # providers that do not stream never call it. A courtesy: the result is the validated feedback.
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FollowUpRequest:
    question: Question
    answer: str
    feedback: Feedback


@dataclass
class CallRecord:
    """How one result was produced; stored with the turn."""

    provider: str
    model: str
    prompt_version: str
    prompt: str = ""
    raw_output: str = ""
    latency_ms: float = 0.0
    valid_first_try: bool = True
    repaired: bool = False
    fell_back: bool = False
    errors: list[str] = field(default_factory=list)
    # The non-answer kind ("off-topic", ...) when the rubric's guardrail capped a model's score.
    guardrail: str | None = None


@dataclass
class Result(Generic[T]):
    value: T
    call: CallRecord


class ProviderError(RuntimeError):
    """A provider could not produce a valid result (after its own retries and repair)."""


class AllProvidersFailed(ProviderError):
    """Every provider in the fallback order failed; the message says why, per provider."""


class Provider(ABC):
    """A source of questions and feedback."""

    name: str = "abstract"
    uses_exemplars: bool = True  # False lets the engine skip the few-shot query (the offline rubric)

    @abstractmethod
    def question(self, request: QuestionRequest) -> Result[Question]: ...

    @abstractmethod
    def grade(self, request: GradeRequest) -> Result[Feedback]: ...

    def follow_up(self, request: FollowUpRequest) -> Result[Question] | None:
        """An optional follow-up question; providers that can't write one return None."""
        return None

    def report(self, report: SessionReport) -> Result[SessionReport] | None:
        """An optional enriched end-of-session report; None keeps the engine's own."""
        return None

"""``LLMProvider``: the four chains over one backend, behind the engine's ``Provider`` contract."""

from __future__ import annotations

from chains.bank import Bank, load_bank
from chains.llm import feedback, follow_up, question, report
from chains.llm.backend import Backend
from chains.providers.base import FollowUpRequest, GradeRequest, Provider, QuestionRequest, Result
from chains.schemas import KINDS, Feedback, Question, SessionReport


class LLMProvider(Provider):
    """Questions, feedback, follow-ups and reports from a chat model (OpenAI, Gemini, TGI, ...)."""

    def __init__(
        self, backend: Backend, *, fewshot_token_budget: int = 1200, bank: Bank | None = None
    ) -> None:
        self.backend = backend
        self.name = backend.name
        bank = bank or load_bank()
        self.questions = {kind: question.build(backend, kind, bank) for kind in KINDS}
        self.feedback = {kind: feedback.build(backend, kind, fewshot_token_budget) for kind in KINDS}
        self.follow_ups = {kind: follow_up.build(backend, kind) for kind in KINDS}
        self.reporter = report.build(backend)

    def question(self, request: QuestionRequest) -> Result[Question]:
        return self.questions[request.kind].invoke(request)

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        return self.feedback[request.question.kind].invoke(request)

    def follow_up(self, request: FollowUpRequest) -> Result[Question] | None:
        return self.follow_ups[request.question.kind].invoke(request)

    def report(self, report: SessionReport) -> Result[SessionReport] | None:
        if report.answered == 0:
            return None  # nothing to summarise; the engine's own report says so
        return self.reporter.invoke(report)

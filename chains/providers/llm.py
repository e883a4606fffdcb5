"""``LLMProvider``: the four chains over one backend, behind the engine's ``Provider`` contract."""

from __future__ import annotations

from chains import grading
from chains.bank import Bank, load_bank
from chains.contract import FollowUpRequest, GradeRequest, Provider, QuestionRequest, Result
from chains.llm import feedback, follow_up, question, report
from chains.llm.backend import Backend
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
        return guard(request, self.feedback[request.question.kind].invoke(request))

    def follow_up(self, request: FollowUpRequest) -> Result[Question] | None:
        return self.follow_ups[request.question.kind].invoke(request)

    def report(self, report: SessionReport) -> Result[SessionReport] | None:
        if report.answered == 0:
            return None  # nothing to summarise; the engine's own report says so
        return self.reporter.invoke(report)


def guard(request: GradeRequest, result: Result[Feedback]) -> Result[Feedback]:
    """The offline grader's relevance check beside the model: a non-answer cannot score above 3.

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
            feedback = feedback.model_copy(update={
                "score": grading.NON_ANSWER_CAP,
                "strengths": [],
                "weaknesses": [verdict.reason, *feedback.weaknesses][:8],
                "summary": f"Capped at {grading.NON_ANSWER_CAP}/10: {verdict.reason}",
            })
            result.call.guardrail = verdict.kind
    return Result(feedback, result.call)

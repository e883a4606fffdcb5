"""Gate metrics for a version that a provider serves (OpenAI model, TGI adapter, Gemini exemplar set).

Runs the evaluation harness's held-out, recruiter-annotated answers (``tasks/evaluation/data``)
through a provider with the version pinned: ``request.model`` set to the version's serving id,
or, for a Gemini set, its exemplars in ``request.exemplars``. JSON validity is the share valid on
the first try (no repair, no fallback); agreement is the share within one point of the recruiter.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chains.bank import load_bank
from chains.providers import GradeRequest, Provider, QuestionRequest, Result
from chains.schemas import Feedback, Question
from tasks.training.gemini_backend import ExemplarFn


class PinnedVersion(Provider):
    """A provider whose grading calls always carry one version's model name or exemplars."""

    def __init__(
        self, inner: Provider, *, model: str | None = None, exemplars: ExemplarFn | None = None
    ) -> None:
        self.inner = inner
        self.model = model
        self.exemplars = exemplars
        self.name = inner.name

    def question(self, request: QuestionRequest) -> Result[Question]:
        return self.inner.question(replace(request, model=self.model or request.model))

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        exemplars = (
            self.exemplars(request.question.role, request.question.kind)
            if self.exemplars
            else request.exemplars
        )
        return self.inner.grade(replace(request, model=self.model or request.model, exemplars=exemplars))


def evaluate_served(
    provider: Provider,
    *,
    model: str | None = None,
    exemplars: ExemplarFn | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    from tasks.evaluation.harness import evaluate_feedback, load_eval_set

    items = load_eval_set()[:limit] if limit else load_eval_set()
    pinned = PinnedVersion(provider, model=model, exemplars=exemplars)
    _, validity, accuracy = evaluate_feedback(pinned, load_bank(), items)
    return {
        "json_validity": round(validity.first_try_rate, 4),
        "delivered": round(validity.delivered_rate, 4),
        "agreement": accuracy.within_one,
        "score_mae": accuracy.score_mae,
        "spearman": accuracy.spearman,
        "eval_items": len(items),
        "eval_provider": provider.name,
    }

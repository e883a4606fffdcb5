"""Agreement with people on the held-out part of the annotated set, and robustness to degradation.

Three figures decide whether feedback can be trusted (docs/grading.md): Spearman's rho and
MAE (with a 95% interval over questions, since a target is read against it) against the
annotations on genuine answers to questions the grader was not fitted on; the
share of adversarial non-answers scored at most 3; and the share of degraded strong answers
(result removed, numbers removed, second half removed) that do not score above the original.
Guardrail interventions (a model's score capped by the rubric's relevance check) are counted
per model version, so a model that praises non-answers shows up here as well as in `stats`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from chains.grading import text
from chains.providers import GradeRequest, Provider
from chains.schemas import Question
from tasks.evaluation import annotated, metrics

RESULT_WORDS = re.compile(r"\b(as a result|in the end|result|outcome|reduc|increas|improv|saved|cut|grew|dropped"
                          r"|went from|fell|rose|shipped|launched|renewed|closed)\w*", re.IGNORECASE)
DIGITS = re.compile(r"[$€£]?\d[\d.,]*\s?(%|percent|ms|x|k)?")
STRONG = 7


class Agreement(BaseModel):
    answers: int
    spearman: float | None
    score_mae: float | None
    score_mae_low: float | None  # 95% interval, resampling questions (metrics.clustered_mean_interval)
    score_mae_high: float | None
    within_one: float | None
    adversarial: int
    adversarial_capped: float | None
    degradations: int
    degradation_monotone: float | None
    guardrail: dict[str, int]


def degrade(answer: str) -> dict[str, str]:
    """Worse versions of an answer: without its result, without its numbers, without its second half."""
    sentences = text.sentences(answer)
    without_result = [s for s in sentences if not RESULT_WORDS.search(s)]
    if len(without_result) == len(sentences):
        without_result = sentences[:-1]
    return {
        "no-result": " ".join(without_result),
        "no-numbers": re.sub(r"\s{2,}", " ", DIGITS.sub("", answer)).strip(),
        "first-half": " ".join(sentences[: max(1, len(sentences) // 2)]),
    }


def measure_agreement(provider: Provider, step: Callable[[str], None] | None = None,
                      split: annotated.Split = "heldout") -> Agreement:
    guardrail: Counter[str] = Counter()

    def score(question: Question, answer: str) -> int | None:
        try:
            result = provider.grade(GradeRequest(question=question, answer=answer))
        except Exception:  # a failed call is not a score; JSON validity counts failures elsewhere
            return None
        if result.call.guardrail:
            guardrail[result.call.model] += 1
        return result.value.score

    predicted: list[float] = []
    truth: list[float] = []
    asked: list[str] = []
    capped: list[bool] = []
    monotone: list[bool] = []
    for item, question in annotated.load(split):
        got = score(question, item.answer)
        if step:
            step(item.id)
        if got is None:
            continue
        if item.adversarial:
            capped.append(got <= 3)
            continue
        predicted.append(float(got))
        truth.append(float(item.score))
        asked.append(question.id)
        if item.score >= STRONG:
            for worse in degrade(item.answer).values():
                if worse and worse != item.answer and (worse_score := score(question, worse)) is not None:
                    monotone.append(worse_score <= got)
    low, high = (metrics.clustered_mean_interval([abs(p - t) for p, t in zip(predicted, truth, strict=True)], asked)
                 if predicted else (None, None))
    return Agreement(
        answers=len(predicted),
        spearman=metrics.spearman(predicted, truth),
        score_mae=metrics.mean_absolute_error(predicted, truth) if predicted else None,
        score_mae_low=low,
        score_mae_high=high,
        within_one=sum(abs(p - t) <= 1 for p, t in zip(predicted, truth, strict=True)) / len(predicted)
        if predicted else None,
        adversarial=len(capped),
        adversarial_capped=sum(capped) / len(capped) if capped else None,
        degradations=len(monotone),
        degradation_monotone=sum(monotone) / len(monotone) if monotone else None,
        guardrail=dict(guardrail),
    )

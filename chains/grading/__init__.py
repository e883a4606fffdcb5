"""The offline grader: substance first, then structure and delivery, in a score fitted on people.

It is the embedded default and the last fallback under every LLM, so it is what every user
meets first. It reads the question (relevance and key-point coverage by meaning, through
``chains.embeddings``), refuses to reward non-answers (``nonanswers``: at most 3/10 and the
first weakness says why), combines its signals with weights fitted on recruiter-annotated
answers (``model``), and only says things that are true of the answer (``explain``).
Deterministic: the same answer to the same question always gets the same feedback.
docs/grading.md describes the design and its measured agreement with recruiters.
"""

from __future__ import annotations

from chains.bank import load_bank
from chains.grading import claims, explain, model, nonanswers, references, signals
from chains.grading.misconceptions import MISTAKE_CAP
from chains.grading.nonanswers import NON_ANSWER_CAP, NonAnswer
from chains.grading.signals import Signals, measure
from chains.schemas import Feedback, Question

__all__ = ["GRADER_VERSION", "MISTAKE_CAP", "NON_ANSWER_CAP", "NonAnswer", "Signals", "explain", "fitted_score",
           "grade", "measure", "model", "nonanswers", "prepare", "relevance_check", "signals"]

GRADER_VERSION = "grader-v2"


def _clamp(value: float) -> int:
    return max(1, min(10, round(value)))


def _criteria(question: Question, s: Signals, non_answer: NonAnswer | None, predicted: float) -> dict[str, int]:
    """Sub-scores on 1-10. Relevance, coverage and structure are chances from the models fitted on labels
    (``claims``), so "coverage 3/10" means about a fifth of the points look made, not a cosine."""
    low, high = model.LENGTH_TARGET[question.level]
    on_topic = claims.on_topic(s, question.kind)
    chances = claims.point_chances(s.point_similarity, s.point_shares, question.kind, predicted, on_topic)
    criteria = {
        "relevance": _clamp(1 + 9 * on_topic),
        "coverage": _clamp(1 + 9 * sum(chances) / len(chances)) if chances else 1,
        "specificity": _clamp(2 + 1.5 * min(s.numbers, 3) + min(s.specific_terms, 2) + min(s.reasoning, 2)),
        "delivery": _clamp(10 - 1.5 * s.filler_rate),
        "length": _clamp(10 * min(1.0, s.words / low)) if s.words <= 2 * high else 6,
    }
    if question.kind == "behavioral":
        parts = claims.part_chances(s.story_evidence, predicted)
        criteria["structure"] = _clamp(1 + 9 * sum(parts[p] for p in explain.STAR_PARTS) / len(explain.STAR_PARTS))
        mentions = s.i_count + s.we_count
        criteria["ownership"] = _clamp(2 + 8 * s.i_count / mentions) if mentions else 1
    if non_answer is not None:
        criteria = {name: min(value, NON_ANSWER_CAP) for name, value in criteria.items()}
    return criteria


def relevance_check(question: Question, answer: str) -> NonAnswer | None:
    """Whether an answer is a non-answer to its question (the guardrail beside the LLM providers)."""
    return nonanswers.detect(question, answer, measure(question, answer))


def fitted_score(question: Question, s: Signals) -> float:
    """The score before rounding (and before any non-answer cap)."""
    predicted = model.predict(s, question.kind, question.level)
    if s.mistakes:  # recruiters do not pass a confident, known mistake whatever surrounds it
        predicted = min(predicted, MISTAKE_CAP)
    return predicted


def prepare() -> None:
    """Build everything grading a bank question needs (the embedding table, the bank's vectors, each role's
    words), so that no interview's first answer pays for it: a server calls this while warming up."""
    nonanswers.prepare()
    references.prepare(load_bank().questions)


def grade(question: Question, answer: str) -> Feedback:
    """Score an answer and explain the score."""
    s = measure(question, answer)
    non_answer = nonanswers.detect(question, answer, s)
    predicted = fitted_score(question, s)
    score = _clamp(predicted)
    criteria = _criteria(question, s, non_answer, predicted)
    if non_answer is not None:
        score = min(score, NON_ANSWER_CAP)
        remarks = explain.for_non_answer(question, non_answer)
    else:
        remarks = explain.for_answer(question, s, criteria, predicted)
    lead = remarks.weaknesses[0] if remarks.weaknesses else "A solid answer; the suggestions are polish."
    summary = f"Rubric feedback (offline): {score}/10. {lead}"
    return Feedback(
        score=score,
        strengths=remarks.strengths[:5],
        weaknesses=remarks.weaknesses[:5],
        suggestions=remarks.suggestions[:5],
        criteria=criteria,
        summary=summary,
        outline=list(question.key_points[:6]),
    )


"""Run the four success metrics for one provider over the held-out evaluation set.

1. JSON validity: share of feedback calls valid on the first try, and delivered valid.
2. Feedback accuracy against recruiter annotations: score MAE, Spearman's rho, overlap of
   strengths and weaknesses with the recruiter's notes.
3. Question diversity (distinct-n, embedding dispersion) and relevance to the role
   (embedding similarity to the role, nearest-role accuracy, key points related to their question).
4. Candidate satisfaction from stored ratings and the usefulness survey.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel

from bot.store.db import Database
from bot.store.stats import compute_stats
from chains.bank import Bank, load_bank
from chains.providers import GradeRequest, Provider, ProviderError, QuestionRequest
from chains.schemas import KINDS, Question
from tasks.evaluation import metrics
from tasks.evaluation.agreement import Agreement, measure_agreement
from tasks.evaluation.remark_labels import RemarkPrecision, measure_remarks

DATA_DIR = Path(__file__).with_name("data")
# A key point "relates" to its question above this cosine: the 90th percentile of random
# question/key-point pairs on the packaged static embedder (0.25 suited the full MiniLM).
RELATED = 0.15
Step = Callable[[str], None]


class Annotation(BaseModel):
    score: int
    strengths: list[str]
    weaknesses: list[str]
    summary: str


class EvalItem(BaseModel):
    id: str
    question_id: str
    answer: str
    recruiter: Annotation


class ItemResult(BaseModel):
    id: str
    role: str
    kind: str
    recruiter_score: int
    model_score: int | None
    strengths_overlap: float | None
    weaknesses_overlap: float | None
    valid_first_try: bool
    delivered: bool


class JsonValidity(BaseModel):
    calls: int
    first_try_rate: float
    delivered_rate: float
    repaired: int
    fell_back: int


class Accuracy(BaseModel):
    score_mae: float | None
    spearman: float | None
    within_one: float | None
    strengths_overlap: float | None
    weaknesses_overlap: float | None


class Diversity(BaseModel):
    questions: int
    distinct_1: float | None  # None without questions: nothing was measured
    distinct_2: float | None
    dispersion: float | None


class Relevance(BaseModel):
    role_similarity: float | None
    role_accuracy: float | None
    key_point_relatedness: float | None


class Satisfaction(BaseModel):
    ratings: int
    satisfaction: float | None
    ci_low: float | None
    ci_high: float | None
    survey_responses: int
    survey_average: float | None


class EvalReport(BaseModel):
    provider: str
    created_at: datetime
    items: list[ItemResult]
    json_validity: JsonValidity
    accuracy: Accuracy
    diversity: Diversity
    relevance: Relevance | None
    satisfaction: Satisfaction | None
    agreement: Agreement | None = None
    remarks: RemarkPrecision | None = None  # the offline grader's, whatever the provider: it is the fallback
    notes: list[str]


def load_eval_set(directory: Path = DATA_DIR) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path in sorted(directory.glob("*.yaml")):
        items.extend(EvalItem.model_validate(i) for i in yaml.safe_load(path.read_text(encoding="utf-8"))["items"])
    return items


def evaluate_feedback(provider: Provider, bank: Bank, items: list[EvalItem],
                      step: Step | None = None) -> tuple[list[ItemResult], JsonValidity, Accuracy]:
    results: list[ItemResult] = []
    repaired = fell_back = 0
    for item in items:
        question = bank.by_id[item.question_id]
        try:
            result = provider.grade(GradeRequest(question=question, answer=item.answer))
            feedback, call = result.value, result.call
            repaired += call.repaired
            fell_back += call.fell_back
            results.append(ItemResult(
                id=item.id, role=question.role, kind=question.kind, recruiter_score=item.recruiter.score,
                model_score=feedback.score,
                strengths_overlap=metrics.note_overlap(feedback.strengths, item.recruiter.strengths),
                weaknesses_overlap=metrics.note_overlap(feedback.weaknesses, item.recruiter.weaknesses),
                valid_first_try=call.valid_first_try and not call.fell_back, delivered=True))
        except Exception:  # a failed call is an invalid delivery, counted, never fatal to the run
            results.append(ItemResult(id=item.id, role=question.role, kind=question.kind,
                                      recruiter_score=item.recruiter.score, model_score=None,
                                      strengths_overlap=None, weaknesses_overlap=None,
                                      valid_first_try=False, delivered=False))
        if step:
            step(item.id)
    scored = [r for r in results if r.model_score is not None]
    predicted = [float(r.model_score) for r in scored]  # type: ignore[arg-type]
    truth = [float(r.recruiter_score) for r in scored]
    validity = JsonValidity(
        calls=len(results),
        first_try_rate=sum(r.valid_first_try for r in results) / len(results) if results else 0.0,
        delivered_rate=len(scored) / len(results) if results else 0.0,
        repaired=repaired, fell_back=fell_back)
    accuracy = Accuracy(
        score_mae=metrics.mean_absolute_error(predicted, truth) if scored else None,
        spearman=metrics.spearman(predicted, truth),
        within_one=sum(abs(p - t) <= 1 for p, t in zip(predicted, truth, strict=True)) / len(scored)
        if scored else None,
        strengths_overlap=metrics.mean([r.strengths_overlap for r in scored]),
        weaknesses_overlap=metrics.mean([r.weaknesses_overlap for r in scored]),
    )
    return results, validity, accuracy


def generate_sessions(provider: Provider, bank: Bank, per_session: int, notes: list[str],
                      step: Step | None = None) -> list[list[Question]]:
    """One simulated session per role and kind, asking ``per_session`` questions without repeats.

    A question the provider cannot give (a dead model, a role's bank used up) ends that session
    early, with a note, instead of losing the whole run.
    """
    sessions: list[list[Question]] = []
    for role in sorted(bank.roles):
        for kind in KINDS:
            asked: list[Question] = []
            for index in range(per_session):
                request = QuestionRequest(role=role, kind=kind, level="mid",
                                          asked_ids=tuple(q.id for q in asked),
                                          asked_texts=tuple(q.text for q in asked),
                                          asked_domains=tuple(q.domain for q in asked), seed=index)
                try:
                    asked.append(provider.question(request).value)
                except ProviderError as exc:
                    notes.append(f"{role}/{kind}: {len(asked)} of {per_session} questions ({exc})")
                    break
            sessions.append(asked)
            if step:
                step(f"{role}/{kind}")
    return sessions


def diversity_of(sessions: list[list[Question]], vectors: dict[str, list[float]] | None) -> Diversity:
    texts = [q.text for session in sessions for q in session]
    dispersion = None
    if vectors is not None:
        dispersion = metrics.mean([metrics.dispersion([vectors[q.text] for q in s]) for s in sessions])
    if not texts:
        return Diversity(questions=0, distinct_1=None, distinct_2=None, dispersion=None)
    return Diversity(questions=len(texts), distinct_1=metrics.distinct_n(texts, 1),
                     distinct_2=metrics.distinct_n(texts, 2), dispersion=dispersion)


def relevance_of(sessions: list[list[Question]], bank: Bank, embed: Callable[[list[str]], list[list[float]]],
                 vectors: dict[str, list[float]]) -> Relevance:
    roles = sorted(bank.roles)
    descriptions = [f"{bank.roles[r].title}: {', '.join(bank.roles[r].aliases)}; topics: "
                    + ", ".join(sorted({q.domain for q in bank.roles[r].questions})) for r in roles]
    role_vectors = dict(zip(roles, embed(descriptions), strict=True))
    own: list[float] = []
    correct: list[float] = []
    related: list[float] = []
    points = [p for s in sessions for q in s for p in q.key_points]
    point_vectors = dict(zip(points, embed(points), strict=True)) if points else {}
    for session in sessions:
        for question in session:
            vector = vectors[question.text]
            similarities = {r: metrics.cosine(vector, role_vectors[r]) for r in roles}
            own.append(similarities[question.role])
            correct.append(float(max(similarities, key=similarities.__getitem__) == question.role))
            related.append(sum(metrics.cosine(vector, point_vectors[p]) >= RELATED for p in question.key_points)
                           / len(question.key_points))
    return Relevance(role_similarity=metrics.mean(own), role_accuracy=metrics.mean(correct),
                     key_point_relatedness=metrics.mean(related))


def satisfaction_of(db: Database, days: int) -> Satisfaction:
    stats = compute_stats(db, days=days)
    return Satisfaction(ratings=stats.ratings_up + stats.ratings_down, satisfaction=stats.satisfaction,
                        ci_low=stats.ci_low, ci_high=stats.ci_high, survey_responses=stats.survey_responses,
                        survey_average=stats.survey_average)


def run_eval(provider: Provider, *, db: Database | None = None, bank: Bank | None = None,
             items: list[EvalItem] | None = None, per_session: int = 5, use_embeddings: bool = True,
             days: int = 90, step: Step | None = None, agreement: bool = True) -> EvalReport:
    from tasks.evaluation.embeddings import EmbeddingsUnavailable, embed

    bank = bank or load_bank()
    items = items if items is not None else load_eval_set()
    notes: list[str] = []
    results, validity, accuracy = evaluate_feedback(provider, bank, items, step)
    sessions = generate_sessions(provider, bank, per_session, notes, step)
    vectors: dict[str, list[float]] | None = None
    relevance = None
    if use_embeddings:
        try:
            texts = list(dict.fromkeys(q.text for s in sessions for q in s))
            vectors = dict(zip(texts, embed(texts), strict=True))
            relevance = relevance_of(sessions, bank, embed, vectors)
        except EmbeddingsUnavailable as exc:
            notes.append(str(exc))
    return EvalReport(
        provider=provider.name, created_at=datetime.now(UTC), items=results, json_validity=validity,
        accuracy=accuracy, diversity=diversity_of(sessions, vectors), relevance=relevance,
        satisfaction=satisfaction_of(db, days) if db is not None else None,
        agreement=measure_agreement(provider, step) if agreement else None,
        remarks=measure_remarks() if agreement else None, notes=notes,
    )

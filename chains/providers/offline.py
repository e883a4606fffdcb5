"""The offline provider: questions from the curated bank, feedback from the offline grader. No keys, no network."""

from __future__ import annotations

import random
import time
from collections import Counter

from chains import grading
from chains.bank import Bank, load_bank
from chains.contract import CallRecord, GradeRequest, Provider, ProviderError, QuestionRequest, Result
from chains.embeddings import cosine_matrix, embed
from chains.schemas import Feedback, Question


class OfflineProvider(Provider):
    name = "offline"
    uses_exemplars = False

    def __init__(self, bank: Bank | None = None) -> None:
        self.bank = bank or load_bank()

    def question(self, request: QuestionRequest) -> Result[Question]:
        started = time.perf_counter()
        question = pick_question(self.bank, request)
        call = CallRecord(provider=self.name, model="question-bank", prompt_version="bank-v1",
                          latency_ms=(time.perf_counter() - started) * 1000)
        return Result(question, call)

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        started = time.perf_counter()
        feedback = grading.grade(request.question, request.answer)
        call = CallRecord(provider=self.name, model=grading.GRADER_VERSION, prompt_version=grading.GRADER_VERSION,
                          raw_output=feedback.model_dump_json(), latency_ms=(time.perf_counter() - started) * 1000)
        return Result(feedback, call)


def pick_question(bank: Bank, request: QuestionRequest) -> Question:
    """A question not yet asked, at the nearest level, from the least-used domain.

    Spreading over domains is what keeps a five-question session from asking five
    database questions; the seed makes a session's choices reproducible.
    """
    pool = [q for q in bank.select(request.role, request.kind, request.level)
            if q.id not in request.asked_ids and q.text not in request.asked_texts]
    if not pool:
        raise ProviderError(f"the bank has no more {request.kind} questions for {request.role}")
    if request.focus:
        return _closest(pool, request.focus, request.level)
    best_level = min(abs(_level(q.level) - _level(request.level)) for q in pool)
    pool = [q for q in pool if abs(_level(q.level) - _level(request.level)) == best_level]
    used = Counter(request.asked_domains)
    fewest = min(used[q.domain] for q in pool)
    pool = [q for q in pool if used[q.domain] == fewest]
    return random.Random(request.seed).choice(sorted(pool, key=lambda q: q.id))


def _closest(pool: list[Question], focus: str, level: str) -> Question:
    """A question on the topic closest in meaning to a job-ad requirement, at the level nearest ``level``.

    The topic (domain) is the one whose best question is closest to the requirement (text and key
    points); within it the level decides, then closeness. Topic first: a requirement about
    Kubernetes is practised by a container question a level off rather than a networking one.
    """
    pool = sorted(pool, key=lambda q: q.id)
    closeness = cosine_matrix(embed([focus]), embed([f"{q.text} {' '.join(q.key_points)}" for q in pool]))[0]
    best = max(range(len(pool)), key=lambda i: closeness[i])
    topic = [i for i in range(len(pool)) if pool[i].domain == pool[best].domain]
    return pool[min(topic, key=lambda i: (abs(_level(pool[i].level) - _level(level)), -closeness[i]))]


def _level(level: str) -> int:
    return {"junior": 0, "mid": 1, "senior": 2}[level]

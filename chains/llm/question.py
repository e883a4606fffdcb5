"""Question generation: ``QuestionRequest -> Question`` (role, domain, kind, level, no repeats).

The bank decides *which domain* comes next (the least covered so far, so five questions
do not all land on databases); the model writes the question and its key points.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from chains.bank import Bank
from chains.contract import QuestionRequest
from chains.llm.safety import as_data, as_list
from chains.llm.task import Task, task
from chains.llm.wire import QuestionOut
from chains.schemas import Kind, Question

QuestionTask = Task[QuestionRequest, QuestionOut, Question]


def next_domain(bank: Bank, request: QuestionRequest) -> str:
    domains = sorted({q.domain for q in bank.select(request.role, request.kind, request.level)})
    if not domains:
        return "general"
    used = Counter(request.asked_domains)
    fewest = min(used[d] for d in domains)
    return random.Random(request.seed).choice([d for d in domains if used[d] == fewest])


def normalised(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?.! ")


def to_question(wire: QuestionOut, request: QuestionRequest, id_prefix: str = "llm") -> Question:
    """The domain model; a repeat of an asked question is refused (and so repaired)."""
    text = wire.text.strip()
    if normalised(text) in {normalised(t) for t in request.asked_texts}:
        raise ValueError("that question was already asked in this interview; write a different one")
    digest = hashlib.sha1(f"{request.role}|{request.kind}|{text}".encode()).hexdigest()[:12]
    return Question(
        id=f"{id_prefix}-{digest}",
        role=request.role,
        kind=request.kind,
        level=request.level,
        domain=wire.domain.strip().lower()[:60] or "general",
        text=text,
        key_points=wire.key_points,
    )


def build(kind: Kind, bank: Bank) -> QuestionTask:
    def render(request: QuestionRequest) -> dict[str, str]:
        return {
            "role": request.role,
            "level": request.level,
            "domain": next_domain(bank, request),
            "asked": as_list("asked", request.asked_texts),
            "focus": as_data("job_requirement", request.focus) if request.focus else "",
        }

    return task(
        f"question_{kind}",
        wire=QuestionOut,
        temperature=0.8,
        render=render,
        convert=to_question,
    )

"""The annotated set the offline grader is fitted on and judged by (tasks/evaluation/annotated).

Over 600 answers to bank questions across all 13 roles, both kinds and three levels, each with
a recruiter-style score (1-10) and reason; about a fifth are adversarial non-answers. The split
is by question, from a hash of its id, so no question is in both parts: a grader fitted on the
training part meets only unseen questions in the held-out part. docs/grading.md says how the
set was written.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from chains.bank import load_bank
from chains.schemas import Question

DATA_DIR = Path(__file__).with_name("annotated")
HELDOUT_SHARE = 0.3
Split = Literal["train", "heldout", "all"]


class AnnotatedAnswer(BaseModel):
    id: str
    question_id: str
    answer: str
    score: int = Field(ge=1, le=10)
    reason: str
    adversarial: str | None = None


def held_out(question_id: str) -> bool:
    """Stable across runs and machines: the first byte of the id's SHA-256 decides."""
    return hashlib.sha256(question_id.encode()).digest()[0] < 256 * HELDOUT_SHARE


@cache
def _all() -> tuple[tuple[AnnotatedAnswer, Question], ...]:
    by_id = load_bank().by_id
    items = []
    for path in sorted(DATA_DIR.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            item = AnnotatedAnswer.model_validate(raw)
            items.append((item, by_id[item.question_id]))
    return tuple(items)


def load(split: Split = "all") -> list[tuple[AnnotatedAnswer, Question]]:
    """(annotation, question) pairs of one part of the set."""
    if split == "all":
        return list(_all())
    return [(item, q) for item, q in _all() if held_out(q.id) == (split == "heldout")]

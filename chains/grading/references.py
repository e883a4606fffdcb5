"""What a strong answer to each bank question says, in words: the reference answers.

Why: for a technical question, how much of a strong answer's vocabulary an answer uses predicts
what recruiters score better than how much of the key points' few words it uses. The key points
name what to cover; a strong answer says it with the terms, mechanisms and trade-offs an expert
reaches for. Added as a score feature for technical answers, the share of a reference answer's
content stems lowered the cross-validated training MAE from 0.915 to 0.847; for stories it made
it worse (0.721 to 0.759: every candidate's story has its own words), so stories do not use it.
``references.json`` holds one answer per bank question, written by people from the question and
its key points only (brief in docs/data/reference-answers-brief.md), never from the annotated set.
A model-written question has none; its key points and text stand in (``model`` scales that share
to the references' scale).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from chains.grading import text
from chains.schemas import Question

REFERENCES = Path(__file__).with_name("references.json")


@lru_cache(maxsize=1)
def _answers() -> dict[str, str]:
    return json.loads(REFERENCES.read_text(encoding="utf-8"))["answers"]


@lru_cache(maxsize=1024)
def _reference_stems(question_id: str) -> frozenset[str] | None:
    reference = _answers().get(question_id)
    return frozenset(text.content_stems(reference)) if reference else None


def _share(stems: frozenset[str] | set[str], answer_stems: set[str]) -> float:
    return len(stems & answer_stems) / max(len(stems), 1)


def own_words_share(question: Question, answer_stems: set[str]) -> float:
    """The share of the question's own content stems (text and key points) the answer uses: the stand-in."""
    return _share(text.content_stems(text.asked(question)), answer_stems)


def share(question: Question, answer_stems: set[str]) -> tuple[float, bool]:
    """The share of the reference answer's content stems the answer uses, and whether the question has a
    reference (without one, ``own_words_share``)."""
    stems = _reference_stems(question.id)
    if stems is None:
        return own_words_share(question, answer_stems), False
    return _share(stems, answer_stems), True


def prepare(questions: list[Question]) -> None:
    """Stem every reference answer now, so no question's first answer pays for it."""
    for question in questions:
        _reference_stems(question.id)

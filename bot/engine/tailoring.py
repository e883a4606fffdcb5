"""Questions tailored to a job ad: the ad's requirements decide what each question practises.

The ad is read as data, never as instructions: it is split into requirement lines, and a line
survives only if it reads like something the role's questions can practise (its meaning, by the
grader's sentence embeddings, is close to one of the role's bank questions) and does not speak
to a model ("ignore previous instructions", the grader's own injection pattern). So a line
written to steer the interviewer has no requirement to ride on and changes nothing.

Each main question practises the least-practised requirement so far (spread over them, in the
ad's order). The provider turns a requirement into a question: offline, the bank question
closest to it in meaning (``chains.providers.offline``); with an LLM, one written for it.
"""

from __future__ import annotations

import re
from typing import Any

from bot.engine.errors import BadInput
from bot.engine.text import clean_answer
from bot.engine.views import SessionView
from chains.bank import Bank
from chains.embeddings import cosine_matrix, embed
from chains.grading import nonanswers

MAX_AD_CHARS = 8000
MAX_REQUIREMENTS = 8
# A requirement must be at least this close (cosine) to one of the role's questions of the kind
# to be practised; unrelated lines ("competitive salary", an injected order) fall well below.
RELEVANT = 0.35
_BULLET = re.compile(r"^\s*(?:[-*•·▪–]|\d+[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.;!?])\s+")
# A bullet inside a line: a chat option (Discord's ``job_ad``) flattens a pasted list onto one line.
_INLINE_BULLET = re.compile(r"\s+[-*•·▪–]\s+")


def _candidates(ad: str) -> list[str]:
    """Bullet lines and sentences of the ad, without bullets, 3 to 40 words each, first seen first."""
    items: list[str] = []
    for line in ad.splitlines():
        for piece in (p for part in _INLINE_BULLET.split(_BULLET.sub("", line)) for p in _SENTENCE.split(part)):
            text = " ".join(piece.split()).strip(" .;:")
            if 3 <= len(text.split()) <= 40 and text not in items:
                items.append(text)
    return items


def requirements(ad: str, role: str, kind: str, bank: Bank) -> list[str]:
    """The requirements of ``ad`` that ``role``'s ``kind`` questions can practise, in the ad's order."""
    items = [item for item in _candidates(ad) if not nonanswers.INJECTION.search(item)]
    questions = [q for q in bank.questions if q.role == role and q.kind == kind]
    if not items or not questions:
        return []
    question_vectors = embed([f"{q.text} {' '.join(q.key_points)}" for q in questions])
    closeness = cosine_matrix(embed(items), question_vectors).max(axis=1)
    kept = [item for item, best in zip(items, closeness, strict=True) if best >= RELEVANT]
    ranked = sorted(kept, key=lambda item: -float(closeness[items.index(item)]))[:MAX_REQUIREMENTS]
    return [item for item in kept if item in ranked]


def session_fields(ad: str | None, role: str, kind: str, bank: Bank) -> dict[str, Any]:
    """The session columns for a job ad (none without one); ``BadInput`` when nothing in it can be practised."""
    if ad is None or not ad.strip():
        return {}
    cleaned = clean_answer(ad, MAX_AD_CHARS).text
    found = requirements(cleaned, role, kind, bank)
    if not found:
        raise BadInput(f"I couldn't find requirements in that job ad that {kind} questions for {role} can practise; "
                       "paste the ad's list of responsibilities or requirements.")
    return {"job_ad": cleaned, "requirements": [item[:300] for item in found]}


def next_requirement(view: SessionView) -> str | None:
    """The requirement the next main question practises: the least practised so far, in the ad's order."""
    if not view.requirements:
        return None
    practised = [t.requirement for t in view.turns if t.follow_up_of is None and t.attempt_of is None]
    return min(view.requirements, key=lambda item: (practised.count(item), view.requirements.index(item)))


"""Turn a free-text question (``mockingbird grade --question``) into a ``Question``.

A bank question with the same text brings its curated key points; otherwise the key points
are the question itself and what any strong answer of its kind contains, so
coverage still measures whether the answer addresses what was asked, and the outline shown
to the candidate reads as English (word pairs such as "find slow" did not).
"""

from __future__ import annotations

import difflib
import hashlib

from chains.bank import Bank
from chains.schemas import Question

GENERIC_POINT = {
    "behavioral": "a specific situation, your own actions and a measurable result",
    "technical": "how it works, the trade-offs, and how you would verify it",
}


def question_for_text(bank: Bank, text: str, *, role: str, kind: str, level: str) -> Question:
    candidates = {q.text.lower(): q for q in bank.questions}
    close = difflib.get_close_matches(text.strip().lower(), list(candidates), n=1, cutoff=0.9)
    if close:
        return candidates[close[0]]
    asked = " ".join(text.split())[:200]
    points = [asked, GENERIC_POINT[kind]]
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return Question(id=f"adhoc-{digest}", role=role, domain="general", kind=kind, level=level,  # type: ignore[arg-type]
                    text=text.strip()[:600] if len(text.strip()) >= 10 else f"Question: {text.strip()}",
                    key_points=points)

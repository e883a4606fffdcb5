"""Turn a free-text question (``mockingbird grade --question``) into a ``Question``.

A bank question with the same text brings its curated key points; otherwise the
question's own content words become the key points, so coverage still measures whether
the answer addresses what was asked.
"""

from __future__ import annotations

import difflib
import hashlib

from chains.bank import Bank
from chains.grading.text import STOPWORDS, WORD
from chains.schemas import Question


def question_for_text(bank: Bank, text: str, *, role: str, kind: str, level: str) -> Question:
    candidates = {q.text.lower(): q for q in bank.questions}
    close = difflib.get_close_matches(text.strip().lower(), list(candidates), n=1, cutoff=0.9)
    if close:
        return candidates[close[0]]
    words = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 2]
    words = list(dict.fromkeys(words)) or ["answer", "question"]
    points = [" ".join(words[i:i + 2]) for i in range(0, len(words), 2)][:6]
    if len(points) < 2:
        points.append("specific example")
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return Question(id=f"adhoc-{digest}", role=role, domain="general", kind=kind, level=level,  # type: ignore[arg-type]
                    text=text.strip()[:600] if len(text.strip()) >= 10 else f"Question: {text.strip()}",
                    key_points=points)

"""Few-shot exemplars: the prompt-tuning that Gemini relies on and every provider benefits from.

The engine hands over candidates for the session's role and kind, best source first
(recruiter corrections, then 👍-rated feedback). Here they are ranked by how close their
question is to the one being graded and taken greedily while they fit the token budget
(``FEWSHOT_TOKEN_BUDGET``). Tokens are estimated at four characters each: no tokenizer
download, and close enough for a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chains.grading.text import content_stems
from chains.redact import redact_patterns
from chains.schemas import Feedback, Question

Exemplar = tuple[str, str, Feedback]  # (question text, answer, feedback)
CHARS_PER_TOKEN = 4
MAX_EXEMPLARS = 4

def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def similarity(a: str, b: str) -> float:
    left, right = content_stems(a), content_stems(b)
    return len(left & right) / len(left | right) if left and right else 0.0


def select(
    candidates: Sequence[Exemplar],
    question: Question,
    answer: str,
    budget_tokens: int,
    cost: Callable[[Exemplar], int],
    limit: int = MAX_EXEMPLARS,
) -> list[Exemplar]:
    """The most similar exemplars that fit in ``budget_tokens`` together (source order breaks ties)."""
    if budget_tokens <= 0 or not candidates:
        return []
    ranked = sorted(  # another candidate's answer goes to the model: no contact details or ids
        (
            (similarity(q, question.text), -i, (q, redact_patterns(a), f))
            for i, (q, a, f) in enumerate(candidates)
            if a and a.strip() != answer.strip()
        ),
        reverse=True,
    )
    chosen: list[Exemplar] = []
    spent = 0
    for _, _, exemplar in ranked:
        price = cost(exemplar)
        if spent + price > budget_tokens:
            continue
        chosen.append(exemplar)
        spent += price
        if len(chosen) >= limit:
            break
    return chosen

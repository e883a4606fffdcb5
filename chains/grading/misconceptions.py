"""Known mistakes, stated as claims: the one thing the grader can know is wrong in an answer.

The embedding cannot tell "POST is idempotent" from "PUT is idempotent", so coverage and form
alone score a fluent, confident mistake like a correct answer. For the bank's technical questions,
``misconceptions.yaml`` (690 claims over all 247) turns each question's pitfalls (written from
domain knowledge) into patterns that match a sentence *asserting* the mistake, each with the correction a candidate
should hear. A sentence that rejects or reports the claim ("some people think ...", "... is a
myth", a negation outside the matched words) does not count, so a strong answer that names a
mistake in order to refute it is not marked down. docs/grading.md gives the measured effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from chains.grading import text

DATA = Path(__file__).with_name("misconceptions.yaml")
# An answer asserting a known mistake scores at most this: every one of the 9 such answers in the
# training part of the annotated set was scored 2-4 by its annotator. Not 3, the non-answer cap:
# a mistake beside otherwise sound content is still an answer.
MISTAKE_CAP = 4
MAX_SENTENCE = 400
REJECTION = re.compile(
    r"\b(not|no|never|avoid|instead|rather than|myth|mistake|misconception|wrong|false|incorrect|untrue"
    r"|people (think|assume|believe|say)|some (think|assume|believe|say)|common(ly)? (belief|trap|error)"
    r"|contrary to|it'?s tempting|pitfall|dont|doesnt|isnt|arent|wont|shouldnt|wouldnt|cant)\b|n['\u2019]t\b",
    re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    pattern: re.Pattern[str]
    correction: str
    negative: bool  # the claim itself says "not" / "never" ..., so only words outside the match can reject it


def parse(entries: list[dict]) -> tuple[Claim, ...]:
    return tuple(Claim(re.compile(e["pattern"], re.IGNORECASE), e["correction"], bool(REJECTION.search(e["pattern"])))
                 for e in entries)


@lru_cache(maxsize=1)
def _claims() -> dict[str, tuple[Claim, ...]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses the 690 claims in ~15 ms, not ~170
    document = yaml.load(DATA.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 (a safe loader)
    return {qid: parse(entries) for qid, entries in document.items()}


def sentence_asserts(claim: Claim, sentence: str) -> bool:
    """The sentence states the claim itself, not a rejection or a report of it."""
    if not claim.negative:
        return claim.pattern.search(sentence) is not None and not REJECTION.search(sentence)
    for match in claim.pattern.finditer(sentence):
        outside = sentence[: match.start()] + " " + sentence[match.end():]
        if not REJECTION.search(outside):
            return True
    return False


def asserted(question_id: str, answer: str) -> list[Claim]:
    """The known mistakes this answer asserts, in the order they are listed.

    Sentences are cut to MAX_SENTENCE characters: some patterns look ahead over the whole
    sentence, which costs time growing with the square of its length, and an answer of one
    20,000-character "sentence" must still grade in milliseconds.
    """
    listed = _claims().get(question_id, ())
    if not listed:
        return []
    sentences = [s[:MAX_SENTENCE] for s in text.sentences(answer) or [answer]]
    return [c for c in listed if any(sentence_asserts(c, s) for s in sentences)]

"""What the grader measures in one answer, by meaning where meaning matters.

Relevance and key-point coverage come from sentence embeddings (``chains.embeddings``):
an answer about a bake sale shares no meaning with a question about a deadline, whatever
STAR words it uses, and a security answer that says "rotate the signing keys" covers
"key rotation" without sharing a word. STAR parts are recognised the same way, by how
close a sentence is to what a situation, an action or a result says, so "In 2022 I was
the tech lead on our payments API" is a situation though it contains no stock phrase.
Surface counts (numbers, fillers, "I" against "we") stay, as the evidence behind remarks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from chains.embeddings import embed
from chains.grading import misconceptions, references, text, themes
from chains.schemas import Question

# What each STAR part says, in a few ways; a sentence close to any of them counts.
STAR_PROTOTYPES: dict[str, tuple[str, ...]] = {
    "situation": (
        "At my previous company I was working on a team that owned an important project.",
        "In 2022 I was the lead on a product at a startup, and we had a problem with a customer.",
        "Last year our service had a serious outage during a launch.",
    ),
    "task": (
        "My responsibility was to fix it before the deadline.",
        "I had to deliver the project on time with a small team.",
        "The goal was to reduce the cost without losing customers.",
    ),
    "action": (
        "I decided to talk to each stakeholder and I wrote a plan.",
        "I built a prototype, measured it and rolled it out gradually.",
        "I set up a meeting, proposed a compromise and split the work.",
    ),
    "result": (
        "As a result, latency dropped and the customer renewed the contract.",
        "In the end we shipped on time and the error rate fell by half.",
        "The outcome was that revenue grew and the team adopted the change.",
    ),
    "reflection": (
        "I learned that next time I would ask for help earlier.",
        "Looking back, I would do it differently and involve the team sooner.",
        "Since then I always write down the decision and the reasons for it.",
    ),
}
SITUATION_CUE = re.compile(r"\b(19|20)\d\d\b|\b(last|this) (year|quarter|month|spring|summer|autumn|fall|winter)\b"
                           r"|\bwhen i (was|joined|worked)\b|\bat my (last|previous|current|first) \w+")
ACTION_CUE = re.compile(
    r"\bi (?!was\b|am\b|think\b|guess\b|feel\b|believe\b|would\b|don'?t\b|do\b|have\b|had\b|mean\b|hope\b"
    r"|wanted\b|want\b|just\b|really\b|try\b|know\b|never\b|can\b|could\b)([a-z]+ed|built|wrote|led|set|ran|took"
    r"|made|met|spoke|sat|drove|chose|began|brought|sought|found|held|put|went|gave|got|split|cut|kept|sent|told"
    r"|taught|rewrote|shipped|broke|dug|read|thought|won|paid|pushed|pulled|started|asked|called|moved)\b")
RESULT_CUE = re.compile(r"\b(as a result|in the end|ended up|the outcome|which (cut|reduced|saved|raised|brought))\b"
                        r"|\b(reduc|increas|improv|dropp|doubl|halv|grew|cut|saved|fell|rose|shipped|launched|closed"
                        r"|renewed|went from)\w*\b[^.]{0,60}\d")
TASK_CUE = re.compile(r"\b(my (goal|task|job|responsibility|role|mandate) was"
                      r"|i was (responsible|asked|tasked|accountable)|i needed to|i had to|we needed to|we had to"
                      r"|the goal was|deadline|the challenge was|the problem was)\b")
REFLECTION_CUE = re.compile(r"\b(i learned|i learnt|lesson|next time|in hindsight|looking back|would do differently"
                            r"|taught me|since then)\b")
REASONING = re.compile(
    r"\b(because|trade-?offs?|however|instead|depends|downside|upside|cost|risk|alternatively|versus|vs\.?|"
    r"rather than|so that|which means|the reason|whereas|bottleneck|measure[ds]?|monitor\w*|benchmark\w*)\b")
# The markers of an explanation proper (a reason, a comparison): what "Explains why" needs.
EXPLAINING = re.compile(r"\b(because|trade-?offs?|instead|depends|downside|upside|alternatively|versus|vs\.?|"
                        r"rather than|so that|which means|the reason|whereas)\b")
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|my|me)\b")
FIRST_PLURAL = re.compile(r"\b(we|we're|we've|our|us)\b")
SPECIFIC_TERM = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][A-Za-z0-9]+(?:[A-Z][a-z0-9]+)*\b|\b[A-Z]{2,}\b")

# Cosine similarities of the static embedding: below LOW means unrelated, above HIGH a clear match.
POINT_LOW, POINT_HIGH = 0.25, 0.6
# A key point counts as matched, for the coverage feature of the score, above POINT_COVERED or with
# half its words. What the feedback *says* about a point is decided in chains.grading.claims.
POINT_COVERED = 0.4
# Best sentence cosine to a part's prototypes (static embedding scale): above it, the part is there.
# Set from the annotated set so strong stories rarely read as missing a part (docs/grading.md).
STAR_MATCH = 0.25


@dataclass(frozen=True)
class Signals:
    """The measurable facts behind every score and remark (tests and explanations read them)."""

    words: int
    sentence_count: int
    relevance: float
    point_similarity: tuple[float, ...]
    star: dict[str, bool]  # a STAR part (or reflection) matched: score features
    story_evidence: dict[str, tuple[float, bool]]  # per part, (best similarity, cue found): for the remarks
    numbers: int
    spelled_numbers: int
    specific_terms: int
    reasoning: int
    explaining: int
    i_count: int
    we_count: int
    fillers: int
    hedges: int
    vague_words: int
    unique_sentence_ratio: float
    compression: float
    lexical_coverage: float
    distinct_content_words: int
    shared_question_words: int
    covered_points: list[str]  # matched (a score feature); not what the feedback claims
    point_shares: tuple[float, ...]  # per key point, the share of its content words the answer uses
    mistakes: tuple[str, ...] = ()  # corrections of the known mistakes the answer asserts
    # The other question of the same role and kind whose own words the answer matches best, and by how
    # much better than the question asked (themes.py); None outside the bank or without content words.
    neighbour: themes.Neighbour | None = None
    # The share of a strong reference answer's content stems the answer uses (references.py), and
    # whether the question has one (otherwise its text and key points stood in).
    reference_share: float = 0.0
    has_reference: bool = False

    @property
    def coverage(self) -> float:
        """Mean key-point coverage in [0, 1]: similarity rescaled between unrelated and a clear match."""
        if not self.point_similarity:
            return 0.0
        scaled = [min(1.0, max(0.0, (s - POINT_LOW) / (POINT_HIGH - POINT_LOW))) for s in self.point_similarity]
        return sum(scaled) / len(scaled)

    @property
    def filler_rate(self) -> float:
        return 100 * (self.fillers + self.hedges) / max(self.words, 1)


@lru_cache(maxsize=1)
def _prototype_vectors() -> dict[str, np.ndarray]:
    return {part: embed(list(examples)) for part, examples in STAR_PROTOTYPES.items()}


def _story_evidence(sentences: list[str], vectors: np.ndarray, lowered: str) -> dict[str, tuple[float, bool]]:
    """Per STAR part and reflection: the best sentence's similarity to its prototypes, and whether a cue matched.

    The situation is looked for in the first third of the story, where it belongs. ``sentences`` is
    never empty: ``measure`` falls back to the whole answer.
    """
    prototypes = _prototype_vectors()
    best = {part: float((vectors @ proto.T).max()) for part, proto in prototypes.items()}
    best["situation"] = float((vectors[: max(1, len(sentences) // 3)] @ prototypes["situation"].T).max())
    cues = {"situation": bool(SITUATION_CUE.search(lowered)), "task": bool(TASK_CUE.search(lowered)),
            "action": len(ACTION_CUE.findall(lowered)) >= 2, "result": bool(RESULT_CUE.search(lowered)),
            "reflection": bool(REFLECTION_CUE.search(lowered))}
    return {part: (best[part], cues[part]) for part in prototypes}


def measure(question: Question, answer: str) -> Signals:
    """Measure an answer against its question (the answer is taken as the candidate wrote it)."""
    lowered = answer.lower()
    words = text.words(answer)
    sentences = text.sentences(answer) or [answer]
    vectors = embed([answer, question.text, *question.key_points, *sentences])
    whole, asked = vectors[0], vectors[1]
    points = vectors[2: 2 + len(question.key_points)]
    sentence_vectors = vectors[2 + len(question.key_points):]
    # A key point is covered by the sentence (or the whole answer) that says it best.
    candidates = np.vstack([whole[None, :], sentence_vectors])
    point_similarity = tuple(float(v) for v in (points @ candidates.T).max(axis=1))
    normalised = [" ".join(text.words(s)) for s in sentences]
    story = _story_evidence(sentences, sentence_vectors, lowered)
    answer_stems = text.content_stems(answer)
    reference = references.share(question, answer_stems)
    point_stems = [text.content_stems(p) for p in question.key_points]
    shares = [len(stems & answer_stems) / len(stems) if stems else 0.0 for stems in point_stems]
    lexical = [share for share, stems in zip(shares, point_stems, strict=True) if stems]
    covered = [p for p, sim, share in zip(question.key_points, point_similarity, shares, strict=True)
               if sim >= POINT_COVERED or share >= 0.5]
    asked_stems = text.content_stems(question.text).union(*point_stems)
    return Signals(
        words=len(words),
        sentence_count=len(sentences),
        relevance=float(whole @ (asked + points.mean(axis=0)) / max(np.linalg.norm(asked + points.mean(axis=0)),
                                                                     1e-9)),
        point_similarity=point_similarity,
        star={part: sim >= STAR_MATCH or cue for part, (sim, cue) in story.items()},
        story_evidence=story,
        numbers=len(text.NUMBER.findall(lowered)),
        spelled_numbers=len(text.SPELLED_NUMBER.findall(lowered)),
        specific_terms=len(set(SPECIFIC_TERM.findall(answer))),
        reasoning=len(REASONING.findall(lowered)),
        explaining=len(EXPLAINING.findall(lowered)),
        i_count=len(FIRST_PERSON.findall(lowered)),
        we_count=len(FIRST_PLURAL.findall(lowered)),
        fillers=len(text.FILLERS.findall(lowered)),
        hedges=len(text.HEDGES.findall(lowered)),
        vague_words=len(text.VAGUE.findall(lowered)),
        unique_sentence_ratio=len(set(normalised)) / max(len(normalised), 1),
        compression=text.compression_ratio(answer),
        lexical_coverage=sum(lexical) / len(lexical) if lexical else 0.0,
        distinct_content_words=len({w for w in words if w not in text.STOPWORDS}),
        shared_question_words=len(answer_stems & asked_stems),
        covered_points=covered,
        point_shares=tuple(shares),
        mistakes=tuple(claim.correction for claim in misconceptions.asserted(question.id, answer)),
        neighbour=themes.nearest_neighbour(question, answer),
        reference_share=reference[0],
        has_reference=reference[1],
    )

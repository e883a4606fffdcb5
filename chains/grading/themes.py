"""Which question of its role an answer speaks to, judged by the words that set each question apart.

Why this beside the sentence embedding: a story prepared for another behavioral question of the
same role ("a conflict between design and engineering leadership", told in reply to "presenting
your design work to sales") uses the role's whole vocabulary, so its embedding sits about as
close to the question asked as to the one it answers. On 39 such stories written blind for the
training part, comparing the answer's embedding with the bank's questions caught 12, and it told
8 genuine training stories that they answered another question. What tells them apart is whether
the answer speaks of what this question, and not its neighbours, is about. Each question's
content words (its text counting double, then its key points) are weighted by how rare they are
among questions of its kind (IDF, so "audience" and "slowing" count and "team" hardly does), and
an answer matches a word as closely as its nearest word on the static embedding. The margin of the
best neighbour over the question asked separates those 39 stories from the genuine training
stories with an AUC of 0.93 (the contextual MiniLM on whole answers: 0.84); with the thresholds in
``nonanswers`` it catches 18 of them and tells no genuine training answer it answers another
question. The other half read, word for word, like answers to the question asked: telling them
apart takes a reader who follows the story.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from chains.bank import load_bank
from chains.embeddings import DIMENSIONS, embed
from chains.grading import text
from chains.schemas import Kind, Question


@dataclass(frozen=True)
class _Peers:
    """The questions of one role and kind, their words stacked for one matrix product."""
    ids: tuple[str, ...]
    vectors: np.ndarray  # one row per (question, word)
    weights: np.ndarray  # per row, the word's IDF (doubled for a word of the question itself)
    starts: np.ndarray  # the first row of each question


ASKED_WORD_WEIGHT = 2.0  # a word of the question itself counts double a word only its key points use


@lru_cache(maxsize=1 << 13)  # 8,192 words of 1 KB: the words answers keep using stay, rare ones cycle
def _word_vector(word: str) -> np.ndarray:
    return embed([word])[0]


def word_vectors(words: list[str]) -> np.ndarray:
    """One embedding row per word, each word embedded alone (cached: answers reuse most of their words)."""
    return np.stack([_word_vector(w) for w in words]) if words else np.zeros((0, DIMENSIONS), dtype=np.float32)


def _question_words(question: Question) -> list[str]:
    return text.content_words(text.asked(question))


@lru_cache(maxsize=1)
def _idf() -> dict[Kind, dict[str, float]]:
    questions = load_bank().questions
    idf: dict[Kind, dict[str, float]] = {}
    for kind in {q.kind for q in questions}:
        of_kind = [q for q in questions if q.kind == kind]
        counts = Counter(w for q in of_kind for w in _question_words(q))
        idf[kind] = {w: math.log(len(of_kind) / n) for w, n in counts.items()}
    return idf


@lru_cache(maxsize=64)
def _peers(role: str, kind: Kind) -> _Peers:
    questions = [q for q in load_bank().questions if q.role == role and q.kind == kind]
    words = [_question_words(q) for q in questions]
    flat = [w for ws in words for w in ws]
    asked = [w in text.content_words(q.text) for q, ws in zip(questions, words, strict=True) for w in ws]
    idf = _idf()[kind]
    weights = [idf[w] * (ASKED_WORD_WEIGHT if in_question else 1.0) for w, in_question in zip(flat, asked, strict=True)]
    return _Peers(ids=tuple(q.id for q in questions), vectors=embed(flat), weights=np.array(weights, dtype=np.float32),
                  starts=np.cumsum([0] + [len(ws) for ws in words[:-1]]))


@dataclass(frozen=True)
class Neighbour:
    """The other question of the same role and kind whose words an answer matches best."""
    question_id: str
    margin: float  # how much better than the question asked, in [-1, 1] (above 0: the neighbour fits better)


def _matches(peers: _Peers, answer_vectors: np.ndarray) -> np.ndarray:
    nearest = (peers.vectors @ answer_vectors.T).max(axis=1)
    return np.add.reduceat(peers.weights * nearest, peers.starts) / np.add.reduceat(peers.weights, peers.starts)


def _match(question: Question, answer_vectors: np.ndarray) -> float | None:
    peers = _peers(question.role, question.kind)
    if question.id not in peers.ids:
        return None
    return float(_matches(peers, answer_vectors)[peers.ids.index(question.id)])


def nearest_neighbour(question: Question, answer: str) -> Neighbour | None:
    """None for a question outside the bank (a model-written one) or an answer without content words."""
    peers = _peers(question.role, question.kind)
    answer_words = text.content_words(answer)
    if question.id not in peers.ids or len(peers.ids) < 2 or not answer_words:
        return None
    matches = _matches(peers, word_vectors(answer_words))
    own = peers.ids.index(question.id)
    asked = float(matches[own])
    matches[own] = -np.inf
    best = int(matches.argmax())
    return Neighbour(peers.ids[best], float(matches[best]) - asked)


def margin_over(question: Question, rival: Question, answer: str) -> float | None:
    """How much better a rival question of any role or kind matches the answer's words than the one asked."""
    answer_words = text.content_words(answer)
    if not answer_words:
        return None
    answer_vectors = word_vectors(answer_words)
    asked, theirs = _match(question, answer_vectors), _match(rival, answer_vectors)
    return None if asked is None or theirs is None else theirs - asked


def prepare() -> None:
    """Stack every role's question words now, so no role's first answer pays for it (a few ms each)."""
    for question in load_bank().questions:
        _peers(question.role, question.kind)

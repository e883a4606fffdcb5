"""Pure metric functions, each checkable on fixtures with known answers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from chains.grading.text import content_stems


def mean_absolute_error(predicted: Sequence[float], truth: Sequence[float]) -> float:
    if len(predicted) != len(truth) or not truth:
        raise ValueError("need two equally long, non-empty sequences")
    return sum(abs(p - t) for p, t in zip(predicted, truth, strict=True)) / len(truth)


def clustered_mean_interval(values: Sequence[float], clusters: Sequence[str], confidence: float = 0.95,
                            resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval for the mean of values that come in clusters.

    Answers to one question share its difficulty, so they are not independent draws: resampling
    single answers would give too narrow an interval. Whole clusters (questions) are resampled
    instead, which keeps the stated coverage (tests/test_eval_metrics.py simulates it). The seed
    is fixed, so the same report always shows the same interval.
    """
    if len(values) != len(clusters) or not values:
        raise ValueError("need one cluster per value, and at least one value")
    names = sorted(set(clusters))
    index = {name: i for i, name in enumerate(names)}
    sums, counts = np.zeros(len(names)), np.zeros(len(names))
    for value, cluster in zip(values, clusters, strict=True):
        sums[index[cluster]] += value
        counts[index[cluster]] += 1
    picks = np.random.default_rng(seed).integers(0, len(names), (resamples, len(names)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (ties share the mean of their positions), as Spearman's rho requires."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    n = len(x)
    if n < 2 or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None  # a constant series has no rank order to agree with
    return sxy / math.sqrt(sxx * syy)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks); None when undefined."""
    return pearson(_ranks(x), _ranks(y))


def note_overlap(model_notes: Sequence[str], recruiter_notes: Sequence[str]) -> float | None:
    """F1 of content-word overlap between the model's and the recruiter's notes.

    None when the recruiter wrote nothing for this list (nothing to agree with).
    """
    truth = set().union(*(content_stems(n) for n in recruiter_notes)) if recruiter_notes else set()
    if not truth:
        return None
    guess = set().union(*(content_stems(n) for n in model_notes)) if model_notes else set()
    if not guess:
        return 0.0
    hits = len(truth & guess)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(guess), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams (Li et al., 2016); 1.0 means no n-gram repeats."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.lower().split()
        grams.extend(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def dispersion(vectors: Sequence[Sequence[float]]) -> float:
    """Mean pairwise cosine distance: 0 for identical questions, higher for a spread-out set."""
    pairs = list(combinations(vectors, 2))
    if not pairs:
        return 0.0
    return sum(1 - cosine(a, b) for a, b in pairs) / len(pairs)


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None

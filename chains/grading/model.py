"""The fitted scoring model: signals → features → a 1-10 score, with weights learnt from people.

The weights in ``weights.json`` are fitted by ``python -m tasks.evaluation.fit_grader`` on the
training part of the annotated set (non-negative least squares with a ridge penalty, one model
per question kind), so the score follows how recruiters weigh substance, structure and
delivery rather than constants someone chose. Every feature is oriented so that more is better
and every weight is non-negative: removing a result, the numbers or half an answer can only
lower the score, never raise it.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from chains.grading.signals import Signals
from chains.schemas import Kind, Level

WEIGHTS = Path(__file__).with_name("weights.json")
LENGTH_TARGET: dict[str, tuple[int, int]] = {"junior": (60, 300), "mid": (90, 350), "senior": (110, 420)}

COMMON = ("bias", "negative_bias", "relevance", "coverage", "covered_share", "relevant_coverage",
          "lexical_coverage", "length", "words", "vocabulary", "sentences", "numbers", "specific_terms",
          "reasoning", "fluency", "no_hedges", "precise", "concise")
FEATURES: dict[str, tuple[str, ...]] = {
    "technical": (*COMMON, "reference_share"),
    "behavioral": (*COMMON, "situation", "task", "action", "result", "reflection", "ownership"),
}


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def feature_values(signals: Signals, kind: Kind, level: Level) -> dict[str, float]:
    """Every feature in [0, 1], higher meaning a better answer."""
    low, high = LENGTH_TARGET[level]
    relevance = _unit((signals.relevance - 0.2) / 0.5)
    covered_share = len(signals.covered_points) / max(len(signals.point_similarity), 1)
    values = {
        "bias": 1.0,
        "negative_bias": -1.0,  # with "bias", lets a non-negative fit find a negative intercept
        "relevance": relevance,
        "coverage": signals.coverage,
        "covered_share": covered_share,
        "relevant_coverage": relevance * signals.coverage,
        "lexical_coverage": signals.lexical_coverage,
        "length": _unit(signals.words / low),
        "words": min(1.0, math.log1p(signals.words) / math.log(400)),
        "vocabulary": min(1.0, math.log1p(signals.distinct_content_words) / math.log(200)),
        "sentences": min(signals.sentence_count, 12) / 12,
        "no_hedges": 1 - min(signals.hedges, 5) / 5,
        # Vague words ("stuff", "basically", "always") per word: a weak answer's padding.
        "precise": 1 - min(10 * signals.vague_words / max(signals.words, 1), 1.0),
        "numbers": min(signals.numbers, 4) / 4,
        "specific_terms": min(signals.specific_terms, 5) / 5,
        "reasoning": min(signals.reasoning, 3) / 3,
        "fluency": 1 - min(signals.filler_rate, 10) / 10,
        "concise": 1 - _unit((signals.words - 2 * high) / (2 * high)),
    }
    if kind == "technical":
        # Without a reference answer (a model-written question) the question's own words stood in; their
        # share runs higher, so it is brought to the references' scale (fitted beside the weights).
        scale = 1.0 if signals.has_reference else _reference_fallback_scale()
        values["reference_share"] = _unit(signals.reference_share * scale)
    if kind == "behavioral":
        values.update({part: float(signals.star[part]) for part in ("situation", "task", "action", "result",
                                                                     "reflection")})
        mentions = signals.i_count + signals.we_count
        values["ownership"] = signals.i_count / mentions if mentions else 0.0
    return values


@lru_cache(maxsize=1)
def _weights() -> dict[str, dict[str, float]]:
    return json.loads(WEIGHTS.read_text(encoding="utf-8"))["weights"]


@lru_cache(maxsize=1)
def _calibration() -> dict[str, dict[str, float]]:
    return json.loads(WEIGHTS.read_text(encoding="utf-8")).get("calibration", {})


@lru_cache(maxsize=1)
def _reference_fallback_scale() -> float:
    return float(json.loads(WEIGHTS.read_text(encoding="utf-8")).get("reference_fallback_scale", 1.0))


def raw_score(signals: Signals, kind: Kind, level: Level) -> float:
    """The linear model's output, before calibration."""
    weights = _weights()[kind]
    values = feature_values(signals, kind, level)
    return float(sum(weights.get(name, 0.0) * values[name] for name in FEATURES[kind]))


def calibrate(raw: float, kind: Kind) -> float:
    """Undo the ridge penalty's pull toward the mean with a fitted stretch (slope > 0: order kept)."""
    c = _calibration().get(kind, {"slope": 1.0, "centre": 0.0, "shift": 0.0})
    return c["slope"] * (raw - c["centre"]) + c["centre"] + c["shift"]


def predict(signals: Signals, kind: Kind, level: Level) -> float:
    """The fitted score before rounding (1-10 scale, unclipped)."""
    return calibrate(raw_score(signals, kind, level), kind)


def design_matrix(rows: list[tuple[Signals, Level]], kind: Kind) -> np.ndarray:
    """The features of many answers as a matrix, in FEATURES order (for fitting)."""
    return np.array([[feature_values(s, kind, level)[name] for name in FEATURES[kind]] for s, level in rows])

"""What the feedback may say about key points and story parts: only what is likely true.

A key point "matched" by the embedding or by shared words is not a point the answer makes, and
a sentence near a "situation" prototype is not a situation: people who labelled 1,460 key points
and 240 stories of the annotated set (tasks/evaluation/labels) found the old rules' "Covers: X"
right for 72-74% of the points named, "Not yet covered: X" for 42-63%, "The story does not make
clear the X" for about half of the parts named and "You reflect on what you learned" for half
the stories told so. The answer as a whole says more than one sentence: a point or a part is far
likelier to be there in an answer the score model rates highly. So each remark has a logistic
model over its local evidence (word share and similarity for a key point; prototype similarity
and a cue for a story part) and the answer's fitted score, and is made only above a threshold
chosen on the training labels by cross-validation for a stated precision (``claims.json``,
written by ``python -m tasks.evaluation.fit_claims``). In between, the feedback says nothing.
The same chances make the relevance, coverage and structure sub-scores.
docs/grading.md has the figures on the held-out labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from chains.grading.signals import Signals
from chains.schemas import Kind

MODEL = Path(__file__).with_name("claims.json")
STORY_PARTS = ("situation", "task", "action", "result", "reflection")


def point_features(similarity: float, share: float, kind: Kind, predicted: float, on_topic: float) -> dict[str, float]:
    """The inputs of the key-point models (the fitter uses the same function). ``on_topic`` is the answer's
    relevance chance: a fluent story told to another question scores well, and only this says its points
    are not this question's, so the score also enters weighted by it."""
    score = (predicted - 5.5) / 3
    return {"similarity": similarity, "share": share, "technical": float(kind == "technical"), "score": score,
            "on_topic": on_topic, "score_on_topic": score * on_topic}


def story_features(similarity: float, cue: bool, predicted: float) -> dict[str, float]:
    """The inputs of a story part's model."""
    return {"similarity": similarity, "cue": float(cue), "score": (predicted - 5.5) / 3}


@lru_cache(maxsize=1)
def _models() -> dict[str, dict]:
    return json.loads(MODEL.read_text(encoding="utf-8"))


def probability(model: Mapping, features: Mapping[str, float]) -> float:
    z = model["intercept"] + sum(model["weights"][name] * value for name, value in features.items())
    return 1 / (1 + math.exp(-z))


def on_topic_features(s: Signals) -> dict[str, float]:
    """The inputs of the relevance model (all cheap: no field-word embedding). A neighbour question whose own
    words the answer matches better is what tells a story prepared for it (themes.py)."""
    return {"relevance": s.relevance, "best_point": max(s.point_similarity, default=0.0),
            "shared_words": min(s.shared_question_words, 10) / 10, "lexical_coverage": s.lexical_coverage,
            "better_neighbour": max(0.0, s.neighbour.margin) if s.neighbour else 0.0}


def on_topic(s: Signals, kind: Kind) -> float:
    """The chance that the answer addresses its question rather than another one (the relevance criterion)."""
    return probability(_models()["relevance"][kind], on_topic_features(s))


def point_chances(similarities: Sequence[float], shares: Sequence[float], kind: Kind, predicted: float,
                  on_topic: float) -> list[float]:
    """Per key point, the chance that the answer covers it (the coverage criterion is their mean)."""
    model = _models()["key_points"]["covered"]
    return [probability(model, point_features(sim, share, kind, predicted, on_topic))
            for sim, share in zip(similarities, shares, strict=True)]


def key_points(points: Sequence[str], similarities: Sequence[float], shares: Sequence[float], kind: Kind,
               predicted: float, on_topic: float) -> tuple[list[str], list[str]]:
    """(points to call covered, points to call not yet covered), in the question's order."""
    models = _models()["key_points"]
    covered, missing = [], []
    chances = point_chances(similarities, shares, kind, predicted, on_topic)
    for point, similarity, share, chance in zip(points, similarities, shares, chances, strict=True):
        if chance >= models["covered"]["threshold"]:
            covered.append(point)
        elif probability(models["missing"], point_features(similarity, share, kind, predicted, on_topic)) >= \
                models["missing"]["threshold"]:
            missing.append(point)
    return covered, missing


def part_chances(evidence: Mapping[str, tuple[float, bool]], predicted: float) -> dict[str, float]:
    """Per story part, the chance that the story makes it clear (the structure criterion is their mean)."""
    models = _models()["story"]
    return {part: probability(models[part], story_features(*evidence[part], predicted)) for part in STORY_PARTS}


def story(evidence: Mapping[str, tuple[float, bool]], predicted: float) -> tuple[list[str], list[str]]:
    """(parts to call clear, parts to call unclear), in STORY_PARTS order."""
    models = _models()["story"]
    clear, unclear = [], []
    for part, chance in part_chances(evidence, predicted).items():
        if chance >= models[part]["clear_at"]:
            clear.append(part)
        elif 1 - chance >= models[part]["unclear_at"] and not evidence[part][1]:  # with its cue ("last year",
            unclear.append(part)            # "I learned") a part was labelled clear in 89% of training stories
    return clear, unclear

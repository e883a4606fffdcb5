"""What the feedback says about each key point: "Covers" and "Not yet covered" only when likely true.

An answer that uses a key point's words, or has a sentence near it in the static embedding, has
not necessarily made the point: people who labelled 1,460 key points of annotated answers
(tasks/evaluation/points) found the old rule's "Covers: X" right for 72% of the points it named
and "Not yet covered: X" for 42-63%, worst on behavioral stories. The answer as a whole says
more than one sentence's similarity: a point is far likelier to be made in an answer the score
model rates highly. So each point gets two logistic models over its word share, its best
sentence similarity, the question kind and the answer's fitted score: the probability that it is
covered, and that it is missing or stated wrongly. A remark is made only above a threshold chosen
on the training labels by cross-validation for a stated precision (``points.json``, written by
``python -m tasks.evaluation.fit_points``); between the two, the feedback says nothing.
docs/grading.md has the figures on the held-out labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from chains.schemas import Kind

MODEL = Path(__file__).with_name("points.json")


def point_features(similarity: float, share: float, kind: Kind, predicted: float) -> dict[str, float]:
    """The inputs of both models for one key point (the fitter uses the same function)."""
    return {"similarity": similarity, "share": share, "technical": float(kind == "technical"),
            "score": (predicted - 5.5) / 3}


@lru_cache(maxsize=1)
def _model() -> dict[str, dict]:
    return json.loads(MODEL.read_text(encoding="utf-8"))["models"]


def probability(model: dict, features: dict[str, float]) -> float:
    z = model["intercept"] + sum(model["weights"][name] * value for name, value in features.items())
    return 1 / (1 + math.exp(-z))


def claims(key_points: Sequence[str], similarities: Sequence[float], shares: Sequence[float], kind: Kind,
           predicted: float) -> tuple[list[str], list[str]]:
    """(points to call covered, points to call not yet covered), in the question's order."""
    models = _model()
    covered, missing = [], []
    for point, similarity, share in zip(key_points, similarities, shares, strict=True):
        features = point_features(similarity, share, kind, predicted)
        if probability(models["covered"], features) >= models["covered"]["threshold"]:
            covered.append(point)
        elif probability(models["missing"], features) >= models["missing"]["threshold"]:
            missing.append(point)
    return covered, missing

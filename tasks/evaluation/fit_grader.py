"""Fit the offline grader's weights on the training part of the annotated set.

``python -m tasks.evaluation.fit_grader`` rewrites chains/grading/weights.json: non-negative least
squares with a ridge penalty chosen by cross-validation grouped by question (the mean over several
splits), one model per question kind, on the answers the model actually scores: adversarial
non-answers, genuine answers the non-answer rules already cap at 3, and answers asserting a known
mistake (capped at 4) are left out, because the rule and not the weights decides their score, and
fitting on them would bend the weights for everyone else. A pair of opposite constant features lets
the intercept take either sign. Non-negative weights on features oriented "more is better" keep the
score monotone: degrading an answer cannot raise it. A linear stretch, fitted by minimising the
training MAE of the rounded score, undoes the ridge's pull toward the mean. It also stores the scale
that brings a model-written question's share of its own words to the reference answers' scale
(``reference_fallback_scale``, read by model.py). Run it after the annotated set or the grader's
signals change, then `mockingbird eval`.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
from scipy.optimize import nnls

from chains.grading import measure, model, nonanswers, references, text
from chains.schemas import KINDS
from tasks.evaluation import annotated

RIDGES = (0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
REPEATS = 8  # one split's cross-validated MAE moves by a few hundredths with the split; average several
SLOPES = np.arange(0.9, 1.61, 0.05)
SHIFTS = np.arange(-1.0, 1.01, 0.1)


def _training_rows(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, targets, folds = [], [], []
    for item, question in annotated.load("train"):
        if question.kind != kind or item.adversarial is not None:
            continue
        signals = measure(question, item.answer)
        if nonanswers.detect(question, item.answer, signals) is None and not signals.mistakes:
            rows.append((signals, question.level))
            targets.append(item.score)
            folds.append([_fold(question.id, repeat) for repeat in range(REPEATS)])  # grouped by question
    return model.design_matrix(rows, kind), np.array(targets, float), np.array(folds)  # type: ignore[arg-type]


def _fold(question_id: str, repeat: int) -> int:
    return hashlib.sha256(f"{repeat}:{question_id}".encode()).digest()[0] % FOLDS


def _solve(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], ridge: float) -> np.ndarray:
    penalty = np.sqrt(ridge) * np.eye(x.shape[1])
    for constant in ("bias", "negative_bias"):
        penalty[names.index(constant), names.index(constant)] = 0.0  # the intercept is not shrunk
    weights, _ = nnls(np.vstack([x, penalty]), np.concatenate([y, np.zeros(x.shape[1])]))
    return weights


def _cross_validated_mae(x: np.ndarray, y: np.ndarray, folds: np.ndarray, names: tuple[str, ...],
                         ridge: float) -> float:
    """Mean absolute error of the rounded score over REPEATS grouped 5-fold splits (folds: one column each)."""
    errors = []
    for repeat, fold in ((r, f) for r in range(folds.shape[1]) for f in range(FOLDS)):
        train, test = folds[:, repeat] != fold, folds[:, repeat] == fold
        weights = _solve(x[train], y[train], names, ridge)
        raw = x[train] @ weights
        c = _stretch(raw, y[train])
        predicted = c["slope"] * (x[test] @ weights - c["centre"]) + c["centre"] + c["shift"]
        errors.extend(np.abs(np.clip(np.round(predicted), 1, 10) - y[test]))
    return float(np.mean(errors))


def _stretch(raw: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    centre = float(raw.mean())
    _, slope, shift = min(
        (float(np.abs(np.clip(np.round(a * (raw - centre) + centre + b), 1, 10) - truth).mean()), float(a), float(b))
        for a in SLOPES for b in SHIFTS)
    return {"slope": round(slope, 3), "centre": round(centre, 4), "shift": round(shift, 3)}


def fit(kind: str) -> tuple[dict[str, float], dict[str, float], int, float]:
    """Weights, calibration, training size and the ridge chosen by grouped cross-validation."""
    x, y, folds = _training_rows(kind)
    names = model.FEATURES[kind]
    ridge = min(RIDGES, key=lambda r: _cross_validated_mae(x, y, folds, names, r))
    weights = _solve(x, y, names, ridge)
    rounded = {name: round(float(w), 4) for name, w in zip(names, weights, strict=True)}
    raw = x @ np.array([rounded[name] for name in names])
    return rounded, _stretch(raw, y), len(y), ridge


def reference_fallback_scale() -> float:
    """Mean share of the reference answer's stems over mean share of the question's own (text and key points)
    in the technical training answers: what a model-written question's share is scaled by (model.py)."""
    with_reference, with_question = [], []
    for item, question in annotated.load("train"):
        if question.kind == "technical" and item.adversarial is None:
            answer = text.content_stems(item.answer)
            with_reference.append(references.share(question, answer)[0])
            with_question.append(references.own_words_share(question, answer))
    return round(float(np.mean(with_reference) / np.mean(with_question)), 3)


def main() -> None:
    weights, calibration, counts, ridges = {}, {}, {}, {}
    for kind in KINDS:
        weights[kind], calibration[kind], counts[kind], ridges[kind] = fit(kind)
    document = {"version": "fitted-" + "-".join(f"{k[0]}{counts[k]}" for k in KINDS), "ridge": ridges,
                "trained_on": counts, "weights": weights, "calibration": calibration,
                "reference_fallback_scale": reference_fallback_scale()}
    model.WEIGHTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    json.dump(document, sys.stdout, indent=2)


if __name__ == "__main__":
    main()

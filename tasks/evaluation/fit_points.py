"""Fit what the feedback may say about key points, on the training part of the point labels.

``python -m tasks.evaluation.fit_points`` rewrites chains/grading/points.json: two logistic
regressions (scikit-learn) over ``points.point_features``, one for "covered" and one for
"missing or wrong", each with the lowest probability threshold whose out-of-fold precision
(5-fold cross-validation grouped by question, as the split is) reaches its target. A remark
that is wrong costs more trust than a remark left out, so the targets are high: 90% for
"Covers", 85% for "Not yet covered". Run it after the labels, the signals or the score model
change (fit_grader first: the answer's fitted score is an input), then `mockingbird eval`.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

from chains.grading import points
from tasks.evaluation import point_labels

TARGETS = {"covered": 0.90, "missing": 0.85}
THRESHOLDS = np.arange(0.5, 0.96, 0.05)
FOLDS = 5


def _is(target: str, label: str) -> bool:
    return label == "covered" if target == "covered" else label in ("missing", "wrong")


def fit() -> dict[str, dict]:
    labelled = [p for p in point_labels.load("train") if p.genuine]
    names = list(points.point_features(0.0, 0.0, "technical", 5.5))
    x = np.array([list(points.point_features(p.similarity, p.share, p.question.kind, p.predicted).values())
                  for p in labelled])
    folds = np.array([sum(p.question.id.encode()) % FOLDS for p in labelled])
    models = {}
    for target, precision in TARGETS.items():
        y = np.array([_is(target, p.label) for p in labelled])
        out_of_fold = np.zeros(len(y))
        for fold in range(FOLDS):
            held = folds == fold
            out_of_fold[held] = LogisticRegression().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
        threshold = next((float(t) for t in THRESHOLDS if y[out_of_fold >= t].mean() >= precision), 0.95)
        said = out_of_fold >= threshold
        fitted = LogisticRegression().fit(x, y)
        models[target] = {
            "intercept": round(float(fitted.intercept_[0]), 4),
            "weights": {name: round(float(w), 4) for name, w in zip(names, fitted.coef_[0], strict=True)},
            "threshold": round(threshold, 2),
            "cross_validated": {"precision": round(float(y[said].mean()), 3),
                                "recall": round(float(said[y].mean()), 3)},
        }
    return models


def main() -> None:
    document = {"trained_on": len([p for p in point_labels.load("train") if p.genuine]), "models": fit()}
    points.MODEL.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    json.dump(document, sys.stdout, indent=2)


if __name__ == "__main__":
    main()

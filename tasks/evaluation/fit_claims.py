"""Fit what the feedback may say about key points and story parts, on the training labels.

``python -m tasks.evaluation.fit_claims`` rewrites chains/grading/claims.json: logistic regressions
(scikit-learn) over ``claims.point_features`` ("covered"; "missing or wrong") and
``claims.story_features`` (one per story part: "clear"), each remark with the lowest probability
threshold whose out-of-fold precision (5-fold cross-validation grouped by question, as the split is)
reaches its target; and per question kind the relevance sub-score's model, genuine answers against
the adversarial ones written to miss the question, fitted first because the key-point models read
its chance. A wrong remark costs more trust than one left out, so the targets are high: 90% for what
an answer does well, 85% for what it lacks. Run it after the labels, the signals or the score model
change (fit_grader first: the answer's fitted score is an input), then `mockingbird eval`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from chains.grading import claims, measure
from tasks.evaluation import annotated, remark_labels

PRAISE, CRITICISM = 0.90, 0.85
THRESHOLDS = np.arange(0.5, 0.96, 0.05)
FOLDS = 5


def _fit(x: np.ndarray, y: np.ndarray, groups: Sequence[str], names: list[str],
         remarks: dict[str, tuple[bool, float]]) -> dict:
    """One logistic model of y, and per remark the lowest threshold whose out-of-fold precision
    meets its target. A remark is (whether it states the opposite of y, its precision target):
    "unclear" is said when the chance that a part is *not* clear is high enough."""
    folds = np.array([sum(g.encode()) % FOLDS for g in groups])
    out_of_fold = np.zeros(len(y))
    for fold in range(FOLDS):
        held = folds == fold
        out_of_fold[held] = LogisticRegression().fit(x[~held], y[~held]).predict_proba(x[held])[:, 1]
    fitted = LogisticRegression().fit(x, y)
    model: dict = {"intercept": round(float(fitted.intercept_[0]), 4),
                   "weights": {n: round(float(w), 4) for n, w in zip(names, fitted.coef_[0], strict=True)},
                   "cross_validated": {}}
    for remark, (opposite, precision) in remarks.items():
        chance, truth = (1 - out_of_fold, ~y) if opposite else (out_of_fold, y)
        threshold = next((float(t) for t in THRESHOLDS
                          if (chance >= t).any() and truth[chance >= t].mean() >= precision), 1.0)
        said = chance >= threshold  # at 1.0 the remark is never made: no threshold kept its precision
        model[remark] = round(threshold, 2)
        model["cross_validated"][remark] = {
            "precision": round(float(truth[said].mean()), 3) if said.any() else None,
            "recall": round(float(said[truth].mean()), 3) if truth.any() else None}
    return model


def fit() -> dict:
    relevance = _relevance()  # first: the key-point models read its chance
    points = [p for p in remark_labels.load_points("train") if p.genuine]
    on_topic = [claims.probability(relevance[p.question.kind], claims.on_topic_features(p.signals)) for p in points]
    x = np.array([list(claims.point_features(p.similarity, p.share, p.question.kind, p.predicted, chance).values())
                  for p, chance in zip(points, on_topic, strict=True)])
    names = list(claims.point_features(0.0, 0.0, "technical", 5.5, 1.0))
    groups = [p.question.id for p in points]
    key_points = {
        "covered": _fit(x, np.array([p.label == "covered" for p in points]), groups, names,
                        {"threshold": (False, PRAISE)}),
        "missing": _fit(x, np.array([p.label in ("missing", "wrong") for p in points]), groups, names,
                        {"threshold": (False, CRITICISM)}),
    }
    stories = [s for s in remark_labels.load_stories("train") if s.genuine]
    story = {}
    for part in claims.STORY_PARTS:
        x = np.array([list(claims.story_features(*s.signals.story_evidence[part], s.predicted).values())
                      for s in stories])
        story[part] = _fit(x, np.array([s.labels[part] == "clear" for s in stories]), [s.question.id for s in stories],
                           list(claims.story_features(0.0, False, 5.5)),
                           {"clear_at": (False, PRAISE), "unclear_at": (True, CRITICISM)})
    return {"key_points": key_points, "story": story, "relevance": relevance}


def _relevance() -> dict[str, dict]:
    """Per kind, genuine answers against the adversarial ones written to miss the question (off-topic, another
    question), with balanced class weights: the criterion should say how far an answer looks like one that
    addresses its question, not how rare the others are."""
    models = {}
    for kind in ("technical", "behavioral"):
        rows = [(item, measure(question, item.answer)) for item, question in annotated.load("train")
                if question.kind == kind and item.adversarial in (None, "off-topic", "other-question")]
        x = np.array([list(claims.on_topic_features(s).values()) for _, s in rows])
        fitted = LogisticRegression(class_weight="balanced").fit(x, [item.adversarial is None for item, _ in rows])
        names = list(claims.on_topic_features(rows[0][1]))
        models[kind] = {"intercept": round(float(fitted.intercept_[0]), 4),
                        "weights": {n: round(float(w), 4) for n, w in zip(names, fitted.coef_[0], strict=True)}}
    return models


def main() -> None:
    document = fit()
    claims.MODEL.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    json.dump(document, sys.stdout, indent=2)


if __name__ == "__main__":
    main()

"""What the feedback says about key points is true of the answer, as people labelled it."""

from __future__ import annotations

import json

from chains import grading
from chains.grading import model, points
from tasks.evaluation import annotated, fit_grader, fit_points, point_labels


def test_key_point_remarks_are_true_on_the_held_out_labels() -> None:
    remarks = point_labels.measure_point_remarks("heldout")
    assert remarks.points > 700
    assert remarks.covers_said >= 150 and remarks.covers_true is not None and remarks.covers_true >= 0.85
    assert remarks.not_covered_said >= 20 and remarks.not_covered_true is not None and remarks.not_covered_true >= 0.9


def test_a_halting_answer_that_makes_every_point_is_not_told_it_misses_them() -> None:
    item, question = next((i, q) for i, q in annotated.load("train") if i.id == "ann-customer-success-004")
    feedback = grading.grade(question, item.answer)  # "um", "like": the embedding finds no sentence near a point
    assert not any(point in remark for remark in feedback.weaknesses + feedback.suggestions
                   for point in question.key_points)


def test_the_fitted_models_are_what_their_fitters_write() -> None:
    """A change to the signals or the labels must come with a refit (fit_grader, then fit_points)."""
    for kind in ("technical", "behavioral"):
        weights, calibration, _, _ = fit_grader.fit(kind)
        assert weights == model._weights()[kind] and calibration == model._calibration()[kind]
    stored = json.loads(points.MODEL.read_text(encoding="utf-8"))["models"]
    assert fit_points.fit() == stored

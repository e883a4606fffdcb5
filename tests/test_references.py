"""Reference answers: one per bank question, and a score feature for technical answers only."""

from __future__ import annotations

import json

import pytest

from chains.bank import load_bank
from chains.grading import measure, model, references, text
from tasks.evaluation import fit_grader


def test_every_bank_question_has_a_reference_answer_of_interview_length() -> None:
    answers = json.loads(references.REFERENCES.read_text(encoding="utf-8"))["answers"]
    bank = load_bank().questions
    assert set(answers) == {q.id for q in bank}
    assert all(90 <= len(answers[q.id].split()) <= 230 for q in bank)


def test_an_answer_that_says_what_a_strong_one_says_scores_higher() -> None:
    question = load_bank().by_id["backend-001"]
    strong = json.loads(references.REFERENCES.read_text(encoding="utf-8"))["answers"][question.id]
    names_the_points = " ".join(question.key_points) + "."
    assert measure(question, strong).reference_share > measure(question, names_the_points).reference_share
    assert model.predict(measure(question, strong), "technical", question.level) > \
        model.predict(measure(question, names_the_points), "technical", question.level)


def test_a_model_written_question_uses_its_own_words_at_the_fitted_scale() -> None:
    question = load_bank().by_id["backend-001"].model_copy(update={"id": "written-by-a-model"})
    answer = "I would add an index on the filtered columns, check the plan with EXPLAIN and cache hot reads."
    s = measure(question, answer)
    own = text.content_stems(text.asked(question))
    assert not s.has_reference
    assert s.reference_share == pytest.approx(len(own & text.content_stems(answer)) / len(own))
    value = model.feature_values(s, "technical", question.level)["reference_share"]
    assert value == pytest.approx(min(1.0, s.reference_share * model._reference_fallback_scale()))
    assert "reference_share" not in model.feature_values(s, "behavioral", question.level)


def test_the_stored_fallback_scale_is_what_the_fitter_computes() -> None:
    stored = json.loads(model.WEIGHTS.read_text(encoding="utf-8"))["reference_fallback_scale"]
    assert fit_grader.reference_fallback_scale() == pytest.approx(stored, abs=2e-3)
    assert 0.4 < stored < 1.0  # a strong answer has many more words than the points it covers

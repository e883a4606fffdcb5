"""Evaluation metrics on fixtures whose answers are known."""

from __future__ import annotations

import pytest

from tasks.evaluation import metrics


def test_mae_and_spearman_on_known_values() -> None:
    assert metrics.mean_absolute_error([1, 5, 9], [2, 5, 7]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ties get average ranks: x ranks [1.5,1.5,3,4], y ranks [1,2,3,4] -> rho = 0.9487
    assert metrics.spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9487, abs=1e-4)
    assert metrics.spearman([5, 5, 5], [1, 2, 3]) is None
    with pytest.raises(ValueError):
        metrics.mean_absolute_error([], [])


def test_note_overlap_rewards_agreeing_notes() -> None:
    recruiter = ["quantified the latency improvement", "clear ownership"]
    assert metrics.note_overlap(recruiter, recruiter) == pytest.approx(1.0)
    assert metrics.note_overlap(["talks about the weather"], recruiter) == 0.0
    partial = metrics.note_overlap(["latency improvement was measured"], recruiter)
    assert 0 < partial < 1
    assert metrics.note_overlap([], []) is None


def test_a_perfectly_repetitive_question_set_scores_lowest_diversity() -> None:
    varied = ["How do you design an idempotent payment API?", "Tell me about a conflict with a designer.",
              "How would you shard a growing Postgres table?", "Describe a time you missed a deadline."]
    repetitive = ["How do you design an idempotent payment API?"] * 4
    for n in (1, 2):
        assert metrics.distinct_n(repetitive, n) < metrics.distinct_n(varied, n)
        assert metrics.distinct_n(repetitive, n) == pytest.approx(1 / 4)
    same = [[0.6, 0.8, 0.0]] * 4
    spread = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.8, 0.0]]
    assert metrics.dispersion(same) == pytest.approx(0.0)
    assert metrics.dispersion(spread) > 0.5


def test_cosine_and_mean() -> None:
    assert metrics.cosine([1, 0], [0, 1]) == 0.0
    assert metrics.cosine([1, 1], [2, 2]) == pytest.approx(1.0)
    assert metrics.mean([None, 1.0, 3.0]) == 2.0 and metrics.mean([None]) is None

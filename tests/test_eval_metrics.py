"""Evaluation metrics on fixtures whose answers are known."""

from __future__ import annotations

import numpy as np
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


def test_the_mae_interval_over_questions_keeps_its_coverage() -> None:
    """Simulated held-out sets (answers in question clusters that share a difficulty): the 95%
    interval contains the true mean in about 95% of them. Treating every answer as independent,
    the same interval is too narrow and misses far more often."""
    rng = np.random.default_rng(1)
    truth, runs = 1.0, 400
    covered = naive_covered = 0
    for _ in range(runs):
        sizes = rng.integers(2, 6, 60)
        clusters = [f"q{i}" for i, size in enumerate(sizes) for _ in range(size)]
        difficulty = np.repeat(rng.normal(0, 0.6, len(sizes)), sizes)
        values = list(truth + difficulty + rng.normal(0, 0.5, len(clusters)))
        low, high = metrics.clustered_mean_interval(values, clusters, resamples=1000)
        covered += low <= truth <= high
        low, high = metrics.clustered_mean_interval(values, [str(i) for i in range(len(values))], resamples=1000)
        naive_covered += low <= truth <= high
    assert 0.92 <= covered / runs <= 0.98  # 0.94 here
    assert naive_covered / runs < 0.85  # 0.79 here
    with pytest.raises(ValueError):
        metrics.clustered_mean_interval([1.0], [])

"""The always-valid sequential rule (tasks.registry.sequential): the formula, and its error rates and power
when the real review policy is applied hourly for 14 days (2,000 simulated runs, vectorised)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, stats

from tasks import registry
from tasks.registry import sequential


def test_mixture_likelihood_ratio_matches_its_definition() -> None:
    """Lambda = integral of the normal likelihood ratio N(d; theta, V) / N(d; 0, V) over theta ~ N(0, tau^2)."""
    policy = sequential.Policy(tau=0.05)
    n, mean_a, mean_b, var = 80, 0.72, 0.66, 0.09
    squares = n * (mean_a**2 + var)  # sum of squared session shares with that mean and spread
    seen = sequential.evidence(n, n * mean_a, squares, n, n * mean_b, n * (mean_b**2 + var), policy)
    d, v = float(seen.difference), float(seen.variance)
    assert 0.0015 < v < 0.0025  # about 2 * 0.09 / 80, the variance of a difference of two means
    ratio, _ = integrate.quad(
        lambda t: (
            stats.norm.pdf(d, t, math.sqrt(v))
            / stats.norm.pdf(d, 0, math.sqrt(v))
            * stats.norm.pdf(t, 0, 0.05)
        ),
        -1,
        1,
    )
    assert float(seen.log_lr) == pytest.approx(math.log(ratio), rel=1e-6)


def test_the_confidence_sequence_excludes_zero_exactly_when_the_test_decides() -> None:
    policy = sequential.Policy()
    rng = np.random.default_rng(1)
    n = rng.integers(2, 400, 500)
    a, b = rng.uniform(0, 1, 500) * n, rng.uniform(0, 1, 500) * n
    seen = sequential.evidence(n, a, a * 0.9, n, b, b * 0.9, policy)
    rejects = seen.log_lr >= math.log(1 / policy.alpha)
    assert np.array_equal(rejects, np.abs(seen.difference) >= seen.half_width)
    assert 0 < rejects.mean() < 1


def test_decide_waits_for_exposure_and_retires_at_the_deadline() -> None:
    policy = sequential.Policy(min_sessions=30, min_hours=24, max_days=14)
    clear = dict(sum_a=29.0, sumsq_a=29.0, sum_b=0.0, sumsq_b=0.0)  # every session 👍 against every 👎
    assert sequential.decide(29, clear["sum_a"], clear["sumsq_a"], 29, 0, 0, 48, policy) == sequential.WAIT
    assert sequential.decide(30, 30, 30, 30, 0, 0, 23, policy) == sequential.WAIT
    assert sequential.decide(30, 30, 30, 30, 0, 0, 24, policy) == sequential.PROMOTE
    assert sequential.decide(30, 0, 0, 30, 30, 30, 24, policy) == sequential.ROLLBACK
    assert sequential.decide(30, 15, 7.5, 30, 15, 7.5, 14 * 24, policy) == sequential.RETIRE
    with pytest.raises(ValueError):
        sequential.Policy(alpha=1.5)


def _simulate(rates: tuple[float, float], runs: int = 2000, **options: Any) -> sequential.Simulation:
    """Hourly traffic for 14 days under the very policy ``registry.review`` applies (defaults, no AB_*
    overrides in the tests)."""
    return sequential.simulate(
        rates, per_hour=10, days=14, runs=runs, policy=registry.current_policy(), **({"seed": 7} | options)
    )


def test_aa_hourly_for_14_days_keeps_the_promise() -> None:
    result = _simulate((0.70, 0.70))
    assert result.better is None
    assert result.promoted <= 0.05 and result.rolled_back <= 0.05
    assert result.retired + result.promoted + result.rolled_back == pytest.approx(1.0)


@pytest.mark.parametrize("rates", [(0.70, 0.60), (0.60, 0.70)])
def test_ab_decides_for_the_better_arm(rates: tuple[float, float]) -> None:
    result = _simulate(rates, runs=1000)
    figures = result.as_dict()
    assert figures["power"] >= 0.8 and figures["wrong_decision"] <= 0.05
    assert result.median_hours_to_decision is not None and result.median_hours_to_decision <= 72


def test_sessions_as_units_survive_correlated_ratings() -> None:
    """Strongly correlated ratings within sessions (icc 0.5, 8 ratings each) still keep the promise."""
    result = _simulate((0.7, 0.7), runs=500, icc=0.5, ratings_per_session=8)
    assert result.promoted + result.rolled_back <= 0.05


def test_a_variant_that_falls_back_more_is_rolled_back_not_promoted() -> None:
    """Same 👍 rate on the turns it answers, but it fails 20% of turns: the rule counts that against it."""
    result = _simulate((0.7, 0.7), runs=300, fallback_rates=(0.2, 0.0))
    assert result.better == "baseline" and result.rolled_back >= 0.9 and result.promoted == 0.0

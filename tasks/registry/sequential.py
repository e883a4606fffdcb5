"""An always-valid sequential A/B test for the model registry's promotion decisions.

Why not a z-test: ``registry.review`` looks at the data every hour and acts on the first
"significant" result. A fixed-horizon test re-applied to growing data crosses its threshold
by chance sooner or later (in an A/A simulation, hourly for 14 days, a one-sided z-test at
0.05 promoted 36% of identical candidates and rolled back 32%). A *mixture sequential
probability ratio test* (mSPRT) keeps its error rate however often it is looked at:

    Johari, Koomen, Pekelis, Walsh, "Peeking at A/B Tests: Why it matters, and what to do
    about it", KDD 2017 (and "Always Valid Inference", Operations Research 70(3), 2022);
    the mixture martingale goes back to Robbins, "Statistical methods related to the law of
    the iterated logarithm", Ann. Math. Statist. 41 (1970).

With theta_hat the difference of the arms' means, V its variance and a normal mixing
distribution N(0, tau^2) over the true difference, the mixture likelihood ratio is

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * theta_hat^2 / (2 V (V + tau^2)))

Under "no difference" Lambda is a non-negative martingale with mean 1, so by Ville's
inequality P(Lambda ever reaches 1/alpha) <= alpha: rejecting the first time it does is a
two-sided test at level alpha under continuous monitoring (hourly looks are a subset), so
false promotions plus false rollbacks together stay below alpha. Inverting it gives an
always-valid confidence sequence for the difference (``half_width``).

Units are **sessions**, not ratings: the ratings within one session come from the same
person, question set and model and are correlated, so each session contributes one
observation (its 👍 share, a fallback turn counting as a failure; see ``tasks.registry``).
The arms' variances are estimated from those shares (plug-in, shrunk towards 1/4, the
largest variance a share can have, with the weight of two sessions so that an arm whose
every session was all 👍 does not claim zero variance).

Every function here is pure and works on numpy arrays as well as on plain numbers, so
``registry.review`` (one candidate, scalars) and ``simulate`` (thousands of runs at once)
call the very same ``decide``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, TypeAdapter, computed_field

WAIT, PROMOTE, ROLLBACK, RETIRE = 0, 1, 2, 3
DECISIONS = {WAIT: "wait", PROMOTE: "promote", ROLLBACK: "rollback", RETIRE: "retire"}
_PRIOR_VARIANCE, _PRIOR_WEIGHT = 0.25, 2.0


@dataclass(frozen=True)
class Policy:
    """The decision rule's parameters (what operators tune).

    alpha: the promise: P(any decision at all | the arms are equal) <= alpha, however
        often the rule is applied (false promotions + false rollbacks together).
    tau: the standard deviation of the mixing distribution over the true difference in
        👍 share; the test is most sensitive to differences of about this size (0.05 =
        5 points). It changes speed, never validity.
    min_sessions: sessions per arm before any decision (the normal approximation of the
        session means needs a few dozen; it also keeps one early burst from deciding).
    min_hours: hours since the split began before any decision (24 covers a daily cycle).
    max_days: after this long without a decision, "no difference" is declared and the
        candidate retired (it is not measurably better, so it is not worth the traffic).
    """

    alpha: float = 0.05
    tau: float = 0.05
    min_sessions: int = 30
    min_hours: float = 0.0
    max_days: float = 14.0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1")
        if self.tau <= 0:
            raise ValueError("tau must be positive")
        if self.min_sessions < 2:
            raise ValueError("min_sessions must be at least 2")
        if self.max_days <= 0 or self.min_hours < 0 or self.min_hours >= 24 * self.max_days:
            raise ValueError("need 0 <= min_hours < 24 * max_days")


@dataclass(frozen=True)
class Evidence:
    """What the test sees: the difference of the arms' session means and how sure it is."""

    difference: Any  # candidate mean share minus baseline mean share
    variance: Any  # estimated variance of ``difference``
    log_lr: Any  # log of the mixture likelihood ratio; a decision needs log(1 / alpha)
    half_width: Any  # the always-valid (1 - alpha) confidence sequence is difference +- half_width


def arm_variance(n: ArrayLike, total: ArrayLike, total_sq: ArrayLike) -> NDArray[np.float64]:
    """Variance of one session share in an arm from its sums, shrunk towards 1/4 (see the module)."""
    n_ = np.asarray(n, dtype=float)
    mean = np.asarray(total, dtype=float) / np.maximum(n_, 1.0)
    squares = np.maximum(np.asarray(total_sq, dtype=float) - n_ * mean**2, 0.0)
    return (squares + _PRIOR_WEIGHT * _PRIOR_VARIANCE) / np.maximum(n_ - 1.0 + _PRIOR_WEIGHT, 1.0)


def evidence(
    n_a: ArrayLike, sum_a: ArrayLike, sumsq_a: ArrayLike,  # arm A, the candidate
    n_b: ArrayLike, sum_b: ArrayLike, sumsq_b: ArrayLike,  # arm B, the baseline
    policy: Policy,
) -> Evidence:
    """The mSPRT statistic for arm A (candidate) against arm B (baseline) from per-session sums.

    ``n`` is the number of sessions, ``sum`` and ``sumsq`` the sums of their shares and of the
    squared shares. Arms with no session give zero evidence.
    """
    na, nb = np.maximum(np.asarray(n_a, float), 1.0), np.maximum(np.asarray(n_b, float), 1.0)
    difference = np.asarray(sum_a, float) / na - np.asarray(sum_b, float) / nb
    v = arm_variance(n_a, sum_a, sumsq_a) / na + arm_variance(n_b, sum_b, sumsq_b) / nb
    t2 = policy.tau**2
    log_lr = 0.5 * np.log(v / (v + t2)) + t2 * difference**2 / (2 * v * (v + t2))
    half = np.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / policy.alpha) + np.log((v + t2) / v)))
    return Evidence(difference, v, log_lr, half)


def decide(
    n_a: ArrayLike, sum_a: ArrayLike, sumsq_a: ArrayLike,  # arm A, the candidate
    n_b: ArrayLike, sum_b: ArrayLike, sumsq_b: ArrayLike,  # arm B, the baseline
    hours: ArrayLike,
    policy: Policy,
) -> NDArray[np.int_]:
    """WAIT, PROMOTE, ROLLBACK or RETIRE for each comparison (elementwise over arrays).

    PROMOTE / ROLLBACK when the mixture likelihood ratio reaches 1/alpha (the sign of the
    difference says which), after ``min_sessions`` per arm and ``min_hours``; RETIRE once
    ``max_days`` have passed without either; WAIT otherwise.
    """
    seen = evidence(n_a, sum_a, sumsq_a, n_b, sum_b, sumsq_b, policy)
    h = np.asarray(hours, float)
    enough = (
        (np.asarray(n_a) >= policy.min_sessions)
        & (np.asarray(n_b) >= policy.min_sessions)
        & (h >= policy.min_hours)
    )
    significant = enough & (seen.log_lr >= math.log(1 / policy.alpha))
    out = np.where(significant, np.where(seen.difference > 0, PROMOTE, ROLLBACK), WAIT)
    return np.where((out == WAIT) & (h >= 24 * policy.max_days), RETIRE, out).astype(int)


# ── simulation ──────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Simulation:
    """How the policy fares on simulated traffic (candidate is arm A, baseline arm B)."""

    rates: tuple[float, float]
    fallback_rates: tuple[float, float]
    per_hour: int
    days: float
    runs: int
    ratings_per_session: float
    icc: float
    policy: Policy
    promoted: float  # share of runs
    rolled_back: float
    retired: Annotated[float, Field(serialization_alias="retired_no_difference")]  # after max_days
    undecided: float  # still waiting when the simulation ended (days < max_days)
    median_hours_to_decision: float | None  # over runs that promoted or rolled back

    @property
    def better(self) -> str | None:
        """Which arm is truly better, counting fallbacks as failures (None when equal)."""
        a = self.rates[0] * (1 - self.fallback_rates[0])
        b = self.rates[1] * (1 - self.fallback_rates[1])
        return None if math.isclose(a, b) else ("candidate" if a > b else "baseline")

    # The error rates, named for what they mean: with equal arms every decision is false; with a
    # better arm, deciding for it is the power and deciding against it the wrong decision.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def false_promotion(self) -> float | None:
        return self.promoted if self.better is None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def false_rollback(self) -> float | None:
        return self.rolled_back if self.better is None else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def better_arm(self) -> str | None:
        return self.better

    @computed_field  # type: ignore[prop-decorator]
    @property
    def power(self) -> float | None:
        return {None: None, "candidate": self.promoted, "baseline": self.rolled_back}[self.better]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wrong_decision(self) -> float | None:
        return {None: None, "candidate": self.rolled_back, "baseline": self.promoted}[self.better]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, by pydantic (``retired`` as ``retired_no_difference``); the error rates that
        do not apply (power with equal arms, false promotion with a better one) are left out."""
        return _SIMULATION.dump_python(self, mode="json", by_alias=True, exclude_none=True) | {
            "median_hours_to_decision": self.median_hours_to_decision
        }


_SIMULATION = TypeAdapter(Simulation)


def simulate(
    rates: tuple[float, float],
    *,
    per_hour: int,
    days: float,
    runs: int,
    policy: Policy,
    ratings_per_session: float = 3.0,
    icc: float = 0.1,
    fallback_rates: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> Simulation:
    """Run ``decide`` hourly on simulated sessions, all runs at once (vectorised over runs).

    Each hour each arm gets ``per_hour`` sessions. A session has 1 + Poisson(r - 1) rated
    turns (r = ``ratings_per_session``); its own 👍 probability is drawn from a beta
    distribution with the arm's mean rate and intra-session correlation ``icc`` (0: every
    rating independent), so ratings within a session are correlated as real ones are. Each
    turn falls back with the arm's fallback rate and then counts as a failure, as in
    ``registry``. A run stops at its first decision.
    """
    if not (0 <= icc < 1 and ratings_per_session >= 1 and per_hour >= 1 and runs >= 1):
        raise ValueError("need 0 <= icc < 1, ratings_per_session >= 1, per_hour >= 1, runs >= 1")
    rng = np.random.default_rng(seed)
    hours = int(round(24 * days))
    sums = np.zeros((2, 3, runs))  # arm x (n, sum, sumsq) x run
    decision = np.full(runs, WAIT)
    decided_at = np.full(runs, np.nan)
    concentration = (1 - icc) / icc if icc > 0 else None
    for hour in range(1, hours + 1):
        active = decision == WAIT
        if not active.any():
            break
        for arm in (0, 1):
            k = 1 + rng.poisson(ratings_per_session - 1, size=(runs, per_hour))
            p = rates[arm]
            if concentration is not None:
                p = rng.beta(p * concentration, (1 - p) * concentration, size=(runs, per_hour))
            own = k - rng.binomial(k, fallback_rates[arm])
            share = rng.binomial(own, p) / k
            sums[arm] += np.stack([np.full(runs, per_hour, float), share.sum(1), (share**2).sum(1)])
        now = decide(*sums[0], *sums[1], np.full(runs, hour), policy)
        fresh = active & (now != WAIT)
        decision[fresh] = now[fresh]
        decided_at[fresh] = hour
    acted = (decision == PROMOTE) | (decision == ROLLBACK)
    return Simulation(
        rates=(float(rates[0]), float(rates[1])),
        fallback_rates=(float(fallback_rates[0]), float(fallback_rates[1])),
        per_hour=per_hour,
        days=days,
        runs=runs,
        ratings_per_session=ratings_per_session,
        icc=icc,
        policy=policy,
        promoted=float(np.mean(decision == PROMOTE)),
        rolled_back=float(np.mean(decision == ROLLBACK)),
        retired=float(np.mean(decision == RETIRE)),
        undecided=float(np.mean(decision == WAIT)),
        median_hours_to_decision=float(np.median(decided_at[acted])) if acted.any() else None,
    )

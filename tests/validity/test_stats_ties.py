"""Size of the Cramer-von Mises, Anderson-Darling and Epps-Singleton tests on messy data.

Heavy ties (integers 0-3, Poisson counts) and unequal sizes (200 against 2,000 or 20,000;
30 against 40), where the SciPy-derived versions were invalid (sizes 0.07 to 1.0 at
alpha = 0.05). Each check runs seeded null repetitions of the default ``method="auto"`` and
requires the rejection rate at alpha = 0.05 within three binomial standard errors of 0.05:
the permutation p-values use B = 199 relabellings, whose level is exactly 10 / 200 = 0.05
for a statistic without ties among the relabellings, and at most that otherwise; the
Epps-Singleton chi-squared law, which ``"auto"`` uses from 1,001 values, is held to the same
band. A power check on a small shift guards against a test that passes by never rejecting.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard import stats as uv

pytestmark = pytest.mark.validity

ALPHA = 0.05
N_PERMUTATIONS = 199

Draw = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _integers(n: int, m: int, shift: float = 0.0) -> Draw:
    """Integers 0-3 (uniform); ``shift`` is the share of current values raised by one."""

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 4, m) + (rng.random(m) < shift)
        return rng.integers(0, 4, n).astype(float), y.astype(float)

    return draw


def _poisson(n: int, m: int, mean: float, shift: float = 0.0) -> Draw:
    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.poisson(mean, n).astype(float), rng.poisson(mean + shift, m).astype(float)

    return draw


def _continuous(n: int, m: int, sampler: str, shift: float = 0.0) -> Draw:
    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        sample = getattr(rng, sampler)
        return sample(size=n), sample(size=m) + shift

    return draw


def _rejection_rate(test: Callable, draw: Draw, n_reps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_reps):
        x, y = draw(rng)
        rejected += test(x, y, n_permutations=N_PERMUTATIONS, seed=rng).pvalue <= ALPHA
    return rejected / n_reps


# name: (test, null design, repetitions, shifted design for the power check)
CASES = {
    "cvm integers 0-3, 200 vs 2,000": (
        uv.cvm_test, _integers(200, 2000), 2000, _integers(200, 2000, 0.25)),
    "cvm Poisson(1), 200 vs 20,000": (
        uv.cvm_test, _poisson(200, 20_000, 1.0), 600, _poisson(200, 20_000, 1.0, 0.25)),
    "anderson integers 0-3, 200 vs 200": (
        uv.anderson_test, _integers(200, 200), 2000, _integers(200, 200, 0.35)),
    "anderson integers 0-3, 1,000 vs 1,000": (
        uv.anderson_test, _integers(1000, 1000), 2000, _integers(1000, 1000, 0.15)),
    "anderson Poisson(2), 200 vs 2,000": (
        uv.anderson_test, _poisson(200, 2000, 2.0), 2000, _poisson(200, 2000, 2.0, 0.3)),
    "epps_singleton normal, 200 vs 2,000": (
        uv.epps_singleton_test, _continuous(200, 2000, "normal"), 2000,
        _continuous(200, 2000, "normal", 0.3)),
    "epps_singleton normal, 200 vs 20,000": (
        uv.epps_singleton_test, _continuous(200, 20_000, "normal"), 500,
        _continuous(200, 20_000, "normal", 0.3)),
    "epps_singleton Poisson(1), 200 vs 2,000": (
        uv.epps_singleton_test, _poisson(200, 2000, 1.0), 2000, _poisson(200, 2000, 1.0, 0.3)),
    "epps_singleton exponential, 30 vs 40": (
        uv.epps_singleton_test, _continuous(30, 40, "exponential"), 4000,
        _continuous(30, 40, "exponential", 0.8)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_size_with_ties_and_unequal_sizes(name: str) -> None:
    test, null, n_reps, _ = CASES[name]
    low, high = binomial_band(ALPHA, n_reps)
    rate = _rejection_rate(test, null, n_reps, seed=11)
    assert low <= rate <= high, f"{name}: size {rate:.4f} outside [{low:.4f}, {high:.4f}]"


@pytest.mark.parametrize("name", list(CASES))
def test_power_with_ties_and_unequal_sizes(name: str) -> None:
    test, _, _, shifted = CASES[name]
    rate = _rejection_rate(test, shifted, 200, seed=12)
    assert rate > 0.5, f"{name}: power {rate:.3f}"


def test_cvm_many_size_on_tied_columns() -> None:
    # Each column is one repetition: 2,000 Poisson(2) columns, 200 against 2,000 rows.
    n_cols = 2000
    rng = np.random.default_rng(13)
    reference = uv.presort(rng.poisson(2.0, size=(200, n_cols)).astype(float))
    current = rng.poisson(2.0, size=(2000, n_cols)).astype(float)
    pvalues = uv.cvm_test_many(reference, current, n_permutations=N_PERMUTATIONS, seed=rng)[1]
    low, high = binomial_band(ALPHA, n_cols)
    assert low <= np.mean(pvalues <= ALPHA) <= high


def test_epps_singleton_asymptotic_size_from_1000_values() -> None:
    # "auto" switches to the chi-squared law here (over 1,000 values in the smaller sample,
    # over 200 distinct values); skewed lognormal data.
    n_reps = 1000
    rng = np.random.default_rng(14)
    rejected = 0
    for _ in range(n_reps):
        res = uv.epps_singleton_test(rng.lognormal(size=1001), rng.lognormal(size=10_000))
        assert res.n_permutations is None
        rejected += res.pvalue <= ALPHA
    low, high = binomial_band(ALPHA, n_reps)
    assert low <= rejected / n_reps <= high

"""Besag-Clifford sequential Monte Carlo p-values: validity, early stopping, the plain limit."""

from __future__ import annotations

import numpy as np
import pytest

from shiftguard.stats.montecarlo import sequential_pvalue


def _uniform_draws(rng):
    return lambda size: rng.random(size)


def test_pvalue_is_valid_when_observed_and_draws_are_exchangeable():
    rng = np.random.default_rng(0)
    reps = 20_000
    pvalues = np.array([sequential_pvalue(rng.random(), _uniform_draws(rng), 999)[0]
                        for _ in range(reps)])
    for a in (0.005, 0.01, 0.05, 0.1, 0.25, 0.5):
        se = np.sqrt(a * (1 - a) / reps)
        assert np.mean(pvalues <= a) <= a + 3 * se


def test_null_comparisons_stop_early_and_extreme_ones_use_every_draw():
    rng = np.random.default_rng(1)
    p, used = sequential_pvalue(0.5, _uniform_draws(rng), 100_000)
    assert used < 200 and p == pytest.approx(20 / used)
    p, used = sequential_pvalue(2.0, _uniform_draws(rng), 5000)
    assert used == 5000 and p == 1 / 5001


def test_equals_the_plain_pvalue_when_it_never_stops():
    draws = np.linspace(0, 1, 1000)
    p, used = sequential_pvalue(0.9, lambda size: draws[:size], 1000, stop_after=2000,
                                first_block=1000)
    assert used == 1000 and p == (1 + np.count_nonzero(draws >= 0.9)) / 1001


def test_float_near_ties_count_as_ties():
    p, _ = sequential_pvalue(1.0, lambda size: np.full(size, 1.0 - 1e-13), 99, stop_after=200)
    assert p == 1.0

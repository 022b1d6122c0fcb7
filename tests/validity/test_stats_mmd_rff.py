"""Empirical size of the random-Fourier-feature MMD (``mmd_test(..., n_features=D)``).

Its level is exact at every size (see :func:`shiftguard.stats.multivariate.mmd_test`):
on continuous data the rejection rate must lie within 3 binomial standard errors of alpha;
on tied data, where the statistic has atoms and the test is conservative, at most the
upper edge. Messy designs: binary and small-integer columns and unequal sizes; the pooled
sample above 1,000 rows, where the bandwidth comes from a subsample of the sorted rows, is
checked beside the exact kernel in ``test_stats_multivariate.py``. Power against the
exact kernel is measured by ``bench/drift/bench_mmd_power.py``."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.stats import _random_features as rf
from shiftguard.stats.multivariate import mmd_test

pytestmark = pytest.mark.validity

ALPHA = 0.05


def test_size_is_exact_on_continuous_data_with_unequal_sizes():
    # n = 20, m = 35, B = 99: p <= 0.05 has null probability exactly 0.05 (Besag and
    # Clifford's rule cannot stop with p <= 0.05 before 99 draws).
    n_reps = 2000
    rng = np.random.default_rng(41)
    rejected = sum(
        mmd_test(rng.exponential(size=(20, 2)), rng.exponential(size=(35, 2)),
                 n_features=32, n_permutations=99, seed=rng).pvalue <= ALPHA
        for _ in range(n_reps)
    )
    lo, hi = binomial_band(ALPHA, n_reps)
    assert lo <= rejected / n_reps <= hi


# (columns, rows of x, rows of y, distinct values per column)
_TIED_DESIGNS = [(1, 8, 8, 2), (2, 10, 25, 2), (3, 15, 12, 4)]


@pytest.mark.parametrize("path", ["float32", "float64"])
@pytest.mark.parametrize(("d", "n", "m", "levels"), _TIED_DESIGNS)
def test_pvalues_are_valid_on_small_tied_data(d, n, m, levels, path, monkeypatch):
    # Every permuted statistic tying with the observed one must be counted, or
    # P(p <= alpha) exceeds alpha; 1,000 data sets, B = 99, at four levels. The float64
    # products (above 65,535 pooled rows) are forced by asking for more bits than float32
    # sums of these sizes keep (at most 24 - 4 = 20).
    if path == "float64":
        monkeypatch.setattr(rf, "_MIN_FEATURE_BITS", 21)
    n_reps = 1000
    rng = np.random.default_rng(43 + d)
    pvalues = np.array([
        mmd_test(rng.integers(0, levels, size=(n, d)).astype(float),
                 rng.integers(0, levels, size=(m, d)).astype(float),
                 n_features=16, n_permutations=99, seed=rng).pvalue
        for _ in range(n_reps)
    ])
    for alpha in (0.01, 0.05, 0.1, 0.2):
        assert np.mean(pvalues <= alpha) <= binomial_band(alpha, n_reps)[1]

"""Epps-Singleton test: the pooled-covariance statistic, SciPy equality with equal sizes,
the choice between the permutation and the chi-squared p-value."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError

RTOL = 1e-9
# SciPy's pseudo-inverse and our eigendecomposition round differently, by about the
# condition number of the covariance (up to ~1e6 with six components and 20 values) * 2^-53.
RTOL_INVERSE = 1e-7


def _pooled_covariance_statistic(x: np.ndarray, y: np.ndarray, t: tuple[float, ...]) -> float:
    """n m / N d' S^+ d with S the within-sample covariance pooled over x and y, directly."""
    n, m = x.size, y.size
    total = n + m
    sigma = st.iqr(np.concatenate([x, y])) / 2
    s = np.asarray(t) / sigma
    gx = np.hstack([np.cos(np.outer(x, s)), np.sin(np.outer(x, s))])
    gy = np.hstack([np.cos(np.outer(y, s)), np.sin(np.outer(y, s))])
    pooled = (n * np.cov(gx.T, bias=True) + m * np.cov(gy.T, bias=True)) / total
    d = gx.mean(axis=0) - gy.mean(axis=0)
    w = n * m / total * float(d @ np.linalg.pinv(pooled, rcond=1e-10) @ d)
    if max(n, m) < 25:
        w /= 1 + total**-0.45 + 10.1 * (n**-1.7 + m**-1.7)
    return w


@pytest.mark.parametrize("n", [10, 20, 25, 40, 300])
def test_epps_singleton_equals_scipy_with_equal_sizes(n: int) -> None:
    rng = np.random.default_rng(n)
    for t in ((0.4, 0.8), (0.2, 0.5, 1.0)):
        for shift in (0.0, 0.7):
            x, y = rng.normal(size=n), rng.standard_t(3, size=n) + shift
            expected = st.epps_singleton_2samp(x, y, t=t)
            got = uv.epps_singleton_test(x, y, t=t, method="asymptotic")
            assert got.statistic == pytest.approx(expected.statistic, rel=RTOL_INVERSE)
            assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL_INVERSE)
            assert got.n_permutations is None


@pytest.mark.parametrize(("n1", "n2"), [(5, 9), (20, 24), (30, 40), (200, 2000), (2000, 150)])
def test_epps_singleton_statistic_uses_the_pooled_covariance(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + n2)
    x, y = rng.exponential(size=n1), rng.exponential(size=n2) + 0.2
    got = uv.epps_singleton_test(x, y, method="asymptotic")
    assert got.statistic == pytest.approx(_pooled_covariance_statistic(x, y, (0.4, 0.8)),
                                          rel=RTOL_INVERSE)
    assert got.pvalue == pytest.approx(st.chi2.sf(got.statistic, 4), rel=RTOL)
    swapped = uv.epps_singleton_test(y, x, method="asymptotic")
    assert swapped.statistic == pytest.approx(got.statistic, rel=RTOL)
    permuted = uv.epps_singleton_test(x, y, n_permutations=99, seed=0)
    assert permuted.statistic == pytest.approx(got.statistic, rel=RTOL)


def test_epps_singleton_drops_degenerate_directions_of_discrete_data() -> None:
    # Three distinct values: the covariance of the four components has rank 2.
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 3, 200).astype(float), rng.integers(0, 3, 2000).astype(float)
    got = uv.epps_singleton_test(x, y, method="asymptotic")
    assert got.statistic == pytest.approx(_pooled_covariance_statistic(x, y, (0.4, 0.8)),
                                          rel=RTOL_INVERSE)
    assert got.pvalue == pytest.approx(st.chi2.sf(got.statistic, 2), rel=RTOL)


@pytest.mark.usefixtures("plain_pvalues")
def test_epps_singleton_auto_method_and_seeds() -> None:
    rng = np.random.default_rng(4)
    small = rng.normal(size=200), rng.normal(size=20_000)
    a = uv.epps_singleton_test(*small, n_permutations=499, seed=1)
    assert a.n_permutations == 499
    assert a == uv.epps_singleton_test(*small, n_permutations=499, seed=1)
    assert a == uv.epps_singleton_test(*small, n_permutations=499,
                                       seed=np.random.default_rng(1))
    assert a == uv.epps_singleton_test(*small, (0.4, 0.8), "permutation", 499, 1)
    large = rng.normal(size=1001), rng.normal(size=1001)
    assert uv.epps_singleton_test(*large).n_permutations is None
    discrete = rng.integers(0, 4, 1001).astype(float), rng.integers(0, 4, 5000).astype(float)
    assert uv.epps_singleton_test(*discrete, n_permutations=99, seed=0).n_permutations == 99


def test_epps_singleton_samples_each_constant() -> None:
    # Each sample constant: the within-sample covariance is zero and W infinite; only the
    # observed split (of C(20, 10)) reaches it.
    x, y = np.zeros(10), np.ones(10)
    got = uv.epps_singleton_test(x, y, n_permutations=999, seed=0)
    assert got.statistic == np.inf
    assert got.pvalue == pytest.approx(1 / 1000)
    assert uv.epps_singleton_test(x, y, method="asymptotic").pvalue == 0.0


def test_epps_singleton_rejects_bad_points_and_a_zero_interquartile_range() -> None:
    # Input checks shared with the other tests: tests/stats/test_cvm.py.
    good = np.arange(10.0)
    with pytest.raises(ParameterError, match="t must be"):
        uv.epps_singleton_test(good, good, t=(0.4, -1.0))
    with pytest.raises(InputError, match="interquartile range"):
        uv.epps_singleton_test(np.r_[np.ones(9), 2.0], np.ones(10))

"""Kolmogorov-Smirnov tests and the presorted fast path: equality with SciPy, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError

RTOL = 1e-9


def _sample(rng: np.random.Generator, n: int, shift: float, ties: bool) -> np.ndarray:
    x = rng.normal(shift, 1.0, size=n)
    return np.round(2 * x) if ties else x


def _scipy_ks(x: np.ndarray, y: np.ndarray, alternative: str, method: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SciPy's exact->asymp fallback notice
        return st.ks_2samp(x, y, alternative=alternative, method=method)




KS_SIZES = [(1, 2), (3, 8), (5, 5), (20, 20), (30, 45), (64, 48), (100, 37), (250, 250),
            (600, 450), (3000, 2000), (10_001, 800), (20_000, 15_000)]


@pytest.mark.parametrize(("n1", "n2"), KS_SIZES)
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_ks_test_equals_scipy(n1: int, n2: int, alternative: str) -> None:
    rng = np.random.default_rng(n1 * 7919 + n2)
    for method in ("auto", "exact", "asymp"):
        if method == "exact" and n1 * n2 > 1e7:
            continue  # SciPy's own exact evaluation is too slow to be a test oracle here
        for ties in (False, True):
            for shift in (0.0, 0.3, 1.5):
                x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, shift, ties)
                expected = _scipy_ks(x, y, alternative, method)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    got = uv.ks_test(x, y, alternative=alternative, method=method)
                assert got.statistic == pytest.approx(expected.statistic, rel=RTOL, abs=0)
                assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL, abs=1e-300)


def test_ks_asymptotic_smirnov_region_equals_scipy() -> None:
    # Large samples with a clear shift land in kstwo's exact-Smirnov region (n d^2 >= 2.2),
    # which ks_test_many evaluates with its own compiled sum.
    rng = np.random.default_rng(5)
    for n, shift in [(20_000, 0.03), (50_000, 0.02), (12_000, 0.08), (30_000, 0.2)]:
        x, y = rng.normal(size=n), rng.normal(shift, size=n + 17)
        expected = st.ks_2samp(x, y)
        got = uv.ks_test(x, y)
        assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
        assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL, abs=1e-300)


def test_ks_exact_fallback_warns_like_scipy() -> None:
    # One-sided exact law with unequal sizes overflows past ~1,000 observations.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=900), rng.normal(size=700)
    with pytest.warns(RuntimeWarning, match="asymp"):
        got = uv.ks_test(x, y, alternative="less", method="exact")
    expected = _scipy_ks(x, y, "less", "exact")
    assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)


def test_ks_effect_size_is_wasserstein_over_reference_sd() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 2, size=300), rng.normal(1, 2, size=200)
    expected = st.wasserstein_distance(x, y) / np.std(x)
    assert uv.ks_test(x, y).effect_size == pytest.approx(expected, rel=1e-12)
    assert uv.ks_test(np.ones(5), np.ones(4)).effect_size == 0.0
    assert uv.ks_test(np.ones(5), np.arange(4.0)).effect_size == np.inf


# ---------------------------------------------------------------------- fast path


def test_presort_sorts_columns_with_nan_last_and_counts_valid() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 70))
    X[rng.random(X.shape) < 0.15] = np.nan
    sorted_cols = uv.presort(X)
    assert sorted_cols.values.shape == X.shape
    assert sorted_cols.values.flags.f_contiguous
    np.testing.assert_array_equal(sorted_cols.values, np.sort(X, axis=0))
    np.testing.assert_array_equal(sorted_cols.n_valid, (~np.isnan(X)).sum(axis=0))
    assert X.shape == (2000, 70) and np.isnan(X).any()  # input untouched


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
@pytest.mark.parametrize("method", ["auto", "asymp"])
def test_ks_test_many_equals_scipy_per_column_with_nan_and_ties(
    alternative: str, method: str
) -> None:
    rng = np.random.default_rng(6)
    R = rng.normal(size=(800, 8))
    C = rng.normal(0.15, size=(650, 8))
    for M in (R, C):
        M[:, 1] = np.round(M[:, 1])  # heavy ties
        M[:, 2] = np.round(M[:, 2] * 4) / 4
        M[rng.random(M.shape) < 0.1] = np.nan
    R[:795, 3] = np.nan  # tiny reference column
    C[:, 4] = R[:650, 4] + 3.0  # huge shift: p-value ~ 1e-200
    C[:, 5] = R[:650, 5]  # identical values
    reference = uv.presort(R)
    stats, pvalues = uv.ks_test_many(reference, C, alternative=alternative, method=method)
    for j in range(R.shape[1]):
        x, y = R[~np.isnan(R[:, j]), j], C[~np.isnan(C[:, j]), j]
        expected = _scipy_ks(x, y, alternative, method)
        assert stats[j] == pytest.approx(expected.statistic, rel=RTOL, abs=0)
        assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL, abs=1e-300)
    stats2, pvalues2 = uv.ks_test_many(reference, uv.presort(C), alternative, method)
    np.testing.assert_array_equal(stats, stats2)
    np.testing.assert_array_equal(pvalues, pvalues2)


def test_ks_test_many_large_columns_equal_scipy() -> None:
    rng = np.random.default_rng(7)
    R = rng.normal(size=(30_000, 4))
    C = rng.normal(size=(25_000, 4)) + np.array([0.0, 0.02, 0.05, 0.5])
    stats, pvalues = uv.ks_test_many(uv.presort(R), C)
    for j in range(4):
        expected = st.ks_2samp(R[:, j], C[:, j])
        assert stats[j] == pytest.approx(expected.statistic, rel=RTOL)
        assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL, abs=1e-300)


def test_ks_test_many_bad_input() -> None:
    reference = uv.presort(np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(InputError, match="reference.*presort"):
        uv.ks_test_many(np.zeros((50, 3)), np.zeros((50, 3)))
    with pytest.raises(InputError, match="current.*2 columns but the reference has 3"):
        uv.ks_test_many(reference, np.zeros((50, 2)))
    empty_col = np.zeros((50, 3))
    empty_col[:, 1] = np.nan
    with pytest.raises(InputError, match="current.*column 1 has no non-missing"):
        uv.ks_test_many(reference, empty_col)
    with pytest.raises(InputError, match="infinite"):
        uv.presort(np.array([[1.0], [np.inf]]))
    with pytest.raises(ParameterError, match="alternative"):
        uv.ks_test_many(reference, np.zeros((50, 3)), alternative="two_sided")
    with pytest.raises(ParameterError, match="method"):
        uv.ks_test_many(reference, np.zeros((50, 3)), method="permutation")


# ---------------------------------------------------------------- other numeric tests




@pytest.mark.parametrize(
    ("func", "kwargs"),
    [
        (uv.ks_test, {}),
        (uv.mannwhitney_test, {}),
    ],
)
def test_numeric_tests_reject_bad_input(func, kwargs) -> None:
    good = np.arange(10.0)
    with pytest.raises(InputError, match="'x'.*NaN"):
        func(np.r_[good, np.nan], good, **kwargs)
    with pytest.raises(InputError, match="'y'.*infinite"):
        func(good, np.r_[good, np.inf], **kwargs)
    with pytest.raises(InputError, match="'y'.*at least"):
        func(good, np.array([]), **kwargs)
    with pytest.raises(InputError, match="'x'.*expected numbers"):
        func(["a", "b", "c", "d", "e"], good, **kwargs)
    with pytest.raises(InputError, match="'x'.*1-D"):
        func(np.ones((5, 2)), good, **kwargs)


def test_numeric_tests_reject_bad_parameters() -> None:
    x = np.arange(10.0)
    with pytest.raises(ParameterError, match="alternative"):
        uv.ks_test(x, x, alternative="bigger")
    with pytest.raises(ParameterError, match="alternative"):
        uv.mannwhitney_test(x, x, alternative="two_sided")
    with pytest.raises(InputError, match="method.*one value in each sample"):
        uv.ks_test([1.0], [2.0], method="asymp")
    assert uv.ks_test([1.0], [2.0]).pvalue == st.ks_2samp([1.0], [2.0]).pvalue


# ---------------------------------------------------------------------- categorical


def test_ks_statistic_on_tiny_heavily_tied_samples_equals_scipy() -> None:
    # Ties across the samples, at the ends and in the middle exercise the merge's
    # end-of-tie-block logic; 150 seeds of 1-30 values drawn from {0, ..., 4}.
    for seed in range(150):
        rng = np.random.default_rng(seed)
        n1, n2 = rng.integers(1, 31, size=2)
        x = rng.integers(0, 5, size=n1).astype(float)
        y = rng.integers(0, 5, size=n2).astype(float)
        for alternative in ("two-sided", "less", "greater"):
            expected = st.ks_2samp(x, y, alternative=alternative)
            got = uv.ks_test(x, y, alternative=alternative)
            assert got.statistic == expected.statistic
            assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)




def test_fast_paths_on_real_data_equal_scipy() -> None:
    # scikit-learn's bundled diabetes data, split by the sex column: real ties and shifts.
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False).data
    male = data[:, 1] == data[:, 1].max()
    reference, current = data[male], data[~male]
    sorted_ref = uv.presort(reference)
    ks_stats, ks_p = uv.ks_test_many(sorted_ref, current)
    mw_stats, mw_p = uv.mannwhitney_test_many(sorted_ref, current)
    for j in range(data.shape[1]):
        ks = st.ks_2samp(reference[:, j], current[:, j])
        mw = st.mannwhitneyu(reference[:, j], current[:, j])
        assert ks_stats[j] == pytest.approx(ks.statistic, rel=RTOL)
        assert ks_p[j] == pytest.approx(ks.pvalue, rel=RTOL)
        assert mw_stats[j] == mw.statistic
        assert mw_p[j] == pytest.approx(mw.pvalue, rel=RTOL)
    assert ks_p[1] < 1e-100  # the split column itself

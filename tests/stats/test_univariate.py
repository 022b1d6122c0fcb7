"""Univariate two-sample tests: equality with SciPy, the presorted fast path, bad input."""

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


# ---------------------------------------------------------------------------------- KS

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


@pytest.mark.parametrize(("n1", "n2"), [(5, 7), (12, 19), (40, 60), (300, 250)])
@pytest.mark.parametrize("ties", [False, True])
def test_cvm_test_equals_scipy(n1: int, n2: int, ties: bool) -> None:
    rng = np.random.default_rng(n1 + 100 * n2)
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 + n2 > 60:
            continue
        for shift in (0.0, 0.8):
            x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, shift, ties)
            expected = st.cramervonmises_2samp(x, y, method=method)
            got = uv.cvm_test(x, y, method=method)
            assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
            assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)


@pytest.mark.parametrize(("n1", "n2"), [(8, 10), (40, 60), (300, 250)])
@pytest.mark.parametrize("ties", [False, True])
def test_anderson_test_equals_scipy_and_flags_clipping(n1: int, n2: int, ties: bool) -> None:
    rng = np.random.default_rng(n1 * 3 + n2)
    seen_inside = False
    for shift in np.linspace(0.0, 1.5, 12):
        x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, shift, ties)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            expected = st.anderson_ksamp([x, y], variant="midrank")
        got = uv.anderson_test(x, y)
        assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
        assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)
        if 0.001 < expected.pvalue < 0.25:
            seen_inside = True
            assert got.pvalue_clipped is None
        elif expected.pvalue <= 0.001:
            assert got.pvalue_clipped == "floor"
        else:
            assert got.pvalue_clipped == "cap"
    assert seen_inside


def test_anderson_permutation_pvalue_is_seeded_and_not_clipped() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=30), rng.normal(2.5, size=30)
    a = uv.anderson_test(x, y, method="permutation", n_permutations=1999, seed=3)
    b = uv.anderson_test(x, y, method="permutation", n_permutations=1999, seed=3)
    assert a == b
    assert a.pvalue == pytest.approx(1 / 2000)  # no relabelling beats a 2.5-sd shift
    assert a.pvalue_clipped is None and a.n_permutations == 1999


@pytest.mark.parametrize(("n1", "n2"), [(4, 6), (8, 7), (30, 45), (200, 150)])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mannwhitney_test_equals_scipy(n1: int, n2: int, alternative: str) -> None:
    rng = np.random.default_rng(n1 * 11 + n2)
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 * n2 > 2000:
            continue  # SciPy's exact law is slow to build for large samples
        for ties in (False, True):
            for continuity in (True, False):
                x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, 0.4, ties)
                expected = st.mannwhitneyu(x, y, use_continuity=continuity,
                                           alternative=alternative, method=method)
                got = uv.mannwhitney_test(x, y, alternative, method, continuity)
                assert got.statistic == expected.statistic
                assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)


@pytest.mark.parametrize(("n1", "n2"), [(6, 9), (25, 40), (300, 200)])
def test_epps_singleton_test_equals_scipy(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + n2)
    for t in ((0.4, 0.8), (0.2, 0.5, 1.0)):
        for shift in (0.0, 0.7):
            x, y = rng.normal(size=n1), rng.standard_t(3, size=n2) + shift
            expected = st.epps_singleton_2samp(x, y, t=t)
            got = uv.epps_singleton_test(x, y, t=t)
            assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
            assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)


@pytest.mark.parametrize(
    ("func", "kwargs"),
    [
        (uv.ks_test, {}),
        (uv.cvm_test, {}),
        (uv.anderson_test, {}),
        (uv.mannwhitney_test, {}),
        (uv.epps_singleton_test, {}),
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
    with pytest.raises(ParameterError, match="method"):
        uv.cvm_test(x, x, method="permutation")
    with pytest.raises(InputError, match="method.*one value in each sample"):
        uv.ks_test([1.0], [2.0], method="asymp")
    assert uv.ks_test([1.0], [2.0]).pvalue == st.ks_2samp([1.0], [2.0]).pvalue
    with pytest.raises(ParameterError, match="method"):
        uv.anderson_test(x, x, method="exact")
    with pytest.raises(ParameterError, match="n_permutations"):
        uv.anderson_test(x, x, method="permutation", n_permutations=0)
    with pytest.raises(ParameterError, match="t must be"):
        uv.epps_singleton_test(x, x, t=(0.4, -1.0))
    with pytest.raises(InputError, match="interquartile range"):
        uv.epps_singleton_test(np.r_[np.ones(9), 2.0], np.ones(10))
    with pytest.raises(InputError, match="single distinct value"):
        uv.anderson_test(np.ones(5), np.ones(6))


# ---------------------------------------------------------------------- categorical


def _table(x, y) -> np.ndarray:
    cats = np.unique(np.concatenate([x, y]))
    return np.vstack([[np.sum(x == c) for c in cats], [np.sum(y == c) for c in cats]])


def test_chi2_and_g_tests_equal_scipy() -> None:
    rng = np.random.default_rng(10)
    for k, n1, n2 in [(2, 30, 40), (3, 100, 80), (6, 500, 400), (12, 2000, 3000)]:
        for tilt in (0.0, 0.5):
            p = np.full(k, 1.0 / k)
            q = p + tilt * (np.arange(k) - (k - 1) / 2) / k**2
            x = rng.choice(k, size=n1, p=p)
            y = rng.choice(k, size=n2, p=q / q.sum())
            table = _table(x, y)
            chi2 = st.chi2_contingency(table, correction=False)
            g = st.chi2_contingency(table, correction=False, lambda_="log-likelihood")
            for got, expected in ((uv.chi2_test(x, y), chi2), (uv.g_test(x, y), g)):
                assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
                assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)
                v = np.sqrt(chi2.statistic / table.sum())
                assert got.effect_size == pytest.approx(v, rel=1e-12)
            counts = uv.chi2_test_counts(table[0], table[1])
            assert counts.statistic == uv.chi2_test(x, y).statistic
            assert counts.pvalue == uv.chi2_test(x, y).pvalue


def test_unseen_categories_stay_and_are_reported() -> None:
    x = np.array(["a", "b"] * 20)
    y = np.array(["a", "b", "c", "a", "d"] * 8)
    res = uv.chi2_test(x, y)
    assert res.unseen_categories == ("c", "d")
    table = _table(x, y)  # the unseen categories are columns of their own
    assert table.shape == (2, 4)
    assert res.statistic == pytest.approx(
        st.chi2_contingency(table, correction=False).statistic, rel=RTOL
    )
    assert res.to_dict()["unseen_categories"] == ["c", "d"]
    assert uv.g_test(x, y).unseen_categories == ("c", "d")
    by_position = uv.chi2_test_counts([20, 20, 0, 0], [16, 8, 8, 8])
    assert by_position.unseen_categories == (2, 3)
    named = uv.g_test_counts([20, 20, 0, 0], [16, 8, 8, 8], categories=["a", "b", "c", "d"])
    assert named.unseen_categories == ("c", "d")


def test_categories_empty_in_both_samples_are_ignored_and_one_category_gives_p_one() -> None:
    a = uv.chi2_test_counts([10, 0, 5], [4, 0, 9])
    b = uv.chi2_test_counts([10, 5], [4, 9])
    assert (a.statistic, a.pvalue) == (b.statistic, b.pvalue)
    single = uv.chi2_test(["a"] * 5, ["a"] * 7)
    assert (single.statistic, single.pvalue) == (0.0, 1.0)


def test_labels_of_all_kinds() -> None:
    for x, y in [
        ([1, 2, 2, 3] * 5, [1, 1, 2, 3] * 5),
        ([True, False] * 10, [True, True, False] * 7),
        (np.array(["u", "v"] * 10, dtype=object), ["u", "u", "v"] * 7),
    ]:
        res = uv.chi2_test(x, y)
        assert res.pvalue == pytest.approx(
            st.chi2_contingency(_table(np.asarray(x), np.asarray(y)), correction=False).pvalue
        )
    with pytest.raises(InputError, match="cannot be compared"):
        uv.chi2_test([1, 2, 2], ["1", "2"])


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_fisher_test_equals_scipy(alternative: str) -> None:
    rng = np.random.default_rng(11)
    for n1, n2, p1, p2 in [(10, 12, 0.5, 0.5), (30, 25, 0.2, 0.6), (200, 150, 0.1, 0.15)]:
        x = rng.random(n1) < p1
        y = rng.random(n2) < p2
        table = np.array([[np.sum(~x), np.sum(x)], [np.sum(~y), np.sum(y)]])
        expected = st.fisher_exact(table, alternative=alternative)
        got = uv.fisher_test(x, y, alternative=alternative)
        assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
        assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)
        counts = uv.fisher_test_counts(table[0], table[1], alternative=alternative)
        assert counts.pvalue == got.pvalue


def test_categorical_bad_input() -> None:
    with pytest.raises(InputError, match="Fisher.*binary.*3 distinct"):
        uv.fisher_test(["a", "b", "c"], ["a", "b"])
    with pytest.raises(InputError, match="ref_counts.*exactly 2"):
        uv.fisher_test_counts([1, 2, 3], [1, 2, 3])
    with pytest.raises(ParameterError, match="alternative"):
        uv.fisher_test([0, 1], [1, 0], alternative="lower")
    with pytest.raises(InputError, match="'x'.*missing label"):
        uv.chi2_test(["a", None, "b"], ["a", "b"])
    with pytest.raises(InputError, match="'y'.*missing label"):
        uv.g_test([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(InputError, match="'y'.*at least 1"):
        uv.chi2_test(["a"], [])
    with pytest.raises(InputError, match="'x'.*1-D"):
        uv.chi2_test([["a", "b"]], ["a"])
    with pytest.raises(InputError, match="cur_counts.*whole numbers"):
        uv.chi2_test_counts([1, 2], [1, 2.5])
    with pytest.raises(InputError, match="ref_counts.*whole numbers"):
        uv.chi2_test_counts([1, -2], [1, 2])
    with pytest.raises(InputError, match="cur_counts.*3 categories"):
        uv.chi2_test_counts([1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="ref_counts.*empty"):
        uv.g_test_counts([0, 0], [1, 2])
    with pytest.raises(InputError, match="categories.*3 labels"):
        uv.chi2_test_counts([1, 2], [1, 2], categories=["a", "b", "c"])


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


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mannwhitney_test_many_equals_scipy_per_column(alternative: str) -> None:
    rng = np.random.default_rng(12)
    for n1, n2 in [(5, 40), (60, 7), (150, 220)]:
        R = rng.normal(size=(n1, 5))
        C = rng.normal(0.3, size=(n2, 5))
        R[:, 1], C[:, 1] = np.round(R[:, 1]), np.round(C[:, 1])  # ties
        R[:, 2], C[:, 2] = 1.0, 1.0  # all tied: zero spread
        R[rng.random(R.shape) < 0.1] = np.nan
        R[0] = 0.0
        reference = uv.presort(R)
        for method in ("auto", "asymptotic", "exact"):
            for continuity in (True, False):
                if method == "exact" and n1 * n2 > 2000:
                    continue
                stats, pvalues = uv.mannwhitney_test_many(
                    reference, C, alternative, method, continuity
                )
                for j in range(5):
                    x = R[~np.isnan(R[:, j]), j]
                    expected = st.mannwhitneyu(x, C[:, j], use_continuity=continuity,
                                               alternative=alternative, method=method)
                    assert stats[j] == expected.statistic
                    assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL)


def test_mannwhitney_test_many_bad_input() -> None:
    reference = uv.presort(np.zeros((10, 2)))
    with pytest.raises(InputError, match="current.*3 columns"):
        uv.mannwhitney_test_many(reference, np.zeros((10, 3)))
    with pytest.raises(ParameterError, match="method"):
        uv.mannwhitney_test_many(reference, np.zeros((10, 2)), method="asymp")


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


@pytest.mark.parametrize(("n1", "n2"), [(6, 15), (12, 20), (21, 40), (150, 220)])
def test_cvm_test_many_equals_scipy_per_column(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 13 + n2)
    R = rng.normal(size=(n1, 5))
    C = rng.normal(0.4, size=(n2, 5))
    R[:, 1], C[:, 1] = np.round(R[:, 1]), np.round(C[:, 1])  # ties
    R[:, 2], C[:, 2] = 1.0, 1.0  # all tied
    R[rng.random(R.shape) < 0.1] = np.nan
    R[:2] = 0.0
    reference = uv.presort(R)
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 + n2 > 45:
            continue
        stats, pvalues = uv.cvm_test_many(reference, C, method)
        for j in range(5):
            x = R[~np.isnan(R[:, j]), j]
            expected = st.cramervonmises_2samp(x, C[:, j], method=method)
            assert stats[j] == pytest.approx(expected.statistic, rel=RTOL)
            assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL)


def test_cvm_test_many_needs_two_values_per_column() -> None:
    reference = uv.presort(np.r_[np.zeros((1, 2)), np.full((4, 2), np.nan)] + [[0, 1]])
    with pytest.raises(InputError, match="reference.*column 0 has fewer than 2"):
        uv.cvm_test_many(reference, np.zeros((5, 2)))

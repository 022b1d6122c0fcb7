"""Chi-squared and G tests' p-value choice: the chi-squared limit where every expected count
is at least 5 (equal to SciPy), a permutation p-value otherwise (checked against the exact
permutation law of a small table)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats as st
from scipy.stats import chi2_contingency, multivariate_hypergeom

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats import chi2_test_counts, g_test_counts

RTOL = 1e-9


def test_auto_uses_the_limit_when_every_cell_is_large_enough():
    ref, cur = np.array([60, 30, 10]), np.array([50, 35, 15])
    res = chi2_test_counts(ref, cur)
    expected = chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert res.n_permutations is None
    assert res.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(expected.pvalue, rel=1e-9)


def test_auto_permutes_when_a_cell_is_sparse_and_reports_the_draws():
    # one current row in a category seen 3 times in 30,000 reference rows: the exact
    # chance of at least one such row in 301 draws from the pooled 30,304 is about 0.039
    table = ([20_000, 10_000, 3], [200, 100, 1])
    res = chi2_test_counts(*table, seed=0)
    assert res.n_permutations is not None and 0 < res.n_permutations <= 9999
    assert chi2_test_counts(*table, method="asymptotic").pvalue < 1e-4
    assert 0.01 < res.pvalue < 0.1


@pytest.mark.parametrize("test", [chi2_test_counts, g_test_counts])
def test_permutation_pvalue_matches_the_exact_permutation_law(test):
    ref, cur = np.array([9, 5, 1]), np.array([2, 4, 3])
    pooled, n_cur = ref + cur, int(cur.sum())
    observed = test(ref, cur, method="asymptotic").statistic
    law = multivariate_hypergeom(pooled, n_cur)
    exact = 0.0
    for a, b in itertools.product(range(pooled[0] + 1), range(pooled[1] + 1)):
        c = n_cur - a - b
        if 0 <= c <= pooled[2]:
            table_cur = np.array([a, b, c])
            stat = test(pooled - table_cur, table_cur, method="asymptotic").statistic
            if stat >= observed - 1e-9:
                exact += law.pmf(table_cur)
    res = test(ref, cur, method="permutation", n_permutations=200_000, seed=1)
    # no early stop here (p is not small, but 20 exceedances come fast): compare within the
    # Monte Carlo error of the draws actually used
    se = np.sqrt(exact * (1 - exact) / res.n_permutations)
    assert abs(res.pvalue - exact) <= 4 * se + 1e-3


def test_seed_makes_the_permutation_pvalue_reproducible():
    args = ([900, 80, 1, 1], [20, 5, 1, 0])
    first = chi2_test_counts(*args, seed=3)
    assert chi2_test_counts(*args, seed=3) == first


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

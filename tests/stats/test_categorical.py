"""Chi-squared and G tests' p-value choice: the chi-squared limit where every expected count
is at least 5 (equal to SciPy), a permutation p-value otherwise (checked against the exact
permutation law of a small table)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import chi2_contingency, multivariate_hypergeom

from shiftguard.stats import chi2_test_counts, g_test_counts


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

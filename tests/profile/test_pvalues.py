"""Cheap bounds of the in-memory KS p-value: never on the wrong side of it, and close."""

from __future__ import annotations

import numpy as np

from shiftguard.profile._pvalues import ks_not_significant_below, ks_pvalue_bound
from shiftguard.stats import ks


def test_the_bound_is_at_least_the_in_memory_pvalue_and_close_near_thresholds():
    rows = []
    for n, m in ((10_001, 10_001), (12_000, 90_000), (100_000, 100_000), (700_000, 400_000)):
        size = round(n * m / (n + m))
        exponent = np.geomspace(2.3, 700.0, 40)  # N d^2: the Smirnov sum's region and beyond
        d = np.sqrt(exponent / size)
        rows.append((d, np.full(d.size, n), np.full(d.size, m)))
    d, n, m = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    size = np.round(n * m / (n + m))
    exact = ks._ks_pvalues(d.copy(), np.zeros_like(d), n, m, "two-sided", "auto")[1]
    bound = ks_pvalue_bound(d, n, m)
    assert np.all(np.isfinite(bound)) and np.all(bound >= exact)
    # close where p-values meet thresholds (the finite-size correction grows with d)
    near = size * d * d <= 20.0
    assert np.all(bound[near] <= 1.1 * exact[near])


def test_no_bound_where_the_in_memory_pvalue_is_exact_or_the_statistic_small():
    # small samples get SciPy's exact permutation p-value, not the one-sample law
    assert np.isinf(ks_pvalue_bound([0.5], [5000], [10_000])[0])
    assert np.isinf(ks_pvalue_bound([0.001], [100_000], [100_000])[0])  # N d^2 = 0.05


def test_statistics_below_the_critical_one_are_not_significant():
    for n, m, level in ((10_001, 20_000, 0.05), (100_000, 100_000, 0.05), (50_000, 3000, 0.2)):
        d_c, p_c = ks_not_significant_below(n, m, level)
        d = np.linspace(0.0, d_c, 200)
        p = ks._ks_pvalues(d.copy(), np.zeros_like(d), np.full(d.size, n), np.full(d.size, m),
                           "two-sided", "auto")[1]
        assert p_c > level and np.all(p >= p_c)
        # and not needlessly small: a statistic 3% larger is significant
        beyond = ks._ks_pvalues(np.array([1.03 * d_c]), np.zeros(1), np.array([n]),
                                np.array([m]), "two-sided", "auto")[1][0]
        assert beyond <= level
    assert ks_not_significant_below(5000, 8000, 0.05) is None  # exact p-values: no shortcut

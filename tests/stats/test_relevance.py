"""Unit tests of shiftguard.stats.relevance: distances, p-values, intervals, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shiftguard.errors import ParameterError
from shiftguard.stats import ks_relevance_test, ks_test, tv_relevance_test_counts
from shiftguard.stats.relevance import ks_distance, ks_relevance_from_distance


def test_ks_distance_equals_the_ks_statistic_with_and_without_ties(rng):
    for x, y in [(rng.normal(size=300), rng.normal(0.3, 1, 500)),
                 (rng.integers(0, 4, 300).astype(float), rng.integers(0, 5, 80).astype(float))]:
        assert ks_distance(np.sort(x), np.sort(y)) == pytest.approx(ks_test(x, y).statistic,
                                                                  abs=1e-15)


def test_ks_pvalue_inverts_the_dkw_band():
    res = ks_relevance_from_distance(0.3, 400, 900, 0.1, alpha=0.05)
    c = 1 / math.sqrt(800) + 1 / math.sqrt(1800)
    assert res.pvalue == pytest.approx(4 * math.exp(-(0.2 / c) ** 2))
    half = c * math.sqrt(math.log(4 / 0.05))
    assert (res.ci_low, res.ci_high) == pytest.approx((0.3 - half, 0.3 + half))
    # the test rejects at alpha exactly when the interval lies above delta
    for delta in np.linspace(0.0, 0.3, 31):
        r = ks_relevance_from_distance(0.3, 400, 900, delta, alpha=0.05)
        assert (r.pvalue <= 0.05) == (r.ci_low > delta)


def test_distance_below_delta_gives_p_one():
    assert ks_relevance_from_distance(0.05, 100, 100, 0.1).pvalue == 1.0
    assert tv_relevance_test_counts([50, 50], [52, 48], 0.1).pvalue == 1.0


def test_tv_distance_and_slack():
    res = tv_relevance_test_counts([400, 300, 300, 0], [100, 100, 600, 200], 0.05, alpha=0.1)
    assert res.statistic == pytest.approx(0.5 * (0.3 + 0.2 + 0.3 + 0.2))
    n, m, k = 1000, 1000, 4
    slack = 0.5 * math.sqrt((k - 1) / n) + 0.5 * math.sqrt((k - 1) / m)
    c = 2 / math.sqrt(2000)
    assert res.pvalue == pytest.approx(min(1.0, 2 * math.exp(-((0.5 - 0.05 - slack) / c) ** 2)))
    assert res.ci_low == pytest.approx(0.5 - slack - c * math.sqrt(math.log(2 / 0.1)))


def test_large_shift_is_relevant_and_small_one_is_not(rng):
    x = rng.normal(size=50_000)
    assert ks_relevance_test(x, rng.normal(1.0, 1, 50_000), 0.1).pvalue < 1e-6
    # a real but negligible shift: significant for the KS test, not relevant at 0.05
    small = rng.normal(0.05, 1, 50_000)
    assert ks_test(x, small).pvalue < 1e-3
    assert ks_relevance_test(x, small, 0.05).pvalue == 1.0


@pytest.mark.parametrize("delta", [-0.1, 1.0, 2.0])
def test_delta_outside_unit_interval_is_rejected(delta):
    with pytest.raises(ParameterError, match="min_effect"):
        ks_relevance_test([1.0, 2.0], [1.0, 3.0], delta)

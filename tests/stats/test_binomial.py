import numpy as np
import pytest
from scipy.stats import binomtest

from shiftguard.stats.binomial import clopper_pearson, clopper_pearson_upper


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (1, 1), (57, 400)])
def test_two_sided_equals_scipy_exact_interval(k, n):
    lo, hi = clopper_pearson(np.array([k]), np.array([n]), 0.1)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
    np.testing.assert_allclose([lo[0], hi[0]], [ci.low, ci.high], rtol=1e-10, atol=1e-15)


def test_one_sided_upper_equals_scipy_and_is_one_when_undefined():
    k, n = np.array([0, 4, 9, 9, 0]), np.array([9, 9, 9, 20, 0])
    up = clopper_pearson_upper(k, n, 0.05)
    for i in (0, 1, 3):
        ci = binomtest(int(k[i]), int(n[i]), alternative="less").proportion_ci(
            confidence_level=0.95, method="exact")
        assert up[i] == pytest.approx(ci.high, rel=1e-10)
    assert up[2] == 1.0 and up[4] == 1.0


def test_upper_bound_covers_at_least_nominally(rng):
    p, n, delta = 0.07, 60, 0.1
    k = rng.binomial(n, p, size=20_000)
    misses = np.mean(clopper_pearson_upper(k, np.full(k.size, n), delta) < p)
    assert misses <= delta

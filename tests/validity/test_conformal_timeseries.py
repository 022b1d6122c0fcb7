"""ACI's deterministic long-run bound and SPCI's (asymptotic) coverage on dependent data."""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.conformal import adaptive_conformal_intervals, spci_intervals

pytestmark = pytest.mark.validity


def _ar1(rng, n, phi=0.8, scale=None):
    noise = rng.normal(size=n) * (1.0 if scale is None else scale)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):  # a short simulation loop; the library code is vectorised
        out[t] = phi * out[t - 1] + noise[t]
    return out


@pytest.mark.parametrize("gamma", [0.002, 0.01, 0.05])
def test_aci_long_run_miscoverage_bound_under_shift(gamma):
    """|mean miss - alpha| <= (max(alpha, 1 - alpha) + gamma) / (gamma T) for any sequence."""
    rng = np.random.default_rng(31)
    t_max, alpha = 20_000, 0.1
    # volatility jumps by 5x twice, and a trend the forecaster ignores
    scale = np.repeat([1.0, 5.0, 0.5, 3.0], t_max // 4)
    y = _ar1(rng, t_max, 0.5, scale) + np.linspace(0, 20, t_max)
    result = adaptive_conformal_intervals(np.zeros(t_max), y, alpha=alpha, gamma=gamma, window=500)
    bound = (max(alpha, 1 - alpha) + gamma) / (gamma * t_max)
    assert abs(result.miss.mean() - alpha) <= bound


def test_spci_coverage_on_ar1_residuals():
    """SPCI's guarantee is asymptotic, so this is a check for gross failure, not of a
    finite-sample bound. If P(miss_t | past) were exactly alpha the miss indicators would be
    a martingale difference sequence with binomial variance alpha(1-alpha)/T; on top of that
    3-SE band we allow a finite-sample shortfall of 0.03 — NOT derived from a binomial error:
    with 500 training steps the measured coverage was 0.874-0.899 over four seeds, because
    the width-minimising choice of beta favours quantile estimates that are too narrow."""
    rng = np.random.default_rng(32)
    alpha, shortfall = 0.1, 0.03
    covered = []
    for _ in range(3):
        y = _ar1(rng, 900)
        intervals = spci_intervals(
            np.zeros_like(y), y, n_train=500, alpha=alpha, window=5, refit_every=50, seed=0
        )
        covered.append(intervals.covers(y[500:]))
    covered = np.concatenate(covered)
    lo, hi = binomial_band(1 - alpha, covered.size)
    assert lo - shortfall <= covered.mean() <= hi

"""Empirical familywise false-flag rate and power of localize_shift (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift.localize import localize_shift

pytestmark = pytest.mark.validity

ALPHA = 0.05


def _flag_rates(method: str, n_reps: int, seed: int, flip: bool) -> tuple[float, np.ndarray]:
    """Share of repetitions with any flag, and each feature's flag rate.

    d = 3: x0, x1 with correlation +0.6 in both samples (global null) or -0.6 in the
    current one (flip: both marginals unchanged); x2 independent, never shifted.
    """
    rng = np.random.default_rng(seed)
    cov = np.eye(3)
    cov[0, 1] = cov[1, 0] = 0.6
    cur_cov = cov.copy()
    if flip:
        cur_cov[0, 1] = cur_cov[1, 0] = -0.6
    any_flag, per_feature = 0, np.zeros(3)
    for _ in range(n_reps):
        ref = rng.multivariate_normal(np.zeros(3), cov, size=30)
        cur = rng.multivariate_normal(np.zeros(3), cur_cov, size=30)
        # B = 299: Holm's first threshold alpha / 3 is then exactly 5 / 300, so the
        # discreteness of the permutation p-value costs no size.
        res = localize_shift(ref, cur, method=method, n_bootstrap=299, seed=rng)
        any_flag += bool(res.flagged)
        per_feature += [f.flagged for f in res.features]
    return any_flag / n_reps, per_feature / n_reps


@pytest.mark.parametrize(("method", "n_reps"), [("gaussian", 2000), ("knn", 1000)])
def test_familywise_false_flag_rate_is_at_most_alpha(method, n_reps):
    # Global null, n = m = 30, Holm at 0.05: P(any feature flagged) <= alpha.
    rate, _ = _flag_rates(method, n_reps, seed=31, flip=False)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_flipped_correlation_is_flagged_and_the_unshifted_feature_is_protected():
    # Gaussian method under a partial null: x2's conditional is unchanged and Gaussian-
    # linear, so its F statistic is pivotal and its false-flag rate stays <= alpha, while
    # x0 and x1 (conditionals changed, marginals not) are flagged well above alpha.
    n_reps = 400
    _, rates = _flag_rates("gaussian", n_reps, seed=32, flip=True)
    hi = binomial_band(ALPHA, n_reps)[1]
    assert rates[0] > hi and rates[1] > hi
    assert rates[2] <= hi


def test_knn_flags_the_flipped_pair_with_power():
    _, rates = _flag_rates("knn", 200, seed=33, flip=True)
    hi = binomial_band(ALPHA, 200)[1]
    assert rates[0] > hi and rates[1] > hi

"""Empirical familywise false-flag rate and power of localize_shift (fixed seeds).

The familywise error is checked under the global null on messy data (correlated Gaussian,
heavy-tailed, integer-count and three-level columns; unequal sizes), for each method in
the regime where ``method="auto"`` picks it, and under partial nulls where some
conditionals shifted; power with 12-20 features, where the per-feature corrections with
199 permutations could flag nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift.localize import localize_shift

pytestmark = pytest.mark.validity

ALPHA = 0.05


def _messy_sample(rng: np.random.Generator, size: int, d: int) -> np.ndarray:
    """Neighbouring columns correlated 0.6 (AR(1)); every 4th column from the second on
    is an integer count (heavy ties), every 4th from the third a three-level code, every
    4th from the fourth heavy-tailed (plus t(3) noise)."""
    cov = 0.6 ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    base = rng.normal(size=(size, d)) @ np.linalg.cholesky(cov).T
    x = base.copy()
    x[:, 1::4] = np.floor(np.exp(base[:, 1::4]))
    x[:, 2::4] = np.digitize(base[:, 2::4], [-0.5, 0.5])
    x[:, 3::4] += rng.standard_t(3, size=x[:, 3::4].shape)
    return x


def _null_flag_rate(method: str, n: int, m: int, d: int, n_reps: int, seed: int) -> float:
    """Share of repetitions in which any feature is flagged, both samples messy and equal
    in distribution, default settings (Westfall-Young, 199 permutations)."""
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(n_reps):
        res = localize_shift(
            _messy_sample(rng, n, d), _messy_sample(rng, m, d), method=method, seed=rng
        )
        flagged += bool(res.flagged)
    return flagged / n_reps


@pytest.mark.parametrize(("n", "m"), [(200, 2000), (2000, 200)])
def test_gaussian_familywise_error_with_12_messy_features_and_unequal_sizes(n, m):
    # What method="auto" runs on these shapes (checked below): Chow + dummy t, refitted.
    rng = np.random.default_rng(0)
    probe = localize_shift(_messy_sample(rng, n, 12), _messy_sample(rng, m, 12), seed=0)
    assert probe.method == "gaussian"
    n_reps = 500
    rate = _null_flag_rate("gaussian", n, m, 12, n_reps, seed=41 + n)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_gaussian_familywise_error_when_splits_share_venn_cells():
    # 1,500 + 1,500 rows, 24 features: the SSCPs of five splits at a time come from the
    # cells of their Venn diagram, the observed split scored in the first group of five.
    n_reps = 300
    rate = _null_flag_rate("gaussian", 1500, 1500, 24, n_reps, seed=7)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_ridge_familywise_error_with_more_features_than_reference_rows():
    # 40 reference rows, 400 current, 60 messy features: "auto" runs the ridge method.
    rng = np.random.default_rng(0)
    probe = localize_shift(_messy_sample(rng, 40, 60), _messy_sample(rng, 400, 60), seed=0)
    assert probe.method == "ridge"
    n_reps = 500
    rate = _null_flag_rate("ridge", 40, 400, 60, n_reps, seed=42)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_knn_familywise_error_with_12_messy_features_and_unequal_sizes():
    n_reps = 500
    rate = _null_flag_rate("knn", 60, 300, 12, n_reps, seed=43)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def _conditional_mean_shift(
    rng: np.random.Generator, n: int, m: int, d: int, shifted: int, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian rows with three-factor covariance Sigma; the current mean is Sigma v with
    v supported on the first ``shifted`` features, which moves their conditional means
    given the others by ``delta`` conditional sds and leaves every other feature's
    conditional unchanged (its marginal moves too)."""
    loadings = rng.normal(size=(3, d))
    sigma = loadings.T @ loadings + np.eye(d)
    theta_diag = np.diag(np.linalg.inv(sigma))
    v = np.zeros(d)
    v[:shifted] = delta * np.sqrt(theta_diag[:shifted])
    chol = np.linalg.cholesky(sigma)
    return (rng.normal(size=(n, d)) @ chol.T,
            rng.normal(size=(m, d)) @ chol.T + sigma @ v)


def test_unshifted_features_are_protected_when_others_shift():
    # Partial null, 16 features, 300 + 300 rows: three conditionals shift by 0.5 sd and
    # the rest of the table moves with them. The Gaussian method's components are pivotal
    # for the unshifted features, so P(some unshifted feature flagged) stays <= alpha,
    # while the shifted ones are found.
    rng = np.random.default_rng(44)
    n_reps = 500
    false_flags, found = 0, 0
    for _ in range(n_reps):
        ref, cur = _conditional_mean_shift(rng, 300, 300, 16, shifted=3, delta=0.5)
        res = localize_shift(ref, cur, seed=rng)
        assert res.method == "gaussian"
        flagged = {int(name) for name in res.flagged}
        false_flags += bool(flagged - {0, 1, 2})
        found += len(flagged & {0, 1, 2})
    assert false_flags / n_reps <= binomial_band(ALPHA, n_reps)[1]
    assert found / (3 * n_reps) >= 0.5


def test_one_shifted_feature_among_16_is_flagged():
    # 16 features, 300 + 300 rows, feature 0's conditional mean moves by 0.5 sd. With 199
    # permutations Holm's smallest adjusted p-value was 16 / 200 > 0.05, so this feature
    # was never flagged; Westfall-Young's is 1 / 200.
    rng = np.random.default_rng(45)
    n_reps = 100
    flagged = 0
    for _ in range(n_reps):
        ref, cur = _conditional_mean_shift(rng, 300, 300, 16, shifted=1, delta=0.5)
        flagged += "0" in localize_shift(ref, cur, seed=rng).flagged
    assert flagged / n_reps >= 0.8


def _flip_flag_rates(method: str, n_reps: int, seed: int, flip: bool):
    """Share of repetitions with any flag, and each feature's flag rate.

    d = 3, n = m = 30: x0, x1 with correlation +0.6 in both samples (global null) or -0.6
    in the current one (flip: both marginals unchanged); x2 independent, never shifted.
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
        res = localize_shift(ref, cur, method=method, seed=rng)
        any_flag += bool(res.flagged)
        per_feature += [f.flagged for f in res.features]
    return any_flag / n_reps, per_feature / n_reps


@pytest.mark.parametrize(("method", "n_reps"), [("gaussian", 1000), ("knn", 1000)])
def test_familywise_false_flag_rate_is_at_most_alpha_with_30_rows(method, n_reps):
    rate, _ = _flip_flag_rates(method, n_reps, seed=31, flip=False)
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_flipped_correlation_is_flagged_and_the_unshifted_feature_is_protected():
    # Gaussian method under a partial null: x2's conditional is unchanged and Gaussian-
    # linear, so its statistic is pivotal and its false-flag rate stays <= alpha, while
    # x0 and x1 (conditionals changed, marginals not) are flagged well above alpha.
    n_reps = 500
    _, rates = _flip_flag_rates("gaussian", n_reps, seed=32, flip=True)
    hi = binomial_band(ALPHA, n_reps)[1]
    assert rates[0] > hi and rates[1] > hi
    assert rates[2] <= hi


def test_knn_flags_the_flipped_pair_with_power():
    _, rates = _flip_flag_rates("knn", 200, seed=33, flip=True)
    hi = binomial_band(ALPHA, 200)[1]
    assert rates[0] > hi and rates[1] > hi

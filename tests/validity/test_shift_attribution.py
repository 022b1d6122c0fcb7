"""Validity of the Shapley attribution of a performance change and of shift explanations.

Ground truth comes from known distributions: ``P(y = 1 | x) = sigmoid(2 x0 - x1 + c)``
and a fixed threshold model, so the expected 0/1 loss of any feature distribution is
``E[err(x)]`` with ``err(x) = P(y != f(x) | x)``, computed by Monte Carlo over 10**6 rows
(standard error < 5e-4, negligible against the intervals checked). The messy design (counts,
a rare binary, a skewed feature) has its expected loss computed exactly instead.
"""

import numpy as np
import pytest
from scipy import stats

from helpers import binomial_band
from shiftguard.shift import (
    attribute_performance_change,
    cluster_shift_explanation,
    mean_shift_explanation,
)

pytestmark = pytest.mark.validity


def _prob(x, intercept=0.0):
    return 1.0 / (1.0 + np.exp(-(2.0 * x[:, 0] - x[:, 1] + intercept)))


def _predict(x):
    return (x[:, 0] > 0.8).astype(float)


def _expected_error(x, intercept=0.0):
    p, f = _prob(x, intercept), _predict(x)
    return f * (1.0 - p) + (1.0 - f) * p


def _sample(rng, n, mean, intercept=0.0):
    x = rng.normal(size=(n, len(mean))) + np.asarray(mean)
    y = (rng.random(n) < _prob(x, intercept)).astype(float)
    return x, y


def _zero_one(x, y):
    return (_predict(x) != y).astype(float)


def _true_error(mean, intercept=0.0, n=1_000_000):
    x = np.random.default_rng(12345).normal(size=(n, len(mean))) + np.asarray(mean)
    return float(_expected_error(x, intercept).mean())


def _covers(res, player, value):
    return bool(res.lower[player] <= value <= res.upper[player])


def test_pure_covariate_shift_goes_to_p_x():
    rng = np.random.default_rng(0)
    ref_mean, cur_mean = [0.0, 0.0], [1.0, -0.5]
    truth = _true_error(cur_mean) - _true_error(ref_mean)
    xr, yr = _sample(rng, 3000, ref_mean)
    xc, yc = _sample(rng, 3000, cur_mean)
    res = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=100, alpha=0.02,
                                       seed=1)
    assert truth < -0.04  # the shift lowers the error rate noticeably
    assert _covers(res, 0, truth), (res.attributions, res.lower, res.upper, truth)
    assert not _covers(res, 0, 0.0)  # and the attribution detects it
    assert _covers(res, 1, 0.0), (res.attributions, res.lower, res.upper)


def test_pure_concept_shift_goes_to_p_y_given_x():
    rng = np.random.default_rng(1)
    mean = [0.0, 0.0]
    truth = _true_error(mean, intercept=1.5) - _true_error(mean)
    xr, yr = _sample(rng, 3000, mean)
    xc, yc = _sample(rng, 3000, mean, intercept=1.5)
    res = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=100, alpha=0.02,
                                       seed=2)
    assert abs(truth) > 0.05
    assert _covers(res, 1, truth), (res.attributions, res.lower, res.upper, truth)
    assert not _covers(res, 1, 0.0)
    assert _covers(res, 0, 0.0), (res.attributions, res.lower, res.upper)


def test_only_the_shifted_group_gets_the_p_x_share():
    rng = np.random.default_rng(2)
    # x0, x1 drive the labels; x2 is independent of them and the only feature that shifts,
    # yet the loss depends on it through the model f(x) = 1[x0 + x2 > 0.8]
    def predict(x):
        return (x[:, 0] + x[:, 2] > 0.8).astype(float)

    def sample(n, shift):
        x = rng.normal(size=(n, 3)) + [0.0, 0.0, shift]
        return x, (rng.random(n) < _prob(x)).astype(float)

    def expected(shift, n=1_000_000):
        x = np.random.default_rng(7).normal(size=(n, 3)) + [0.0, 0.0, shift]
        p, f = _prob(x), predict(x)
        return float((f * (1 - p) + (1 - f) * p).mean())

    truth = expected(-1.0) - expected(0.0)
    xr, yr = sample(3000, 0.0)
    xc, yc = sample(3000, -1.0)
    res = attribute_performance_change(lambda x, y: (predict(x) != y).astype(float),
                                       xr, yr, xc, yc, groups=[[0, 1], [2]], n_bootstrap=100,
                                       alpha=0.02, seed=3)
    assert res.players == ("P(0, 1)", "P(2 | 0, 1)", "P(Y | X)")
    assert abs(truth) > 0.05
    assert _covers(res, 0, 0.0) and _covers(res, 2, 0.0), (res.lower, res.upper)
    assert _covers(res, 1, truth), (res.attributions, res.lower, res.upper, truth)
    assert not _covers(res, 1, 0.0)


def test_interval_coverage_at_800_rows_with_few_replicates():
    """The 90 % intervals cover the true attributions and change in about 90 % of runs.

    800 rows a sample and only 20 replicates, the fewest allowed at ``alpha = 0.1``: the
    bootstrap is nearly pivotal here (no bias, bootstrap SD within 5 % of the true SD), so
    what is left is the choice of the order statistics. The ends at the (B + 1) alpha / 2-th
    ones cover 1 - alpha for any B; numpy's default quantiles, which the interval used
    before, cover 1 - alpha - 2 (1 - alpha) / (B + 1) = 81 % and fail the lower band (80 %,
    81 % and 82 % in this simulation; 78-83 % under four other seeds, where the fixed ends
    covered 86-92 %). The upper band rules out intervals that are merely wide.
    """
    rng = np.random.default_rng(3)
    ref_mean, cur_mean = [0.0, 0.0], [1.0, -0.5]
    truth = _true_error(cur_mean) - _true_error(ref_mean)
    reps = 400
    cover = np.zeros(3)
    for r in range(reps):
        xr, yr = _sample(rng, 800, ref_mean)
        xc, yc = _sample(rng, 800, cur_mean)
        res = attribute_performance_change(_zero_one, xr, yr, xc, yc, n_bootstrap=20,
                                           alpha=0.1, seed=r)
        cover += [_covers(res, 0, truth), _covers(res, 1, 0.0),
                  res.change_lower <= truth <= res.change_upper]
    low, high = binomial_band(0.9, reps)
    rates = cover / reps
    assert ((rates >= low) & (rates <= high)).all(), (rates, low, high)


# -- messy features: counts with ties, a rare binary, a skewed one -------------------------

#: (Poisson mean of x0, P(x1 = 1), exponential rate of x2) of the reference and current
#: rows, independent features: each log density ratio is linear in its feature, so the
#: default logistic domain classifier is correctly specified and the truth is known
MESSY_REF, MESSY_CUR = (2.0, 0.05, 1.0), (2.8, 0.10, 0.8)
MESSY_CONCEPT = 0.7  # change of the intercept of the logit of P(y = 1 | x) in the current rows
_MAX_COUNT = 40  # P(Poisson(2.8) > 40) < 1e-30


def _messy_prob(x0, x1, x2, intercept=0.0):
    return 1.0 / (1.0 + np.exp(-(0.8 * x0 + 1.5 * x1 - 0.8 * x2 - 2.5 + intercept)))


def _messy_predict(x0):
    return (x0 >= 4).astype(float)  # a cut on a count: many rows tie at it


def _messy_sample(rng, n, dist, intercept=0.0):
    mean, p, rate = dist
    x = np.column_stack([rng.poisson(mean, n), rng.random(n) < p,
                         rng.exponential(1.0 / rate, n)]).astype(float)
    return x, (rng.random(n) < _messy_prob(*x.T, intercept)).astype(float)


def _messy_zero_one(x, y):
    return (_messy_predict(x[:, 0]) != y).astype(float)


def _messy_true_error(dist, intercept=0.0, m=20_000):
    """Expected 0/1 loss: a sum over the count and the binary, and for x2 a midpoint rule
    over its quantiles (the loss is smooth in x2: error far below 1e-5)."""
    mean, p, rate = dist
    x0 = np.arange(_MAX_COUNT + 1.0)[:, None]
    x2 = -np.log1p(-(np.arange(m) + 0.5) / m)[None, :] / rate
    f = _messy_predict(x0)
    total = 0.0
    for x1, p_x1 in ((0.0, 1.0 - p), (1.0, p)):
        prob = _messy_prob(x0, x1, x2, intercept)
        err = (f * (1.0 - prob) + (1.0 - f) * prob).mean(axis=1)
        total += p_x1 * stats.poisson.pmf(x0[:, 0], mean) @ err
    return float(total)


def _messy_truth():
    """True ``P(X)`` and ``P(Y | X)`` attributions and change of the two-player game."""
    v = {(dist, c): _messy_true_error(dist, c) for dist in (MESSY_REF, MESSY_CUR)
         for c in (0.0, MESSY_CONCEPT)}
    change = v[MESSY_CUR, MESSY_CONCEPT] - v[MESSY_REF, 0.0]
    p_x = 0.5 * (v[MESSY_CUR, 0.0] - v[MESSY_REF, 0.0]
                 + v[MESSY_CUR, MESSY_CONCEPT] - v[MESSY_REF, MESSY_CONCEPT])
    return np.array([p_x, change - p_x, change])


def test_messy_small_batch_is_unbiased_and_covers_with_few_replicates():
    """300 current rows against 3,000 reference rows of Poisson counts (heavy ties), a 5 %
    -> 10 % binary and an exponential, with both a covariate and a concept shift; 20
    replicates. The default logistic ratio is right here, so the attributions must be
    unbiased and the 90 % intervals cover about 90 %. The (B + 1) alpha / 2-th order
    statistics covered 90 %, 88 % and 91 % (P(X), P(Y | X), change) in this simulation
    (89.75-92.5 % under four other seeds); numpy's default quantile ends, 81 %, 79 % and 80 %
    (79-86 %), fail the lower band. The bias check also guards the exact truth: ``change``
    is unbiased by construction.
    """
    rng = np.random.default_rng(6)
    truth = _messy_truth()
    reps = 400
    errors, cover = np.empty((reps, 3)), np.zeros(3)
    for r in range(reps):
        xr, yr = _messy_sample(rng, 3000, MESSY_REF)
        xc, yc = _messy_sample(rng, 300, MESSY_CUR, MESSY_CONCEPT)
        res = attribute_performance_change(_messy_zero_one, xr, yr, xc, yc, n_bootstrap=20,
                                           alpha=0.1, seed=r)
        errors[r] = np.r_[res.attributions, res.change] - truth
        cover += ((np.r_[res.lower, res.change_lower] <= truth)
                  & (truth <= np.r_[res.upper, res.change_upper]))
    assert truth[:2].min() > 0.03  # both mechanisms move the error rate
    mc_se = errors.std(axis=0, ddof=1) / np.sqrt(reps)
    assert (np.abs(errors.mean(axis=0)) <= 3.0 * mc_se).all(), (errors.mean(axis=0), mc_se)
    low, high = binomial_band(0.9, reps)
    rates = cover / reps
    assert ((rates >= low) & (rates <= high)).all(), (rates, low, high)


@pytest.mark.parametrize("seed", range(5))
def test_sparse_mean_shift_explains_a_two_feature_mean_shift(seed):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(2000, 10))
    cur = rng.normal(size=(2000, 10))
    cur[:, [2, 6]] += [1.0, -1.5]
    res = mean_shift_explanation(ref, cur, k=2, seed=seed)
    assert set(res.selected) == {"2", "6"}
    assert res.percent_explained > 90.0


@pytest.mark.parametrize("seed", range(5))
def test_mean_shift_explains_little_of_a_variance_shift(seed):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(2000, 10))
    cur = rng.normal(size=(2000, 10))
    cur[:, [2, 6]] *= 2.5
    res = mean_shift_explanation(ref, cur, seed=seed)
    assert res.percent_explained < 10.0


def test_cluster_map_explains_cluster_wise_shifts_the_mean_shift_cannot():
    rng = np.random.default_rng(4)
    centres = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
    moves = np.array([[0.0, 2.0, 0.0], [0.0, -2.0, 0.0], [2.0, 0.0, 1.0]])
    # equal cluster sizes: each sub-population moves, none grows or shrinks
    label_r = label_c = np.repeat(np.arange(3), 500)
    ref = centres[label_r] + rng.normal(size=(1500, 3))
    cur = centres[label_c] + moves[label_c] + rng.normal(size=(1500, 3))
    res = cluster_shift_explanation(ref, cur, n_clusters=3, seed=0)
    assert res.percent_explained > 90.0
    assert res.percent_explained > mean_shift_explanation(ref, cur).percent_explained + 25.0
    found = res.shifts[res.assign(centres)]
    np.testing.assert_allclose(found, moves, atol=0.3)

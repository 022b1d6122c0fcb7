"""Guarantees of the calibration tests, Venn–Abers, the deferral rule and subgroup intervals.

Seeded simulations with known truth; every tolerance is a binomial (or Monte Carlo)
band of three standard errors around the promised rate. Each check is paired with a
case that the same check would catch, so none of them passes vacuously.
"""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.shift import (
    NoThresholdError,
    VennAbers,
    calibration_drift_test,
    calibration_error,
    calibration_test,
    reliability_curve,
    selective_threshold,
    subgroup_performance,
)

pytestmark = pytest.mark.validity

ALPHA = 0.05


def _rejection_rate(pvalues):
    return float(np.mean(np.asarray(pvalues) <= ALPHA))


# -- Spiegelhalter ----------------------------------------------------------------------

def _messy_probabilities(rng, n):
    """U-shaped probabilities with a lump at exactly 0.5 and some exact zeros and ones."""
    p = rng.beta(0.5, 0.5, n)
    p[rng.random(n) < 0.1] = 0.5
    p[rng.random(n) < 0.03] = 1.0
    p[rng.random(n) < 0.03] = 0.0
    return p


def test_spiegelhalter_size_binary_and_top_label():
    rng = np.random.default_rng(10)
    reps = 1000
    binary, top = [], []
    for _ in range(reps):
        p = _messy_probabilities(rng, 300)
        binary.append(calibration_test(p, rng.random(300) < p).pvalue)
        probs = rng.dirichlet([0.3, 1.0, 2.0, 0.5], size=300)
        y = (rng.random((300, 1)) > np.cumsum(probs, axis=1)).sum(axis=1)
        top.append(calibration_test(probs, np.minimum(y, 3)).pvalue)
    lo, hi = binomial_band(ALPHA, reps)
    assert lo <= _rejection_rate(binary) <= hi
    assert lo <= _rejection_rate(top) <= hi


def test_spiegelhalter_power_against_overconfidence():
    rng = np.random.default_rng(11)
    pvalues = []
    for _ in range(200):
        p = rng.uniform(0.02, 0.98, 500)
        true = 1 / (1 + np.exp(-0.5 * np.log(p / (1 - p))))  # the model is over-confident
        pvalues.append(calibration_test(p, rng.random(500) < true).pvalue)
    assert _rejection_rate(pvalues) >= 0.9


# -- calibration drift ------------------------------------------------------------------

def _drift_pvalues(rng, curve_ref, curve_cur, reps=300, n=800):
    out = []
    for _ in range(reps):
        p_ref = rng.uniform(0.01, 0.99, n)
        p_cur = rng.beta(2.0, 5.0, n)  # the probabilities shift; the curve may not
        out.append(calibration_drift_test(p_ref, rng.random(n) < curve_ref(p_ref),
                                          p_cur, rng.random(n) < curve_cur(p_cur)).pvalue)
    return out


def test_drift_test_size_under_a_shift_of_the_probabilities():
    rng = np.random.default_rng(12)
    reps = 300
    lo, hi = binomial_band(ALPHA, reps)
    calibrated = _drift_pvalues(rng, lambda p: p, lambda p: p, reps)
    assert lo <= _rejection_rate(calibrated) <= hi
    # a shared but badly miscalibrated, non-logistic curve: the spline null absorbs it
    squared = _drift_pvalues(rng, lambda p: p**2, lambda p: p**2, reps)
    assert lo <= _rejection_rate(squared) <= hi


def test_drift_test_power():
    rng = np.random.default_rng(13)
    drifted = _drift_pvalues(rng, lambda p: p, lambda p: np.minimum(1.6 * p, 1.0), reps=100)
    assert _rejection_rate(drifted) >= 0.9


# -- binned error -----------------------------------------------------------------------

def test_debiased_squared_error_is_unbiased_and_plugin_is_not():
    rng = np.random.default_rng(14)
    reps, n = 400, 500
    plugin, debiased = [], []
    for _ in range(reps):
        p = rng.random(n)
        y = rng.random(n) < p  # calibrated: the binned error is 0
        plugin.append(calibration_error(p, y, power=2, n_bootstrap=10, seed=0).estimate)
        debiased.append(calibration_error(p, y, power=2, debiased=True, n_bootstrap=10,
                                          seed=0).estimate)
    se = np.std(debiased, ddof=1) / np.sqrt(reps)
    assert abs(np.mean(debiased)) <= 3 * se
    assert np.mean(plugin) > 3 * np.std(plugin, ddof=1) / np.sqrt(reps)


@pytest.mark.parametrize("debiased", [False, True])
def test_ece_bootstrap_interval_coverage(debiased):
    # P(y = 1 | p) = p^2 with p uniform: p - p^2 >= 0, so every binning has ECE 1/6
    rng = np.random.default_rng(15 + debiased)
    reps, n = 200, 1000
    covered = 0
    for _ in range(reps):
        p = rng.random(n)
        res = calibration_error(p, rng.random(n) < p**2, debiased=debiased,
                                n_bootstrap=200, seed=rng)
        covered += res.lower <= 1 / 6 <= res.upper
    assert covered / reps >= binomial_band(1 - ALPHA, reps)[0]


def _reliability_coverage(interval, floor, reps=120, n=1000):
    """Per-bin coverage when ``P(y = 1 | p) = floor + (1 - 2 floor) p^2``, p uniform."""
    rng = np.random.default_rng(21)
    edges = np.linspace(0, 1, 11)
    truth = floor + (1 - 2 * floor) * (
        edges[:-1] ** 2 + edges[:-1] * edges[1:] + edges[1:] ** 2) / 3
    covered = []
    for _ in range(reps):
        p = rng.random(n)
        y = rng.random(n) < floor + (1 - 2 * floor) * p**2
        curve = reliability_curve(p, y, n_bins=10, interval=interval, n_bootstrap=200,
                                  seed=rng)
        covered.append((curve.lower <= truth) & (truth <= curve.upper))
    return np.mean(covered, axis=0)  # per bin, over independent repetitions


def test_reliability_curve_pointwise_coverage():
    low = binomial_band(1 - ALPHA, 120, k=3.5)[0]  # ten bins: 3.5 standard errors each
    # exact intervals, including the first bin with 0.3 events on average
    assert np.all(_reliability_coverage("clopper-pearson", 0.0) >= low)
    # the bootstrap holds where every bin has many events of both kinds ...
    assert np.all(_reliability_coverage("bootstrap", 0.2) >= low)
    # ... and, as documented, not in a bin with few events
    assert _reliability_coverage("bootstrap", 0.0)[0] < low


# -- Venn–Abers -------------------------------------------------------------------------

@pytest.mark.parametrize(("n_cal", "decimals", "seed"), [(60, 2, 16), (2000, None, 17)])
def test_venn_abers_picked_probability_is_calibrated(n_cal, decimals, seed):
    """E[Y - p_Y | p_Y in bin] = 0 for the probability picked by the true label, with
    tied scores on a small calibration set and continuous ones on a larger set."""
    rng = np.random.default_rng(seed)
    reps, n_test = 600, 10
    edges = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0 + 1e-9])
    picked_sums = np.zeros((reps, edges.size - 1))
    raw_sums = np.zeros((reps, edges.size - 1))
    for r in range(reps):
        truth = rng.random(n_cal + n_test)
        y = (rng.random(truth.size) < truth).astype(int)
        score = truth**3 if decimals is None else np.round(truth**3, decimals)  # miscalibrated
        va = VennAbers().fit(score[:n_cal], y[:n_cal])
        pair = va.predict_p0_p1(score[n_cal:])
        y_test = y[n_cal:]
        picked = np.where(y_test == 1, pair[:, 1], pair[:, 0])
        bins = np.searchsorted(edges, picked, side="right") - 1
        picked_sums[r] = np.bincount(bins, weights=y_test - picked, minlength=edges.size - 1)
        raw_bins = np.searchsorted(edges, score[n_cal:], side="right") - 1
        raw_sums[r] = np.bincount(raw_bins, weights=y_test - score[n_cal:],
                                  minlength=edges.size - 1)
    # calibration sets are independent, so per-rep sums are i.i.d.: a z-score per bin
    z = picked_sums.mean(axis=0) / (picked_sums.std(axis=0, ddof=1) / np.sqrt(reps))
    assert np.all(np.abs(z) <= 3.5)  # five bins: 3.5 keeps the family-wise rate < 0.3%
    z_raw = raw_sums.mean(axis=0) / (raw_sums.std(axis=0, ddof=1) / np.sqrt(reps))
    assert np.max(np.abs(z_raw)) > 3.5  # the same check catches the raw scores


# -- deferral ---------------------------------------------------------------------------

def _bump_risk(t):
    """Selective risk of r(c) = 0.05 + 0.3 * 1{0.5 < c < 0.6} for c uniform: not monotone."""
    return (0.05 * (1 - t) + 0.3 * np.maximum(0.0, 0.6 - np.maximum(t, 0.5))) / (1 - t)


CASES = {
    "monotone": (lambda c: 0.3 * (1 - c), lambda t: 0.15 * (1 - t), None),
    "bump": (lambda c: 0.05 + 0.3 * ((c > 0.5) & (c < 0.6)), _bump_risk, None),
    "bump, fixed grid": (lambda c: 0.05 + 0.3 * ((c > 0.5) & (c < 0.6)), _bump_risk,
                         np.linspace(0.9, 0.0, 91)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_deferral_error_among_accepted_at_most_epsilon(case):
    error_curve, selective_risk, grid = CASES[case]
    epsilon, delta, reps, n = 0.1, 0.1, 400, 2000
    rng = np.random.default_rng(17)
    failures = certified = 0
    for _ in range(reps):
        conf = rng.random(n)
        wrong = rng.random(n) < error_curve(conf)
        try:
            rule = selective_threshold(conf, ~wrong, epsilon, delta, thresholds=grid)
        except NoThresholdError:
            continue
        certified += 1
        failures += selective_risk(rule.threshold) > epsilon
    assert certified >= reps // 4  # the rule is not vacuous
    assert failures / reps <= binomial_band(delta, reps)[1]


def test_deferral_check_catches_an_uncorrected_rule():
    """Taking the lowest threshold whose *empirical* error is <= epsilon fails often."""
    rng = np.random.default_rng(18)
    reps, n, failures = 200, 2000, 0
    for _ in range(reps):
        conf = rng.random(n)
        wrong = rng.random(n) < 0.3 * (1 - conf)
        order = np.argsort(-conf)
        rate = np.cumsum(wrong[order]) / np.arange(1, n + 1)
        lowest = conf[order][np.flatnonzero(rate <= 0.1)[-1]]
        failures += 0.15 * (1 - lowest) > 0.1
    assert failures / reps > binomial_band(0.1, reps)[1]


# -- subgroups --------------------------------------------------------------------------

def test_bonferroni_clopper_pearson_simultaneous_coverage():
    rng = np.random.default_rng(19)
    sizes = np.array([25, 40, 80, 300, 600])
    truth = np.array([0.95, 0.7, 0.85, 0.6, 0.9])
    groups = np.repeat(np.arange(5), sizes)
    reps, covered = 600, 0
    for _ in range(reps):
        correct = rng.random(groups.size) < truth[groups]
        res = subgroup_performance(None, correct, groups, alpha=0.1)
        covered += np.all((res.lower <= truth) & (truth <= res.upper))
    assert covered / reps >= binomial_band(0.9, reps)[0]


@pytest.mark.parametrize("metric", ["mse", "auc"])
def test_bootstrap_max_t_simultaneous_coverage(metric):
    rng = np.random.default_rng(20)
    sizes = np.array([150, 250, 400, 600])
    scale = np.array([1.0, 2.0, 0.5, 1.5])
    shift = np.array([0.5, 1.0, 1.5, 2.0])
    groups = np.repeat(np.arange(4), sizes)
    if metric == "mse":
        truth = 2 * scale**2  # squared Laplace errors: skewed losses
    else:
        from scipy.stats import norm

        truth = norm.cdf(shift / np.sqrt(2))  # AUC of N(shift, 1) against N(0, 1)
    reps, covered = 200, 0
    for _ in range(reps):
        if metric == "mse":
            y = np.zeros(groups.size)
            pred = rng.laplace(scale=scale[groups])
        else:
            y = (rng.random(groups.size) < 0.3).astype(int)
            pred = rng.normal(size=groups.size) + y * shift[groups]
        res = subgroup_performance(y, pred, groups, metric=metric, alpha=0.1,
                                   n_bootstrap=500, seed=rng)
        covered += np.all((res.lower <= truth) & (truth <= res.upper))
    assert covered / reps >= binomial_band(0.9, reps)[0]

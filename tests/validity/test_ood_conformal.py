"""Guarantees of shiftguard.ood.calibrate: conformal p-values are valid (uniform without
ties, conservative with them), per-row thresholds keep the false-positive rate, BH and
Storey-BH keep the FDR, and calibration-conditional p-values keep their 1 - delta claim.

Tolerances are three binomial standard errors of the number of repetitions. A rate
averaged over the correlated rows of one repetition has a variance no larger than one
row's, and an FDP is a [0, 1] variable whose variance is at most q (1 - q) when its mean is
at most q, so ``binomial_band(level, reps)`` is a conservative band for both.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from helpers import binomial_band
from shiftguard.ood.calibrate import (
    OutlierDetector,
    benjamini_hochberg,
    conformal_pvalues,
    storey_bh,
)

pytestmark = pytest.mark.validity

ADBENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "adbench"


class CentroidDistance:
    """Distance to the training mean, optionally rounded to a grid (heavy ties)."""

    def __init__(self, grid=None):
        self.grid = grid

    def fit(self, X):
        self.center_ = X.mean(axis=0)
        return self

    def score(self, X):
        d = np.linalg.norm(X - self.center_, axis=1)
        return d if self.grid is None else np.floor(d / self.grid)


class Mahalanobis:
    def fit(self, X):
        self.center_ = X.mean(axis=0)
        self.precision_ = np.linalg.pinv(np.cov(X, rowvar=False))
        return self

    def score(self, X):
        d = X - self.center_
        return np.einsum("ij,jk,ik->i", d, self.precision_, d)


def _fdp(flagged, is_outlier):
    return np.sum(flagged & ~is_outlier) / max(1, np.sum(flagged))


# --- marginal conformal p-values ------------------------------------------------------


def test_marginal_pvalues_are_uniform_on_their_grid():
    """Continuous scores: p takes each value k / (n + 1) with probability 1 / (n + 1)."""
    rng = np.random.default_rng(101)
    reps, n = 20000, 19
    scores = rng.standard_t(df=3, size=(reps, n + 1))
    p = np.array([conformal_pvalues(row[:n], row[n:])[0] for row in scores])
    counts = np.bincount(np.round(p * (n + 1)).astype(int), minlength=n + 2)[1:]
    assert chisquare(counts).pvalue > 1e-3
    for a in (0.05, 0.1, 0.25, 0.5):
        exact = np.floor(a * (n + 1)) / (n + 1)
        low, high = binomial_band(exact, reps)
        assert low <= np.mean(p <= a) <= high
        assert exact <= a


def test_marginal_pvalues_stay_valid_with_heavy_ties():
    """Poisson(1.5) scores take a handful of values. Counting ties as 'at least as
    extreme' keeps P(p <= a) <= a; counting only strictly larger scores breaks it, which
    shows this design can detect an invalid p-value."""
    rng = np.random.default_rng(102)
    reps, n, m = 3000, 50, 20
    scores = rng.poisson(1.5, size=(reps, n + m)).astype(float)
    p = np.concatenate([conformal_pvalues(row[:n], row[n:]) for row in scores])
    strict = np.concatenate(
        [(1 + (row[None, :n] > row[n:, None]).sum(axis=1)) / (n + 1) for row in scores]
    )
    for a in (0.02, 0.05, 0.1, 0.2, 0.5):
        assert np.mean(p <= a) <= binomial_band(a, reps)[1]
    assert np.mean(strict <= 0.2) > binomial_band(0.2, reps)[1]


# --- per-row false-positive rate and FDR through OutlierDetector ------------------------


def _gaussian_runs(reps, detector, n_fit, m_in, m_out, shift, seed, **kwargs):
    """Per repetition: fit on n_fit inliers (split 50/50), predict m_in inliers then m_out
    shifted outliers; returns p-values and flags, each (reps, m_in + m_out)."""
    rng = np.random.default_rng(seed)
    d = 3
    pvalues = np.empty((reps, m_in + m_out))
    flags = np.empty((reps, m_in + m_out), dtype=bool)
    for r in range(reps):
        X = rng.normal(size=(n_fit, d))
        X_new = rng.normal(size=(m_in + m_out, d))
        X_new[m_in:] += shift
        model = OutlierDetector(detector, calibration_size=0.5, seed=r, **kwargs).fit(X)
        result = model.predict(X_new)
        pvalues[r], flags[r] = result.pvalues, result.flagged
    return pvalues, flags


@pytest.mark.parametrize("grid", [None, 0.5])
def test_per_row_false_positive_rate(grid):
    """Per-row thresholds at alpha on continuous and on heavily tied scores (distance
    floored to multiples of 0.5: about ten distinct values)."""
    reps, n_fit, m_in, m_out = 1000, 300, 50, 10
    n_cal = 150
    for alpha in (0.05, 0.1):
        _, flags = _gaussian_runs(reps, CentroidDistance(grid), n_fit, m_in, m_out, 3.0,
                                  seed=200 + int(alpha * 100), alpha=alpha)
        fpr = flags[:, :m_in].mean()
        assert fpr <= binomial_band(alpha, reps)[1]
        if grid is None:  # without ties the rate is exactly floor(alpha (n + 1)) / (n + 1)
            exact = np.floor(alpha * (n_cal + 1)) / (n_cal + 1)
            assert fpr >= binomial_band(exact, reps)[0]
        assert flags[:, m_in:].mean() > 0.3  # and it finds outliers


@pytest.mark.parametrize("grid", [None, 0.5])
def test_bh_and_storey_false_discovery_rate(grid):
    reps, n_fit, m_in, m_out, q = 1000, 400, 80, 20, 0.1
    pvalues, flags = _gaussian_runs(reps, CentroidDistance(grid), n_fit, m_in, m_out, 2.5,
                                    seed=300 + (grid is not None), fdr=q)
    is_outlier = np.arange(m_in + m_out) >= m_in
    fdp_bh = np.array([_fdp(f, is_outlier) for f in flags])
    storey = np.array([storey_bh(p, q) for p in pvalues])
    fdp_storey = np.array([_fdp(f, is_outlier) for f in storey])
    assert fdp_bh.mean() <= binomial_band(q, reps)[1]
    assert fdp_storey.mean() <= binomial_band(q, reps)[1]
    assert flags[:, m_in:].mean() > 0.2


def test_real_table_cardio_fpr_and_fdr():
    """ADBench cardio: inliers randomly split into training, calibration and test rows
    each repetition (exchangeable by construction); anomalies are the non-null rows."""
    path = ADBENCH / "6_cardio.npz"
    if not path.exists():
        pytest.skip(f"ADBench table {path} absent (shared data folder not beside the checkout)")
    data = np.load(path)
    X, y = data["X"], data["y"]
    inliers, anomalies = X[y == 0], X[y == 1]
    rng = np.random.default_rng(400)
    reps, n_train, n_cal, m_in, m_out = 1000, 500, 700, 100, 25
    alpha = q = 0.1
    is_outlier = np.arange(m_in + m_out) >= m_in
    fpr = np.empty(reps)
    fdp = np.empty((3, reps))
    power = np.empty(reps)
    for r in range(reps):
        rows = rng.permutation(inliers.shape[0])
        fit, cal = inliers[rows[:n_train]], inliers[rows[n_train:n_train + n_cal]]
        test_in = inliers[rows[n_train + n_cal:n_train + n_cal + m_in]]
        test_out = anomalies[rng.choice(anomalies.shape[0], m_out, replace=False)]
        model = OutlierDetector(Mahalanobis(), fdr=q).fit(fit, X_calibration=cal)
        result = model.predict(np.vstack([test_in, test_out]))
        fpr[r] = np.mean(result.pvalues[:m_in] <= alpha)
        fdp[0, r] = _fdp(result.flagged, is_outlier)
        fdp[1, r] = _fdp(storey_bh(result.pvalues, q), is_outlier)
        conditional = conformal_pvalues(model.calibration_scores_, result.scores,
                                        conditional=True)
        fdp[2, r] = _fdp(benjamini_hochberg(conditional, q), is_outlier)
        power[r] = result.flagged[m_in:].mean()
    assert fpr.mean() <= binomial_band(alpha, reps)[1]
    assert np.all(fdp.mean(axis=1) <= binomial_band(q, reps)[1])
    assert power.mean() > 0.2


# --- calibration-conditional p-values ---------------------------------------------------


def _conditional_fpr_holds(cal, conditional, boundary, delta):
    """Whether P(p <= a | calibration) <= a for every a, for U(0, 1) null scores.

    A test score in the gap between the c-th and (c + 1)-th largest calibration scores
    (length = its probability) has c scores above it and one p-value; P(p <= a | cal) is
    the total length of the gaps whose p-value is <= a, checked at every attained a."""
    edges = np.r_[1.0, np.sort(cal)[::-1], 0.0]
    mass = edges[:-1] - edges[1:]
    p = conformal_pvalues(cal, (edges[:-1] + edges[1:]) / 2, conditional=conditional,
                          delta=delta, boundary=boundary)
    order = np.argsort(p, kind="stable")
    cdf = np.cumsum(mass[order])
    last_of_value = np.r_[p[order][1:] != p[order][:-1], True]
    return bool(np.all(cdf[last_of_value] <= p[order][last_of_value] + 1e-12))


@pytest.mark.parametrize("boundary", ["simes", "dkw"])
def test_conditional_pvalues_hold_their_claim_over_calibration_draws(boundary):
    rng = np.random.default_rng(500)
    reps, n, delta = 3000, 100, 0.1
    cals = rng.uniform(size=(reps, n))
    held = np.mean([_conditional_fpr_holds(c, True, boundary, delta) for c in cals])
    low, high = binomial_band(1 - delta, reps)
    assert held >= low
    if boundary == "simes":
        # for i.i.d. continuous scores the generalized Simes bound is an equality: the
        # claim holds with probability exactly 1 - delta (2e5 draws gave 0.8999 at n = 100)
        assert held <= high
    # the marginal p-values are valid only on average over draws: given the calibration
    # set their rate exceeds some level far more often than delta
    marginal = np.mean([_conditional_fpr_holds(c, False, boundary, delta) for c in cals[:500]])
    assert marginal < 1 - delta - 0.2


def test_conditional_pvalues_hold_their_claim_with_tied_scores():
    """Scores uniform on 20 values (heavy ties): the conditional rate at every attained
    level is exact given the calibration set, from the known null distribution."""
    rng = np.random.default_rng(501)
    reps, n, delta, k = 3000, 120, 0.1, 20
    values = np.arange(k, dtype=float)
    held = 0
    for cal in rng.integers(0, k, size=(reps, n)).astype(float):
        p = conformal_pvalues(cal, values, conditional=True, delta=delta)
        rate = (p[None, :] <= p[:, None]).sum(axis=1) / k  # P(p(T) <= p(v) | cal)
        held += np.all(rate <= p + 1e-12)
    assert held / reps >= binomial_band(1 - delta, reps)[0]

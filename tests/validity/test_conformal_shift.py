"""Coverage under shift: weighted conformal (covariate shift), label-shift weighting, PAC sets.

Synthetic data with a known shift, so the true weights and the true target error exist.
"""

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.conformal import (
    LabelShiftConformalClassifier,
    PACLabelShiftClassifier,
    SplitConformalRegressor,
    WeightedConformalRegressor,
)

pytestmark = pytest.mark.validity

ALPHA = 0.1


class SineModel:
    """The prefit regression function of the simulation."""

    def predict(self, X):
        return np.sin(2 * X[:, 0])


def _covariate_sample(rng, n, shift):
    x = rng.normal(shift, 1.0, size=(n, 1))
    y = np.sin(2 * x[:, 0]) + (0.3 + 0.8 * np.abs(x[:, 0])) * rng.normal(size=n)
    return x, y


def test_weighted_conformal_covers_under_covariate_shift():
    """Source N(0, 1), target N(1, 1): w(x) = exp(x - 1/2) is the exact likelihood ratio."""
    rng = np.random.default_rng(11)
    reps, n = 3000, 100
    weighted = np.empty(reps, dtype=bool)
    plain = np.empty(reps, dtype=bool)
    for r in range(reps):
        x_cal, y_cal = _covariate_sample(rng, n, 0.0)
        x_new, y_new = _covariate_sample(rng, 1, 1.0)
        wcp = WeightedConformalRegressor(SineModel(), alpha=ALPHA, prefit=True)
        wcp.calibrate(x_cal, y_cal, weights=np.exp(x_cal[:, 0] - 0.5))
        weighted[r] = wcp.predict_interval(x_new, weights=np.exp(x_new[:, 0] - 0.5)).covers(y_new)[
            0
        ]
        scp = SplitConformalRegressor(SineModel(), alpha=ALPHA, prefit=True).calibrate(x_cal, y_cal)
        plain[r] = scp.predict_interval(x_new).covers(y_new)[0]
    assert weighted.mean() >= binomial_band(1 - ALPHA, reps)[0]
    # the unweighted method is not valid here; it must undercover, or the test has no power
    assert plain.mean() < binomial_band(1 - ALPHA, reps)[0]


MEANS = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])
SOURCE_PRIOR = np.full(3, 1 / 3)
TARGET_PRIOR = np.array([0.1, 0.3, 0.6])


class GaussianPosterior:
    """Bayes posterior of the source distribution (a fixed, prefit classifier)."""

    classes_ = np.arange(3)

    def predict_proba(self, X):
        logits = -0.5 * ((X[:, None, :] - MEANS[None]) ** 2).sum(axis=2)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)


def _label_sample(rng, n, prior):
    y = rng.choice(3, size=n, p=prior)
    return MEANS[y] + rng.normal(size=(n, 2)), y


@pytest.mark.parametrize("method", ["lac", "aps"])
def test_label_shift_weighted_conformal_covers_on_target(method):
    rng = np.random.default_rng(12)
    reps, n = 3000, 150
    weights = TARGET_PRIOR / SOURCE_PRIOR
    covered = np.empty(reps, dtype=bool)
    for r in range(reps):
        x_cal, y_cal = _label_sample(rng, n, SOURCE_PRIOR)
        x_new, y_new = _label_sample(rng, 1, TARGET_PRIOR)
        cp = LabelShiftConformalClassifier(
            GaussianPosterior(), alpha=ALPHA, method=method, class_weights=weights, prefit=True
        ).calibrate(x_cal, y_cal)
        covered[r] = cp.predict_set(x_new)[0, y_new[0]]
    assert covered.mean() >= binomial_band(1 - ALPHA, reps)[0]


def test_pac_label_shift_sets_hold_with_probability_one_minus_delta():
    """P(target miscoverage > epsilon) <= delta over repetitions of the whole procedure."""
    rng = np.random.default_rng(13)
    reps, n, m, epsilon, delta = 200, 3000, 3000, 0.1, 0.1
    model = GaussianPosterior()
    x_big, y_big = _label_sample(rng, 200_000, TARGET_PRIOR)
    p_true_big = model.predict_proba(x_big)[np.arange(y_big.size), y_big]
    failures = 0
    sizes = []
    for r in range(reps):
        x_cal, y_cal = _label_sample(rng, n, SOURCE_PRIOR)
        x_target, _ = _label_sample(rng, m, TARGET_PRIOR)
        pac = PACLabelShiftClassifier(model, epsilon=epsilon, delta=delta, prefit=True, seed=r)
        pac.calibrate(x_cal, y_cal, X_target=x_target)
        failures += np.mean(p_true_big < pac.tau_) > epsilon
        sizes.append(pac.predict_set(x_big[:2000]).sum(axis=1).mean())
    assert failures / reps <= binomial_band(delta, reps)[1]
    # informative, not the trivial full set of 3 labels
    assert np.mean(sizes) < 2.9


def test_label_shift_weighted_conformal_covers_on_real_digits():
    """Real data, exact label shift: source and target draw each class's digits uniformly
    from the same held-out pool, only the class proportions differ (known weights)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(14).permutation(y.size)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.002))
    model.fit(X[idx[:400]], y[idx[:400]])
    pool_proba, pool_y = model.predict_proba(X[idx[400:]]), y[idx[400:]]
    by_class = [np.flatnonzero(pool_y == k) for k in range(10)]
    source_prior = np.full(10, 0.1)
    target_prior = np.linspace(1.0, 10.0, 10) / 55.0
    lookup = ProbabilityLookup(pool_proba)

    def draw(rng, n, prior):
        labels = rng.choice(10, size=n, p=prior)
        rows = np.array([rng.choice(by_class[k]) for k in labels])
        return rows[:, None], labels

    rng = np.random.default_rng(15)
    reps, n = 2000, 100
    covered = np.empty(reps, dtype=bool)
    for r in range(reps):
        x_cal, y_cal = draw(rng, n, source_prior)
        x_new, y_new = draw(rng, 1, target_prior)
        cp = LabelShiftConformalClassifier(
            lookup, alpha=ALPHA, class_weights=target_prior / source_prior, prefit=True
        ).calibrate(x_cal, y_cal)
        covered[r] = cp.predict_set(x_new)[0, y_new[0]]
    assert covered.mean() >= binomial_band(1 - ALPHA, reps)[0]


class ProbabilityLookup:
    """A prefit "model" whose input is a row index into precomputed probabilities."""

    classes_ = np.arange(10)

    def __init__(self, proba):
        self.proba = proba

    def predict_proba(self, X):
        return self.proba[X[:, 0].astype(int)]

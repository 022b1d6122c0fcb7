"""Coverage of conformal prediction sets on real data over many random splits.

As in ``test_conformal_regression``: one fixed model, scores of a disjoint pool computed
once, then many random calibration/test splits of the pool (exactly split conformal, since
the model never sees the pool). The randomised scores draw their uniforms once per pool
point, which keeps the pool exchangeable.
"""

import functools

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import binomial_band
from shiftguard.conformal import SplitConformalClassifier
from validity.conformal_splits import check_split_coverage, split_coverage

pytestmark = pytest.mark.validity

ALPHA = 0.1
N_CAL = 80


@functools.cache
def _fitted(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        # strongly regularised, so probabilities stay soft and the sets are not singletons
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.002))
    else:
        X, y = load_breast_cancer(return_X_y=True)
        X = X[:, :2]  # two features only: sets of size 2 occur
        model = make_pipeline(StandardScaler(), LogisticRegression())
    idx = np.random.default_rng(len(y)).permutation(len(y))
    fit, pool = idx[:300], idx[300:]
    return model.fit(X[fit], y[fit]), X[pool], y[pool]


CASES = [
    ("lac", False, True),
    ("aps", True, True),
    ("raps", True, True),
    ("aps", False, False),
    ("raps", False, False),
    ("top_k", False, False),
]


@pytest.mark.parametrize("name", ["digits", "breast_cancer"])
@pytest.mark.parametrize(("method", "randomized", "continuous"), CASES)
def test_marginal_coverage_real_data(name, method, randomized, continuous):
    model, X_pool, y_pool = _fitted(name)
    cp = SplitConformalClassifier(
        model,
        alpha=ALPHA,
        method=method,
        randomized=randomized,
        prefit=True,
        seed=5,
        lambda_reg=0.05,
        k_reg=2,
    )
    scores = cp.conformity_scores(X_pool, y_pool)
    covered = split_coverage(
        scores, np.random.default_rng(6), alpha=ALPHA, n_cal=N_CAL, splits=20_000
    )
    if continuous:
        assert np.unique(scores).size == scores.size  # else the exact check below is void
        check_split_coverage(covered, alpha=ALPHA, n_cal=N_CAL, exact=True)
    else:
        # discrete scores: only the lower bound is guaranteed
        assert covered.mean() >= binomial_band(1 - ALPHA, covered.size)[0]


class ProbabilityLookup:
    """A prefit "model" whose input is a row index into precomputed probabilities."""

    def __init__(self, proba, classes):
        self.proba, self.classes_ = proba, classes

    def predict_proba(self, X):
        return self.proba[X[:, 0].astype(int)]


@pytest.mark.parametrize("method", ["lac", "aps"])
def test_class_conditional_coverage_real_data(method):
    """Mondrian calibration covers each class at >= 1 - alpha (checked per class)."""
    fitted, X_pool, y_pool = _fitted("digits")
    model = ProbabilityLookup(fitted.predict_proba(X_pool), fitted.classes_)
    X_pool = np.arange(y_pool.shape[0])[:, None]
    rng = np.random.default_rng(7)
    reps, n_cal = 500, 400
    covered = np.zeros(10)
    counts = np.zeros(10)
    for _ in range(reps):
        perm = rng.permutation(y_pool.shape[0])
        cal, test = perm[:n_cal], perm[n_cal:]
        cp = SplitConformalClassifier(
            model, alpha=ALPHA, method=method, class_conditional=True, prefit=True
        ).calibrate(X_pool[cal], y_pool[cal])
        hit = cp.predict_set(X_pool[test])[np.arange(test.size), y_pool[test]]
        covered += np.bincount(y_pool[test], weights=hit, minlength=10)
        counts += np.bincount(y_pool[test], minlength=10)
    per_class = covered / counts
    # each rep's class coverage is a [0, 1] mean with variance <= p(1-p): the binomial
    # band over reps is conservative
    assert np.all(per_class >= binomial_band(1 - ALPHA, reps)[0])

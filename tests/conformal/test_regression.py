import math

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge

from shiftguard.conformal import (
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    PredictionIntervals,
    SplitConformalRegressor,
)
from shiftguard.errors import EstimatorError, InputError, NotFittedError, ParameterError


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def test_split_interval_is_prediction_plus_minus_the_conformal_quantile(diabetes):
    X, y = diabetes
    model = Ridge().fit(X[:200], y[:200])
    cp = SplitConformalRegressor(model, alpha=0.1, prefit=True).calibrate(X[200:299], y[200:299])
    residuals = np.sort(np.abs(y[200:299] - model.predict(X[200:299])))
    assert cp.quantile_ == residuals[89]  # ceil(100 * 0.9) = 90th smallest
    lower, upper = cp.predict_interval(X[300:])
    np.testing.assert_allclose(upper - lower, 2 * residuals[89])
    np.testing.assert_allclose((upper + lower) / 2, model.predict(X[300:]))


def test_scaled_score_gives_varying_widths(diabetes):
    X, y = diabetes
    cp = SplitConformalRegressor(Ridge(), score="scaled", scale_estimator=Ridge()).fit(
        X[:200], y[:200]
    )
    result = cp.calibrate(X[200:300], y[200:300]).predict_interval(X[300:])
    assert result.width.std() > 0
    assert result.to_dict()["method"] == "split-scaled"


def test_cqr_widens_the_quantile_band_by_the_calibrated_amount(diabetes):
    X, y = diabetes
    lo, hi = (
        LinearRegression().fit(X[:200], y[:200] - 40),
        LinearRegression().fit(X[:200], y[:200] + 40),
    )
    cqr = ConformalizedQuantileRegressor(lo, hi, alpha=0.2, prefit=True)
    cqr.calibrate(X[200:300], y[200:300])
    scores = np.maximum(lo.predict(X[200:300]) - y[200:300], y[200:300] - hi.predict(X[200:300]))
    assert cqr.quantile_ == np.sort(scores)[math.ceil(101 * 0.8) - 1]
    lower, upper = cqr.predict_interval(X[300:])
    np.testing.assert_allclose(lower, lo.predict(X[300:]) - cqr.quantile_)
    np.testing.assert_allclose(upper, hi.predict(X[300:]) + cqr.quantile_)


def test_jackknife_plus_matches_a_direct_leave_one_out_computation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(19, 2))
    y = X @ [1.0, -1.0] + rng.normal(size=19)
    x_new = rng.normal(size=(3, 2))
    jp = JackknifePlusRegressor(LinearRegression(), alpha=0.1, cv=None).fit(X, y)
    lower, upper = jp.predict_interval(x_new)
    lo_vals, hi_vals = [], []
    for i in range(19):
        keep = np.arange(19) != i
        m = LinearRegression().fit(X[keep], y[keep])
        r = abs(y[i] - m.predict(X[i : i + 1])[0])
        lo_vals.append(m.predict(x_new) - r)
        hi_vals.append(m.predict(x_new) + r)
    # n = 19, alpha = 0.1: q+ is the 18th smallest, q- the 2nd smallest
    np.testing.assert_allclose(upper, np.sort(hi_vals, axis=0)[17])
    np.testing.assert_allclose(lower, np.sort(lo_vals, axis=0)[1])
    assert jp.predict_interval(x_new).method == "jackknife+"


def test_intervals_unpack_and_serialise():
    r = PredictionIntervals(np.array([0.0, 1.0]), np.array([1.0, 3.0]), 0.1, "x", "marginal")
    lower, upper = r
    np.testing.assert_array_equal(r.width, [1.0, 2.0])
    np.testing.assert_array_equal(r.covers([0.5, 4.0]), [True, False])
    assert r.to_dict()["lower"] == [0.0, 1.0]


def test_errors(diabetes):
    X, y = diabetes
    model = Ridge().fit(X[:100], y[:100])
    with pytest.raises(NotFittedError, match="fit"):
        SplitConformalRegressor(Ridge()).calibrate(X, y)
    with pytest.raises(NotFittedError, match="calibrate"):
        SplitConformalRegressor(model, prefit=True).predict_interval(X)
    with pytest.raises(EstimatorError, match="predict"):
        SplitConformalRegressor(object(), prefit=True).calibrate(X, y)
    with pytest.raises(InputError, match="lengths differ"):
        SplitConformalRegressor(model, prefit=True).calibrate(X[:50], y[:49])
    with pytest.raises(InputError, match="at least 9"):
        SplitConformalRegressor(model, prefit=True).calibrate(X[:8], y[:8])
    with pytest.raises(InputError, match="NaN"):
        SplitConformalRegressor(model, prefit=True).calibrate(X[:20], np.r_[np.nan, y[1:20]])
    with pytest.raises(InputError, match="scale_estimator"):
        SplitConformalRegressor(model, score="scaled", prefit=True).calibrate(X, y)
    with pytest.raises(ParameterError, match="alpha"):
        SplitConformalRegressor(model, alpha=0.0, prefit=True).calibrate(X, y)
    with pytest.raises(InputError, match="too few"):
        JackknifePlusRegressor(Ridge(), alpha=0.05, cv=2).fit(X[:10], y[:10])
    with pytest.raises(EstimatorError):
        JackknifePlusRegressor(object(), cv=2).fit(X[:30], y[:30])


@pytest.mark.parametrize("cv, alpha", [(5, 0.1), (3, 0.05), (10, 0.2), (None, 0.1)])
def test_fold_merge_gives_the_same_intervals_as_the_full_partition(monkeypatch, cv, alpha):
    """The fold-merge walk (few folds) and the blocked np.partition over all n candidate
    values (many folds) must return identical bounds, ties included: integer data makes
    many residuals and candidate values equal."""
    import shiftguard.conformal.regression as regression

    rng = np.random.default_rng(7)
    X = rng.integers(0, 4, size=(90, 2)).astype(float)
    y = X @ [1.0, 2.0] + rng.integers(-3, 4, size=90)
    X_new = rng.integers(0, 4, size=(40, 2)).astype(float)
    jp = JackknifePlusRegressor(LinearRegression(), alpha=alpha, cv=cv, seed=0).fit(X, y)
    monkeypatch.setattr(regression, "_WALK_MAX_RATIO", 10**9)
    walked = jp.predict_interval(X_new)
    monkeypatch.setattr(regression, "_WALK_MAX_RATIO", 0)
    monkeypatch.setattr(regression, "_BLOCK_CELLS", 1000)  # several rows per block
    sorted_out = jp.predict_interval(X_new)
    np.testing.assert_array_equal(walked.lower, sorted_out.lower)
    np.testing.assert_array_equal(walked.upper, sorted_out.upper)
    assert walked.method == sorted_out.method == ("jackknife+" if cv is None else "cv+")

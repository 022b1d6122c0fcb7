import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression

from shiftguard.conformal import BinnedConformalRegressor, OrdinalSoftmaxClassifier
from shiftguard.conformal.binned import ordinal_loss_and_grad
from shiftguard.errors import InputError, NotFittedError


def test_ordinal_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    zb = np.column_stack([rng.normal(size=(40, 3)), np.ones(40)])
    distance = np.abs(rng.normal(size=40)[:, None] - np.linspace(-2, 2, 6)[None, :]) ** 0.5
    theta = rng.normal(scale=0.3, size=4 * 6)
    args = (zb, distance, 0.2, 1e-3)
    err = check_grad(
        lambda t: ordinal_loss_and_grad(t, *args)[0],
        lambda t: ordinal_loss_and_grad(t, *args)[1],
        theta,
    )
    assert err < 1e-6


def test_mass_concentrates_near_the_target():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(500, 1))
    y = 3 * X[:, 0] + 0.1 * rng.normal(size=500)
    model = OrdinalSoftmaxClassifier(tau=0.01).fit(X, y, centers=np.linspace(-3, 3, 13))
    proba = model.predict_proba(np.array([[-0.8], [0.8]]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[0, :6].sum() > 0.8 and proba[1, 7:].sum() > 0.8


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("classifier", [None, LogisticRegression(max_iter=2000)])
def test_sets_are_bins_above_the_threshold_and_interval_is_their_hull(diabetes, classifier):
    X, y = diabetes
    cp = BinnedConformalRegressor(classifier, alpha=0.2, n_bins=12).fit(X[:200], y[:200])
    cp.calibrate(X[200:320], y[200:320])
    sets = cp.predict_set(X[320:])
    assert sets.shape == (len(y) - 320, 12)
    lower, upper = cp.predict_interval(X[320:])
    some = sets.any(axis=1)
    first = np.argmax(sets, axis=1)
    np.testing.assert_allclose(lower[some], cp.bin_edges_[first[some]])
    assert np.all(upper[some] > lower[some])


def test_out_of_range_targets_score_infinite(diabetes):
    X, y = diabetes
    cp = BinnedConformalRegressor(alpha=0.2, n_bins=10).fit(X[:200], y[:200])
    scores = cp.conformity_scores(X[:2], np.array([y[:200].max() + 1, y[0]]))
    assert scores[0] == np.inf and np.isfinite(scores[1])


def test_errors(diabetes):
    X, y = diabetes
    with pytest.raises(InputError, match="constant"):
        BinnedConformalRegressor().fit(X[:20], np.ones(20))
    with pytest.raises(NotFittedError):
        BinnedConformalRegressor().calibrate(X[:20], y[:20])

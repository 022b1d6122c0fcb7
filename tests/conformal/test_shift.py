import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from shiftguard.conformal import (
    LabelShiftConformalClassifier,
    PACLabelShiftClassifier,
    SplitConformalClassifier,
    SplitConformalRegressor,
    WeightedConformalClassifier,
    WeightedConformalRegressor,
)
from shiftguard.errors import InputError
from shiftguard.shift import ClassifierDensityRatio


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = X @ [1.0, 2.0] + rng.normal(size=400)
    return LinearRegression().fit(X[:100], y[:100]), X[100:], y[100:]


def test_unit_weights_reproduce_split_conformal(regression):
    model, X, y = regression
    plain = SplitConformalRegressor(model, alpha=0.1, prefit=True).calibrate(X[:199], y[:199])
    weighted = WeightedConformalRegressor(model, alpha=0.1, prefit=True)
    weighted.calibrate(X[:199], y[:199], weights=np.ones(199))
    a = plain.predict_interval(X[200:])
    b = weighted.predict_interval(X[200:], weights=np.ones(100))
    np.testing.assert_allclose(a.lower, b.lower)
    np.testing.assert_allclose(a.upper, b.upper)


def test_density_ratio_weight_function_is_used(regression):
    model, X, y = regression
    target = X[:150] + np.array([1.0, 0.0])
    ratio = ClassifierDensityRatio().fit(X[150:], target)
    wcp = WeightedConformalRegressor(model, weight_function=ratio, prefit=True)
    result = wcp.calibrate(X[:150], y[:150]).predict_interval(target[:20])
    assert np.all(result.upper > result.lower)
    with pytest.raises(InputError, match="weights"):
        WeightedConformalRegressor(model, prefit=True).calibrate(X[:150], y[:150])


def test_weights_are_validated(regression):
    model, X, y = regression
    wcp = WeightedConformalRegressor(model, prefit=True)
    with pytest.raises(InputError, match="expected 150 weights"):
        wcp.calibrate(X[:150], y[:150], weights=np.ones(10))
    with pytest.raises(InputError, match="non-negative"):
        wcp.calibrate(X[:150], y[:150], weights=-np.ones(150))


@pytest.fixture(scope="module")
def classification():
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    y = rng.integers(0, 3, size=900)
    X = means[y] + rng.normal(size=(900, 2))
    return LogisticRegression().fit(X[:300], y[:300]), X[300:], y[300:]


def test_weighted_classifier_with_unit_weights_matches_split(classification):
    model, X, y = classification
    plain = SplitConformalClassifier(model, alpha=0.1, prefit=True).calibrate(X[:300], y[:300])
    weighted = WeightedConformalClassifier(model, alpha=0.1, prefit=True)
    weighted.calibrate(X[:300], y[:300], weights=np.ones(300))
    np.testing.assert_array_equal(
        plain.predict_set(X[300:]), weighted.predict_set(X[300:], weights=np.ones(300))
    )


def test_label_shift_unit_class_weights_match_split(classification):
    model, X, y = classification
    plain = SplitConformalClassifier(model, alpha=0.1, prefit=True).calibrate(X[:300], y[:300])
    shifted = LabelShiftConformalClassifier(model, alpha=0.1, class_weights=np.ones(3), prefit=True)
    shifted.calibrate(X[:300], y[:300])
    np.testing.assert_array_equal(plain.predict_set(X[300:]), shifted.predict_set(X[300:]))


def test_label_shift_estimates_weights_from_target(classification):
    model, X, y = classification
    target = X[300:][y[300:] == 2]
    cp = LabelShiftConformalClassifier(model, prefit=True).calibrate(
        X[:300], y[:300], X_target=target
    )
    assert cp.class_weights_.argmax() == 2
    with pytest.raises(InputError, match="X_target"):
        LabelShiftConformalClassifier(model, prefit=True).calibrate(X[:300], y[:300])


def test_pac_sets_are_superlevel_sets_and_grow_with_confidence(classification):
    model, X, y = classification
    loose = PACLabelShiftClassifier(model, epsilon=0.2, delta=0.2, prefit=True, seed=0)
    tight = PACLabelShiftClassifier(model, epsilon=0.05, delta=0.01, prefit=True, seed=0)
    for pac in (loose, tight):
        pac.calibrate(X[:400], y[:400], X_target=X[400:])
        np.testing.assert_array_equal(
            pac.predict_set(X[400:]), model.predict_proba(X[400:]) >= pac.tau_
        )
    assert tight.tau_ <= loose.tau_

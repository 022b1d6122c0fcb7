import functools
import json

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.shift import (
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    VennAbers,
    calibration_drift_test,
    calibration_error,
    calibration_test,
    reliability_curve,
)


@functools.cache
def _split_model(name):
    """A logistic model fitted on a third of a real data set; the rest split in two."""
    X, y = (load_breast_cancer if name == "breast_cancer" else load_digits)(return_X_y=True)
    idx = np.random.default_rng(7).permutation(y.size)
    fit, cal, test = np.array_split(idx, 3)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    model.fit(X[fit], y[fit])
    return model, X[cal], y[cal], X[test], y[test]


# -- binned error and reliability curve -------------------------------------------------

def test_binned_error_by_hand():
    p, y = [0.1, 0.2, 0.8, 0.9], [0, 1, 1, 1]
    # bin [0, .5): conf .15, freq .5; bin [.5, 1]: conf .85, freq 1
    assert calibration_error(p, y, n_bins=2, seed=0).estimate == pytest.approx(0.25)
    assert calibration_error(p, y, n_bins=2, power=2, seed=0).estimate == pytest.approx(0.0725)
    # debiased: subtract .5 * .5 / (2 - 1) in the first bin, 0 in the second
    debiased = calibration_error(p, y, n_bins=2, power=2, debiased=True, seed=0)
    assert debiased.estimate == pytest.approx(0.5 * (0.35**2 - 0.25) + 0.5 * 0.15**2)


def test_debiased_l1_uses_closed_form_normal_correction():
    rng = np.random.default_rng(0)
    p = rng.random(400)
    y = (rng.random(400) < p).astype(int)
    res = calibration_error(p, y, n_bins=4, debiased=True, seed=0)
    bins = np.minimum((p * 4).astype(int), 3)
    w = np.bincount(bins) / p.size
    acc = np.bincount(bins, weights=y) / np.bincount(bins)
    gap = acc - np.bincount(bins, weights=p) / np.bincount(bins)
    sigma = np.sqrt(acc * (1 - acc) / np.bincount(bins))
    # E|gap + sigma Z| by Monte Carlo, as Kumar et al.'s code does
    z = np.random.default_rng(1).normal(size=(200_000, 1))
    folded = np.abs(gap + sigma * z).mean(axis=0)
    expected = 2 * (w * np.abs(gap)).sum() - (w * folded).sum()
    assert res.estimate == pytest.approx(expected, abs=2e-4)


def test_multiclass_is_top_label_and_interval_brackets():
    model, X, y, _, _ = _split_model("digits")
    proba = model.predict_proba(X)
    res = calibration_error(proba, y, seed=1)
    conf, correct = proba.max(axis=1), (proba.argmax(axis=1) == y).astype(int)
    same = calibration_error(conf, correct, seed=1)
    assert res.estimate == pytest.approx(same.estimate)
    assert 0.0 <= res.lower <= res.upper
    assert json.dumps(res.to_dict())
    quantile = calibration_error(proba, y, strategy="quantile", n_bins=10, seed=1)
    assert quantile.n_bins <= 10 and quantile.estimate > 0


def test_bootstrap_is_seeded():
    p = np.linspace(0.01, 0.99, 300)
    y = (np.random.default_rng(3).random(300) < p**2).astype(int)
    a = calibration_error(p, y, seed=5)
    assert a == calibration_error(p, y, seed=5)
    assert a.lower < a.estimate < a.upper  # far from zero, the interval surrounds it


def test_reliability_curve_matches_sklearn_calibration_curve():
    model, X, y, _, _ = _split_model("breast_cancer")
    p = model.predict_proba(X)[:, 1]
    curve = reliability_curve(p, y, n_bins=10, interval="bootstrap", seed=0)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose(curve.accuracy, prob_true)
    np.testing.assert_allclose(curve.confidence, prob_pred)
    assert curve.count.sum() == y.size
    assert np.all(curve.lower <= curve.accuracy + 1e-12)
    assert np.all(curve.accuracy <= curve.upper + 1e-12)


def test_reliability_curve_clopper_pearson_is_exact_interval():
    from scipy.stats import binomtest

    p = np.array([0.1] * 10 + [0.9] * 20)
    y = np.r_[np.zeros(8), np.ones(2), np.ones(15), np.zeros(5)].astype(int)
    curve = reliability_curve(p, y, n_bins=2, interval="clopper-pearson", alpha=0.1)
    ci = binomtest(15, 20).proportion_ci(confidence_level=0.9, method="exact")
    assert curve.lower[1] == pytest.approx(ci.low) and curve.upper[1] == pytest.approx(ci.high)


# -- tests -------------------------------------------------------------------------------

def test_spiegelhalter_by_formula():
    p = np.array([0.1, 0.3, 0.6, 0.8, 0.95, 0.2])
    y = np.array([0, 1, 1, 0, 1, 0])
    z = ((y - p) * (1 - 2 * p)).sum() / np.sqrt(((1 - 2 * p) ** 2 * p * (1 - p)).sum())
    res = calibration_test(p, y)
    assert res.statistic == pytest.approx(z)
    assert res.pvalue == pytest.approx(2 * norm.sf(abs(z)))
    assert res.reduction == "binary"


def test_spiegelhalter_degenerate_probabilities_give_pvalue_one():
    assert calibration_test([0.5, 0.5, 0.5], [0, 1, 1]).pvalue == 1.0


def test_one_vs_rest_holm():
    from shiftguard.stats import adjust_pvalues

    model, X, y, _, _ = _split_model("digits")
    proba = model.predict_proba(X)
    res = calibration_test(proba, y, reduction="one-vs-rest")
    assert res.class_pvalues.shape == (10,)
    assert res.pvalue == pytest.approx(adjust_pvalues(res.class_pvalues, "holm").min())
    top = calibration_test(proba, y)
    assert top.reduction == "top-label" and 0 <= top.pvalue <= 1


def test_tests_on_real_data_detect_a_miscalibrated_model():
    model, X, y, X2, y2 = _split_model("breast_cancer")
    p_cal = model.predict_proba(X)[:, 1]
    # shrinking the logit by 4 makes the model grossly under-confident
    logit = np.log(p_cal) - np.log1p(-p_cal)
    flat = 1 / (1 + np.exp(-logit / 4))
    assert calibration_test(flat, y).pvalue < 1e-3
    p_test = model.predict_proba(X2)[:, 1]
    same = calibration_drift_test(p_cal, y, p_test, y2)
    assert same.pvalue > 0.01
    flipped = np.where(np.arange(y2.size) % 4 == 0, 1 - y2, y2)
    drift = calibration_drift_test(p_cal, y, p_test, flipped)
    assert drift.pvalue < 1e-4
    assert drift.current_slope < same.current_slope
    assert json.dumps(drift.to_dict())


def test_drift_test_recovers_intercept_and_slope():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.98, 20_000)
    logit = np.log(p / (1 - p))
    y_ref = rng.random(p.size) < p
    y_cur = rng.random(p.size) < 1 / (1 + np.exp(-(0.5 + 0.7 * logit)))
    res = calibration_drift_test(p, y_ref, p, y_cur)
    assert res.reference_intercept == pytest.approx(0, abs=0.06)
    assert res.reference_slope == pytest.approx(1, abs=0.06)
    assert res.current_intercept == pytest.approx(0.5, abs=0.06)
    assert res.current_slope == pytest.approx(0.7, abs=0.06)


# -- recalibration -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["breast_cancer", "digits"])
@pytest.mark.parametrize(
    ("method", "ours"),
    [("sigmoid", PlattScaling), ("isotonic", IsotonicCalibration),
     ("temperature", functools.partial(TemperatureScaling, from_logits=True))],
)
def test_recalibration_matches_sklearn(name, method, ours):
    model, X_cal, y_cal, X_test, _ = _split_model(name)
    reference = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    expected = reference.fit(X_cal, y_cal).predict_proba(X_test)
    fitted = ours().fit(model.decision_function(X_cal), y_cal)
    got = fitted.predict_proba(model.decision_function(X_test))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0)


def test_temperature_recovers_a_known_temperature_and_keeps_the_argmax():
    rng = np.random.default_rng(4)
    z = rng.normal(scale=3.0, size=(20_000, 4))
    true = np.exp(z / 2.0)
    true /= true.sum(axis=1, keepdims=True)
    y = (rng.random((z.shape[0], 1)) > np.cumsum(true, axis=1)).sum(axis=1)
    ts = TemperatureScaling(from_logits=True).fit(z, y)
    assert ts.temperature_ == pytest.approx(2.0, rel=0.05)
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    from_probs = TemperatureScaling().fit(softmax, y)
    assert from_probs.temperature_ == pytest.approx(ts.temperature_, rel=1e-6)
    assert np.array_equal(ts.predict_proba(z).argmax(axis=1), z.argmax(axis=1))


def test_temperature_of_useless_logits_is_infinite():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(500, 3))
    y = (z.argmax(axis=1) + 1) % 3  # the top logit is never right
    ts = TemperatureScaling(from_logits=True).fit(z, y)
    assert ts.temperature_ == np.inf
    np.testing.assert_allclose(ts.predict_proba(z), 1 / 3)


def test_venn_abers_hand_example():
    va = VennAbers().fit([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    # test point 0.25 labelled 0: isotonic fit [0, 1/3, 1/3, 1/3, 1]; labelled 1: 2/3
    np.testing.assert_allclose(va.predict_p0_p1([0.25]), [[1 / 3, 2 / 3]])
    np.testing.assert_allclose(va.predict_proba([0.25]), [[0.5, 0.5]])


def test_venn_abers_equals_isotonic_refits_with_ties():
    rng = np.random.default_rng(6)
    for _ in range(10):
        n = int(rng.integers(5, 40))
        scores = rng.integers(0, 8, n) / 8.0
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        test = np.r_[np.arange(-1, 10) / 8.0, np.arange(9) / 8.0 + 1 / 16]
        expected = np.array([
            [IsotonicRegression().fit(np.r_[scores, t], np.r_[labels, lab]).predict([t])[0]
             for lab in (0, 1)]
            for t in test
        ])
        got = VennAbers().fit(scores, labels).predict_p0_p1(test)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_venn_abers_on_real_data():
    model, X_cal, y_cal, X_test, y_test = _split_model("breast_cancer")
    va = VennAbers().fit(model.predict_proba(X_cal), y_cal)
    pair = va.predict_p0_p1(model.predict_proba(X_test))
    merged = va.predict_proba(model.predict_proba(X_test))[:, 1]
    assert np.all(pair[:, 0] <= pair[:, 1] + 1e-12)
    assert np.all((pair[:, 0] - 1e-12 <= merged) & (merged <= pair[:, 1] + 1e-12))
    assert np.mean((merged > 0.5) == y_test) > 0.9


def test_recalibration_errors():
    with pytest.raises(NotFittedError):
        PlattScaling().predict_proba([0.1, 0.2])
    with pytest.raises(InputError, match="both outcomes"):
        IsotonicCalibration().fit([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(InputError, match="binary"):
        VennAbers().fit(np.full((4, 3), 1 / 3), [0, 1, 2, 0])
    with pytest.raises(InputError, match="3 classes"):
        PlattScaling().fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 2, 0]).predict_proba(np.eye(4))
    with pytest.raises(InputError, match="sum to one"):
        TemperatureScaling().fit([[0.5, 0.6], [0.5, 0.5]], [0, 1])
    with pytest.raises(InputError, match="never saw"):
        TemperatureScaling(from_logits=True).fit(np.zeros((3, 2)), [0, 1, 2])


# -- bad input ---------------------------------------------------------------------------

def test_bad_input():
    with pytest.raises(InputError, match="sum to one"):
        calibration_error([[0.2, 0.2], [0.5, 0.5]], [0, 1])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        calibration_test([0.2, 1.2], [0, 1])
    with pytest.raises(InputError, match="never saw"):
        calibration_error([[0.2, 0.8], [0.5, 0.5]], [0, 2])
    with pytest.raises(InputError, match="NaN"):
        calibration_error([0.2, np.nan], [0, 1])
    with pytest.raises(InputError, match="expected 2 labels"):
        calibration_test([0.2, 0.3], [0, 1, 1])
    with pytest.raises(ParameterError):
        calibration_error([0.2, 0.3], [0, 1], power=3)
    with pytest.raises(ParameterError):
        calibration_error([0.2, 0.3], [0, 1], strategy="equal")
    with pytest.raises(ParameterError):
        reliability_curve([0.2, 0.3], [0, 1], interval="wilson")
    with pytest.raises(InputError, match="number of classes"):
        calibration_drift_test(np.full((2, 3), 1 / 3), [0, 1], np.full((2, 2), 0.5), [0, 1])
    with pytest.raises(InputError, match="same"):
        calibration_drift_test([0.2, 0.7], [1, 1], [0.2, 0.7], [0, 1])
    with pytest.raises(ParameterError):
        calibration_drift_test([0.2, 0.7], [0, 1], [0.2, 0.7], [0, 1], n_knots=9)

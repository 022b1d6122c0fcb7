"""Conformal p-values, BH / Storey-BH and the OutlierDetector wrapper."""

import dataclasses
import doctest
import json
import math
import pickle

import numpy as np
import pytest
from scipy.special import comb
from scipy.stats import false_discovery_control
from sklearn.ensemble import IsolationForest

import shiftguard.ood.calibrate as calibrate
from helpers import load_adbench
from shiftguard.errors import EstimatorError, InputError, NotFittedError, ParameterError
from shiftguard.ood.calibrate import (
    OutlierDetector,
    benjamini_hochberg,
    conditional_bounds,
    conformal_pvalues,
    needed_calibration_size,
    storey_bh,
)
from shiftguard.ood.metrics import auroc


class CentroidDistance:
    """Minimal detector outside sklearn's conventions: distance to the training mean."""

    def fit(self, X):
        self.center_ = X.mean(axis=0)
        return self

    def score(self, X):
        return np.linalg.norm(X - self.center_, axis=1)


def test_docstring_examples_run():
    assert doctest.testmod(calibrate, raise_on_error=False).failed == 0


# --- conformal p-values -------------------------------------------------------------


@pytest.mark.parametrize("levels", [None, 4])
def test_marginal_pvalues_equal_the_counting_formula(rng, levels):
    cal = rng.normal(size=300)
    test = np.concatenate([rng.normal(size=200), cal[:20]])  # exact ties with calibration
    if levels:
        cal, test = np.round(cal * levels), np.round(test * levels)
    expected = (1 + (cal[None, :] >= test[:, None]).sum(axis=1)) / (cal.size + 1)
    np.testing.assert_array_equal(conformal_pvalues(cal, test), expected)


def test_marginal_pvalues_extremes():
    p = conformal_pvalues([1.0, 2.0, 3.0], [10.0, -10.0, 2.0])
    np.testing.assert_array_equal(p, [0.25, 1.0, 0.75])
    assert conformal_pvalues([1.0], []).shape == (0,)


def _simes_bounds_by_products(n, delta):
    """The paper's Simes boundary in its product form, read off order statistic by order
    statistic (Bates et al. 2023, sec. 3): a test score exceeded by c calibration scores
    gets 1 - a_{n-c}, a_i = (delta * C(i, k) / C(n, k))^(1/k) for i >= k, else 0."""
    k = max(1, n // 2)
    bound = np.ones(n + 1)
    for c in range(n):
        i = n - c
        a = (delta * comb(i, k, exact=True) / comb(n, k, exact=True)) ** (1 / k) if i >= k else 0
        bound[c] = 1.0 - a
    return bound


@pytest.mark.parametrize("n", [1, 2, 7, 40, 301])
@pytest.mark.parametrize("delta", [0.05, 0.2])
def test_simes_boundary_matches_the_product_formula(n, delta):
    np.testing.assert_allclose(conditional_bounds(n, delta), _simes_bounds_by_products(n, delta),
                               rtol=1e-10, atol=1e-12)


def test_conditional_pvalues_follow_the_papers_marginal_to_conditional_map(rng):
    """The reference implementation maps a marginal p-value p to 1 - a[floor((n+1)(1-p))];
    our count-based route must agree, ties included."""
    n, delta = 250, 0.1
    cal = np.round(rng.normal(size=n), 1)
    test = np.round(rng.normal(size=400) * 1.5, 1)
    marginal = conformal_pvalues(cal, test)
    a = 1.0 - _simes_bounds_by_products(n, delta)[::-1]  # a[j] for j = 0..n, a[0] unused
    index = np.maximum(1, np.round((n + 1) * (1 - marginal)).astype(int))
    expected = np.where(marginal >= 1.0, 1.0, 1.0 - a[index])
    np.testing.assert_allclose(conformal_pvalues(cal, test, conditional=True, delta=delta),
                               expected, rtol=1e-10)


def test_dkw_boundary(rng):
    n, delta = 500, 0.1
    cal, test = rng.normal(size=n), rng.normal(size=300)
    eps = math.sqrt(math.log(1 / delta) / (2 * n))
    count = (cal[None, :] >= test[:, None]).sum(axis=1)
    expected = np.where(count == n, 1.0, np.minimum(1.0, count / n + eps))
    got = conformal_pvalues(cal, test, conditional=True, delta=delta, boundary="dkw")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # above delta = 1/2 Massart's one-sided constant no longer applies: the two-sided one does
    wide = conditional_bounds(n, 0.7, "dkw")[0]
    assert wide == pytest.approx(math.sqrt(math.log(2 / 0.7) / (2 * n)))


@pytest.mark.parametrize("boundary", ["simes", "dkw"])
def test_conditional_pvalues_are_monotone_and_pay_for_the_guarantee(rng, boundary):
    cal = rng.normal(size=200)
    grid = np.linspace(-4, 4, 300)
    conditional = conformal_pvalues(cal, grid, conditional=True, boundary=boundary)
    assert np.all(np.diff(conditional) <= 0)  # higher score, smaller p-value
    assert conditional[-1] > 1 / 201  # the smallest conditional p-value is above 1/(n+1)
    assert conditional[0] == 1.0


def test_pvalue_input_errors():
    with pytest.raises(InputError, match="calibration_scores"):
        conformal_pvalues([], [1.0])
    with pytest.raises(InputError, match="NaN"):
        conformal_pvalues([1.0, np.nan], [1.0])
    with pytest.raises(ParameterError, match="delta"):
        conformal_pvalues([1.0, 2.0], [1.0], conditional=True, delta=1.5)
    with pytest.raises(ParameterError, match="boundary"):
        conformal_pvalues([1.0, 2.0], [1.0], conditional=True, boundary="bonferroni")


# --- BH and Storey ----------------------------------------------------------------------


def test_benjamini_hochberg_equals_scipy(rng):
    p = np.concatenate([rng.uniform(size=80), rng.uniform(0, 0.01, size=20)])
    for q in (0.05, 0.1, 0.3):
        np.testing.assert_array_equal(benjamini_hochberg(p, q), false_discovery_control(p) <= q)


def test_storey_is_bh_at_q_over_pi0(rng):
    p = np.concatenate([rng.uniform(size=60), rng.uniform(0, 0.02, size=140)])
    q, lam = 0.1, 0.5
    pi0 = (1 + np.sum(p > lam)) / (p.size * (1 - lam))
    m = p.size
    sorted_p = np.sort(p)
    passes = np.flatnonzero(sorted_p <= q / pi0 * np.arange(1, m + 1) / m)
    expected = (p <= sorted_p[passes[-1]]) & (p <= lam)
    np.testing.assert_array_equal(storey_bh(p, q, lam), expected)
    # with most rows non-null, pi0 is well below 1 and Storey flags more than BH
    assert storey_bh(p, q, lam).sum() > benjamini_hochberg(p, q).sum()


def test_storey_and_bh_edge_cases():
    assert storey_bh([], 0.1).shape == (0,)
    assert not storey_bh([0.9, 0.95], 0.1).any()
    # nothing above lambda_ is rejected, however small pi0 gets
    assert storey_bh(np.r_[np.full(99, 1e-4), 0.6], 0.5).tolist() == [True] * 99 + [False]
    with pytest.raises(ParameterError, match="lambda_"):
        storey_bh([0.1], 0.1, lambda_=1.0)
    with pytest.raises(ParameterError, match="q"):
        benjamini_hochberg([0.1], q=0.0)
    with pytest.raises(InputError, match="p-values must lie"):
        benjamini_hochberg([1.5], q=0.1)


# --- calibration size -------------------------------------------------------------------


@pytest.mark.parametrize("level", [0.5, 0.1, 0.05, 0.01, 0.003])
@pytest.mark.parametrize("conditional,boundary", [(False, "simes"), (True, "simes"),
                                                  (True, "dkw")])
def test_needed_calibration_size_is_the_smallest_that_can_flag(level, conditional, boundary):
    n = needed_calibration_size(level, conditional=conditional, boundary=boundary)

    def smallest(size):
        return conformal_pvalues(np.arange(size), [size + 1.0], conditional=conditional,
                                 boundary=boundary)[0]

    assert smallest(n) <= level
    if n > 1:
        assert smallest(n - 1) > level
    if not conditional:
        assert n == max(1, math.ceil(1 / level - 1 - 1e-9))


# --- OutlierDetector ----------------------------------------------------------------------


def test_exactly_one_of_alpha_and_fdr(rng):
    X = rng.normal(size=(100, 2))
    for kwargs in ({}, {"alpha": 0.1, "fdr": 0.1}):
        with pytest.raises(ParameterError, match="exactly one"):
            OutlierDetector(CentroidDistance(), **kwargs).fit(X)
    with pytest.raises(ParameterError, match="fdr_method"):
        OutlierDetector(CentroidDistance(), fdr=0.1, fdr_method="by").fit(X)
    with pytest.raises(ParameterError, match="alpha"):
        OutlierDetector(CentroidDistance(), alpha=1.2).fit(X)


def test_too_small_calibration_set_says_how_many_are_needed(rng):
    X = rng.normal(size=(60, 2))
    with pytest.raises(InputError, match="at least 99 are needed"):
        OutlierDetector(CentroidDistance(), alpha=0.01, calibration_size=0.5).fit(X)
    with pytest.raises(InputError, match="at least 19 are needed"):
        OutlierDetector(CentroidDistance(), fdr=0.05).fit(X, X_calibration=X[:18])
    with pytest.raises(InputError, match="conditional conformal p-value <= 0.1"):
        OutlierDetector(CentroidDistance(), alpha=0.1, conditional=True).fit(X)
    OutlierDetector(CentroidDistance(), fdr=0.05).fit(X, X_calibration=X[:19])


def test_constructor_stores_arguments_and_split_is_seeded(rng):
    X = rng.normal(size=(200, 3))
    forest = IsolationForest(n_estimators=20, random_state=0)
    model = OutlierDetector(forest, alpha=0.1, calibration_size=50, seed=3)
    assert model.detector is forest and model.calibration_size == 50 and model.seed == 3
    first = model.fit(X).calibration_scores_.copy()
    assert model.n_features_in_ == 3 and first.shape == (50,)
    assert not hasattr(forest, "estimators_")  # the user's detector stays unfitted
    np.testing.assert_array_equal(model.fit(X).calibration_scores_, first)
    other = OutlierDetector(forest, alpha=0.1, calibration_size=50, seed=4).fit(X)
    assert not np.array_equal(other.calibration_scores_, first)


def test_split_sizes_and_invalid_sizes(rng):
    X = rng.normal(size=(101, 2))
    model = OutlierDetector(CentroidDistance(), alpha=0.2, calibration_size=0.3, seed=0).fit(X)
    assert model.calibration_scores_.shape == (31,)
    for size in (0.0, 1.0, 101, True, "half"):
        with pytest.raises(ParameterError, match="calibration_size"):
            OutlierDetector(CentroidDistance(), alpha=0.2, calibration_size=size).fit(X)


def test_explicit_calibration_set_is_scored_by_a_detector_fitted_on_all_of_X(rng):
    X, X_cal = rng.normal(size=(150, 2)), rng.normal(size=(40, 2))
    model = OutlierDetector(CentroidDistance(), alpha=0.1).fit(X, X_calibration=X_cal)
    np.testing.assert_allclose(model.detector_.center_, X.mean(axis=0))
    expected = np.sort(np.linalg.norm(X_cal - X.mean(axis=0), axis=1))
    np.testing.assert_allclose(model.calibration_scores_, expected)
    with pytest.raises(InputError, match="fitted on 2"):
        OutlierDetector(CentroidDistance(), alpha=0.1).fit(X, X_calibration=X_cal[:, :1])


@pytest.mark.parametrize("kwargs,method", [({"alpha": 0.05}, "threshold"),
                                           ({"fdr": 0.1}, "bh"),
                                           ({"fdr": 0.1, "fdr_method": "storey"}, "storey"),
                                           ({"alpha": 0.05, "conditional": True}, "threshold")])
def test_predict_result(rng, kwargs, method):
    X = rng.normal(size=(400, 2))
    X_new = np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(6, 2)) + 8.0])
    model = OutlierDetector(CentroidDistance(), seed=0, **kwargs).fit(X)
    result = model.predict(X_new)
    assert result.method == method and result.n_calibration == 120
    np.testing.assert_array_equal(result.flagged, result.pvalues <= result.threshold_pvalue)
    expected_p = conformal_pvalues(model.calibration_scores_, result.scores,
                                   conditional=result.conditional)
    np.testing.assert_array_equal(result.pvalues, expected_p)
    assert result.flagged[-6:].all()  # far outliers are caught by every rule
    assert result.n_flagged <= 6 + 5
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["method"] == method and len(payload["flagged"]) == 36
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = "other"  # type: ignore[misc]


def test_predict_errors_and_empty_input(rng):
    X = rng.normal(size=(100, 2))
    with pytest.raises(NotFittedError, match="fit"):
        OutlierDetector(CentroidDistance(), alpha=0.1).predict(X)
    model = OutlierDetector(CentroidDistance(), alpha=0.1, seed=0).fit(X)
    with pytest.raises(InputError, match="fitted on 2"):
        model.predict(rng.normal(size=(5, 3)))
    with pytest.raises(InputError, match="NaN"):
        model.predict([[np.nan, 0.0]])
    empty = model.predict(np.zeros((0, 2)))
    assert empty.flagged.shape == (0,) and empty.n_flagged == 0
    assert OutlierDetector(CentroidDistance(), fdr=0.1, seed=0).fit(X).predict(
        np.zeros((0, 2))).threshold_pvalue == 0.0


def test_fitted_detector_pickles(rng):
    X = rng.normal(size=(200, 2))
    model = OutlierDetector(IsolationForest(n_estimators=10, random_state=0), fdr=0.2,
                            seed=1).fit(X)
    clone = pickle.loads(pickle.dumps(model))
    X_new = rng.normal(size=(20, 2)) * 3
    np.testing.assert_array_equal(clone.predict(X_new).pvalues, model.predict(X_new).pvalues)


def test_score_conventions(rng):
    X = rng.normal(size=(300, 2))
    far = np.array([[9.0, 9.0]])
    forest = OutlierDetector(IsolationForest(n_estimators=30, random_state=0), alpha=0.05,
                             seed=0).fit(X)
    # scikit-learn's score_samples is higher for inliers: the wrapper negates it
    np.testing.assert_allclose(forest.predict(far).scores,
                               -forest.detector_.score_samples(far))
    assert forest.predict(far).flagged[0]

    class PyodLike:  # PyOD: decision_function is higher for outliers
        def fit(self, X):
            self.center_ = X.mean(axis=0)
            return self

        def decision_function(self, X):
            return np.abs(X - self.center_).sum(axis=1)

        def score_samples(self, X):  # must not be used for a PyOD detector
            raise AssertionError("PyOD detectors are read through decision_function")

    PyodLike.__module__ = "pyod.models.fake"
    pyod_like = OutlierDetector(PyodLike(), alpha=0.05, seed=0).fit(X)
    assert pyod_like.predict(far).flagged[0]

    class Silent:
        def fit(self, X):
            return self

    with pytest.raises(EstimatorError, match="no score"):
        OutlierDetector(Silent(), alpha=0.1).fit(X)

    class WrongLength(CentroidDistance):
        def score(self, X):
            return np.zeros(3)

    with pytest.raises(EstimatorError, match="returned 3 scores"):
        OutlierDetector(WrongLength(), alpha=0.1).fit(X)


def test_real_table_cardio_flags_anomalies_and_spares_inliers():
    """Cardio: fit and calibrate on inliers only; test on held-out inliers and anomalies.

    BH needs a large calibration set: among m = 431 test rows it flags r rows only if r
    p-values are <= 0.1 r / m, and no p-value is below 1 / (n + 1)."""
    X, y = load_adbench("6_cardio")
    rng = np.random.default_rng(7)
    inliers = rng.permutation(np.flatnonzero(y == 0))
    train, cal, test_inliers = inliers[:600], inliers[600:1400], inliers[1400:]
    X_test = np.vstack([X[test_inliers], X[y == 1]])
    truth = np.r_[np.zeros(test_inliers.size), np.ones(int(y.sum()))]

    def predict(**kwargs):
        model = OutlierDetector(IsolationForest(n_estimators=100, random_state=0), **kwargs)
        return model.fit(X[train], X_calibration=X[cal]).predict(X_test)

    result = predict(fdr=0.1)
    assert auroc(truth, result.scores, n_bootstrap=0).estimate > 0.9
    false = np.sum(result.flagged & (truth == 0))
    assert false / max(1, result.n_flagged) < 0.2  # one draw: loose; FDR itself is in validity
    assert np.mean(result.flagged[truth == 1]) > 0.4
    storey = predict(fdr=0.1, fdr_method="storey")
    assert storey.n_flagged >= result.n_flagged
    per_row = predict(alpha=0.05)
    assert np.mean(per_row.flagged[truth == 0]) < 0.1
    assert np.mean(per_row.flagged[truth == 1]) > 0.6


def test_class_labels_reach_a_class_conditional_detector():
    from helpers import digits_split
    from shiftguard.ood import Mahalanobis

    X_fit, y_fit, X_test, unseen = digits_split()
    wrapped = OutlierDetector(Mahalanobis(class_conditional=True), alpha=0.05, seed=0)
    result = wrapped.fit(X_fit, y_fit).predict(X_test)
    assert set(wrapped.detector_.classes_) == set(np.unique(y_fit))
    # unseen digits are flagged far more often than held-out seen ones (FPR <= 0.05)
    assert result.flagged[~unseen].mean() <= 0.1 < 0.5 < result.flagged[unseen].mean()

"""Tests of shiftguard.drift.blackbox: equality with scipy, real data, size under the null."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from helpers import binomial_band
from shiftguard.drift.blackbox import bbsd_test, predicted_label_test
from shiftguard.errors import InputError, ParameterError


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_bbsd_per_class_results_equal_scipy_ks_2samp(rng):
    weights = rng.normal(size=(4, 3))
    ref = _softmax(rng.normal(size=(120, 4)) @ weights)
    cur = _softmax(rng.normal(0.3, 1.0, size=(90, 4)) @ weights)
    res = bbsd_test(ref, cur, classes=["a", "b", "c"])
    for k in range(3):
        expected = stats.ks_2samp(ref[:, k], cur[:, k])
        assert res.class_statistics[k] == pytest.approx(expected.statistic, rel=1e-9)
        assert res.class_pvalues[k] == pytest.approx(expected.pvalue, rel=1e-9)
    assert res.pvalue == pytest.approx(min(1.0, 3 * min(res.class_pvalues)), rel=1e-12)
    assert res.statistic == max(res.class_statistics)
    assert res.to_dict()["classes"] == ["a", "b", "c"]


def test_predicted_label_test_equals_scipy_chi2_contingency():
    ref = ["cat"] * 40 + ["dog"] * 35 + ["eel"] * 25
    cur = ["cat"] * 20 + ["dog"] * 50 + ["eel"] * 30
    res = predicted_label_test(ref, cur)
    table = [[40, 35, 25], [20, 50, 30]]
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert res.statistic == pytest.approx(chi2, rel=1e-9)
    assert res.pvalue == pytest.approx(p, rel=1e-9)
    assert res.classes == ("cat", "dog", "eel")
    assert res.reference_share == pytest.approx((0.4, 0.35, 0.25))
    assert res.current_share == pytest.approx((0.2, 0.5, 0.3))


def _wine_model_outputs():
    """A model fitted on half of the wine data, and its outputs on the other half."""
    from sklearn.datasets import load_wine
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x, y = load_wine(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    train, held = order[: len(y) // 2], order[len(y) // 2 :]
    model = LinearDiscriminantAnalysis().fit(x[train], y[train])
    return model.predict_proba(x[held]), model.predict(x[held]), y[held]


def test_bbsd_detects_label_shift_on_real_data():
    probs, labels, truth = _wine_model_outputs()
    # Reference: a random half of the held-out rows; current: class-0 rows only (label shift).
    ref_rows = np.arange(0, len(truth), 2)
    shifted = np.flatnonzero(truth == 0)
    assert bbsd_test(probs[ref_rows], probs[shifted]).pvalue < 1e-4
    # sparse table (a class absent from current): permutation p-value at its floor 1/(1 + B)
    res = predicted_label_test(labels[ref_rows], labels[shifted], n_permutations=99_999, seed=0)
    assert res.pvalue == 1e-5


def test_bad_input_raises_typed_errors(rng):
    probs = _softmax(rng.normal(size=(20, 3)))
    with pytest.raises(InputError, match="class columns"):
        bbsd_test(probs, probs[:, :2])
    bad = probs.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="probs_cur"):
        bbsd_test(probs, bad)
    with pytest.raises(InputError, match="classes"):
        bbsd_test(probs, probs, classes=["a"])
    with pytest.raises(ParameterError, match="alternative"):
        bbsd_test(probs, probs, alternative="up")


@pytest.mark.validity
def test_bbsd_size_is_at_most_alpha_and_power_exceeds_it():
    # A fixed 3-class softmax model on 4 Gaussian features; n = m = 30; 2,000 null
    # repetitions. KS is exact and Bonferroni conservative: the rate must not exceed the
    # upper 3-SE edge. Power: current inputs shifted by 0.8 SD in every feature.
    rng = np.random.default_rng(21)
    weights = rng.normal(size=(4, 3))
    alpha, n_reps = 0.05, 2000
    null = sum(
        bbsd_test(_softmax(rng.normal(size=(30, 4)) @ weights),
                  _softmax(rng.normal(size=(30, 4)) @ weights)).pvalue <= alpha
        for _ in range(n_reps)
    ) / n_reps
    assert null <= binomial_band(alpha, n_reps)[1]
    power = sum(
        bbsd_test(_softmax(rng.normal(size=(30, 4)) @ weights),
                  _softmax(rng.normal(0.8, 1.0, size=(30, 4)) @ weights)).pvalue <= alpha
        for _ in range(200)
    ) / 200
    assert power > binomial_band(alpha, 200)[1]

"""AUROC, average precision and FPR at a TPR: scikit-learn's values, bootstrap intervals."""

import dataclasses
import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

import shiftguard.ood.metrics as metrics
from shiftguard.errors import InputError, ParameterError
from shiftguard.ood.metrics import MetricResult, aupr, auroc, fpr_at_tpr

ADBENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "adbench"


def load_adbench(name):
    path = ADBENCH / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"ADBench table {path} absent (shared data folder not beside the checkout)")
    d = np.load(path)
    return d["X"], d["y"]


def sklearn_fpr_at_tpr(y, s, level):
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return fpr[np.searchsorted(tpr, level, side="left")]


def random_design(rng, tied):
    n = int(rng.integers(2, 80))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.integers(0, int(rng.integers(1, 6)), n).astype(float) if tied else rng.normal(size=n)
    return y, s + y * rng.uniform(0, 1)


def test_docstring_examples_run():
    assert doctest.testmod(metrics, raise_on_error=False).failed == 0


@pytest.mark.parametrize("tied", [False, True])
def test_point_estimates_equal_sklearn(tied):
    rng = np.random.default_rng(5 + tied)
    for _ in range(100):
        y, s = random_design(rng, tied)
        assert auroc(y, s, n_bootstrap=0).estimate == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert aupr(y, s, n_bootstrap=0).estimate == pytest.approx(
            average_precision_score(y, s), abs=1e-12)
        for level in (0.3, 0.95, 1.0):
            assert fpr_at_tpr(y, s, level, n_bootstrap=0).estimate == pytest.approx(
                sklearn_fpr_at_tpr(y, s, level), abs=1e-12)


@pytest.mark.parametrize("name", ["18_Ionosphere", "6_cardio"])
def test_real_table_equals_sklearn_and_ranks_well(name):
    """A plain Mahalanobis distance to the inlier mean on a real ADBench table."""
    X, y = load_adbench(name)
    inliers = X[y == 0]
    center = inliers.mean(axis=0)
    precision = np.linalg.pinv(np.cov(inliers, rowvar=False))
    s = np.einsum("ij,jk,ik->i", X - center, precision, X - center)
    result = auroc(y, s, seed=0)
    assert result.estimate == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert result.estimate > 0.85  # the distance separates these tables' anomalies well
    assert result.ci_low < result.estimate < result.ci_high
    assert aupr(y, s, n_bootstrap=0).estimate == pytest.approx(
        average_precision_score(y, s), abs=1e-12)
    assert fpr_at_tpr(y, s, n_bootstrap=0).estimate == pytest.approx(
        sklearn_fpr_at_tpr(y, s, 0.95), abs=1e-12)


def _reference_bootstrap(y, s, metric, n_bootstrap, alpha, seed):
    """Stratified percentile bootstrap by resampling rows and calling scikit-learn."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    values = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        rows = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
        values[b] = metric(y[rows], s[rows])
    return np.quantile(values, [alpha / 2, 1 - alpha / 2])


@pytest.mark.parametrize("ours,reference", [
    (auroc, roc_auc_score),
    (aupr, average_precision_score),
    (fpr_at_tpr, lambda y, s: sklearn_fpr_at_tpr(y, s, 0.95)),
])
def test_bootstrap_interval_agrees_with_resampling_rows(ours, reference):
    """Weighting rows by their draw counts is the same bootstrap as resampling them: the
    intervals agree up to Monte Carlo error (1,000 replicates each; an endpoint's own
    standard error is at most about 0.004 here, the tolerance 0.02)."""
    rng = np.random.default_rng(11)
    y = np.r_[np.zeros(300, dtype=int), np.ones(60, dtype=int)]
    s = np.round(rng.normal(size=y.size) + 1.2 * y, 1)  # ties too
    result = ours(y, s, n_bootstrap=1000, alpha=0.1, seed=1)
    low, high = _reference_bootstrap(y, s, reference, 1000, 0.1, 2)
    assert result.ci_low == pytest.approx(low, abs=0.02)
    assert result.ci_high == pytest.approx(high, abs=0.02)
    assert result.n_bootstrap == 1000 and result.alpha == 0.1


def test_bootstrap_is_seeded_and_works_in_blocks(monkeypatch):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y
    first = auroc(y, s, n_bootstrap=1000, seed=9)
    assert auroc(y, s, n_bootstrap=1000, seed=9) == first
    assert auroc(y, s, n_bootstrap=1000, seed=10) != first
    # many small blocks (7 replicates each, the last one shorter): the same bootstrap up to
    # Monte Carlo error (endpoint standard error about 0.003 here)
    monkeypatch.setattr(metrics, "_BLOCK_VALUES", 500 * 7)
    blocked = auroc(y, s, n_bootstrap=1000, seed=9)
    assert blocked.estimate == first.estimate
    assert blocked.ci_low == pytest.approx(first.ci_low, abs=0.012)
    assert blocked.ci_high == pytest.approx(first.ci_high, abs=0.012)


def test_interval_narrows_with_more_data_and_is_degenerate_when_perfect():
    rng = np.random.default_rng(4)
    widths = []
    for n in (200, 5000):
        y = rng.integers(0, 2, n)
        r = auroc(y, rng.normal(size=n) + y, n_bootstrap=400, seed=0)
        widths.append(r.ci_high - r.ci_low)
    assert widths[1] < widths[0] / 3  # width ~ 1/sqrt(n): a factor 5 expected
    perfect = auroc([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], n_bootstrap=200, seed=0)
    assert (perfect.estimate, perfect.ci_low, perfect.ci_high) == (1.0, 1.0, 1.0)


def test_result_is_frozen_and_serialises():
    r = fpr_at_tpr([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.3], tpr=0.5, n_bootstrap=0)
    assert isinstance(r, MetricResult) and r.metric == "fpr@tpr=0.5"
    assert json.loads(json.dumps(r.to_dict()))["ci_low"] is None  # NaN without bootstrap
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.estimate = 0.0  # type: ignore[misc]


def test_input_errors():
    with pytest.raises(InputError, match="both inliers"):
        auroc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="0 .inlier. or 1"):
        aupr([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="lengths differ"):
        auroc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="NaN"):
        auroc([0, 1], [0.1, np.nan])
    with pytest.raises(ParameterError, match="tpr"):
        fpr_at_tpr([0, 1], [0.1, 0.2], tpr=0.0)
    with pytest.raises(ParameterError, match="n_bootstrap"):
        auroc([0, 1], [0.1, 0.2], n_bootstrap=-1)
    with pytest.raises(ParameterError, match="alpha"):
        auroc([0, 1], [0.1, 0.2], alpha=1.0)

import json

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shiftguard.errors import InputError, ParameterError
from shiftguard.shift import subgroup_performance


def test_accuracy_intervals_are_bonferroni_clopper_pearson():
    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c"], size=900, p=[0.5, 0.3, 0.2])
    y = rng.integers(0, 3, 900)
    pred = np.where(rng.random(900) < np.where(groups == "c", 0.6, 0.85), y, (y + 1) % 3)
    res = subgroup_performance(y, pred, groups, alpha=0.1)
    assert list(res.groups) == ["a", "b", "c"]
    for g, lo, hi, est in zip(res.groups, res.lower, res.upper, res.estimate, strict=True):
        hits = int((pred == y)[groups == g].sum())
        ci = binomtest(hits, int((groups == g).sum())).proportion_ci(
            confidence_level=1 - 0.1 / 3, method="exact")
        assert (lo, hi) == pytest.approx((ci.low, ci.high))
        assert est == pytest.approx(hits / (groups == g).sum())
    assert res.worst_group == "c"
    assert res.worst_lower == pytest.approx(res.lower.min())
    assert res.worst_upper == pytest.approx(res.upper.min())
    same = subgroup_performance(None, pred == y, groups, alpha=0.1)
    np.testing.assert_allclose(same.estimate, res.estimate)
    error = subgroup_performance(None, pred == y, groups, metric="error", alpha=0.1)
    np.testing.assert_allclose(error.estimate, 1 - res.estimate)
    assert error.worst_group == "c" and error.worst_upper == pytest.approx(error.upper.max())
    assert json.dumps(res.to_dict())


def test_small_groups_are_named_not_dropped_silently():
    groups = np.array(["big"] * 50 + ["tiny"] * 3)
    res = subgroup_performance(None, np.ones(53, bool), groups, min_size=10)
    assert list(res.groups) == ["big"]
    assert "3 rows" in res.skipped["tiny"]


def test_auc_on_real_data_matches_sklearn():
    X, y = load_wine(return_X_y=True)
    y = (y == 0).astype(int)
    groups = np.where(X[:, 0] > np.median(X[:, 0]), "high alcohol", "low alcohol")
    rng = np.random.default_rng(1)
    noisy = X + rng.normal(scale=2.0 * X.std(axis=0), size=X.shape)  # keep the AUC below 1
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(noisy[::2], y[::2])
    score = model.decision_function(noisy)
    res = subgroup_performance(y, score, groups, metric="auc", seed=0, min_size=10)
    for g, est, lo, hi in zip(res.groups, res.estimate, res.lower, res.upper, strict=True):
        assert est == pytest.approx(roc_auc_score(y[groups == g], score[groups == g]))
        assert 0 <= lo <= est <= hi <= 1
    assert res.method == "bootstrap-max-t"


def test_auc_skips_single_class_groups():
    y = np.r_[np.zeros(30), np.tile([0, 1], 30)].astype(int)
    groups = np.r_[["only negatives"] * 30, ["mixed"] * 60]
    res = subgroup_performance(y, np.arange(90.0), groups, metric="auc", seed=0)
    assert list(res.groups) == ["mixed"]
    assert "0 positive" in res.skipped["only negatives"]


def test_losses_and_seed():
    rng = np.random.default_rng(2)
    groups = rng.integers(0, 4, 2000)
    y = rng.normal(size=2000)
    pred = y + rng.normal(scale=1 + groups, size=2000)
    a = subgroup_performance(y, pred, groups, metric="mse", seed=3)
    assert a.worst_group == 3
    np.testing.assert_allclose(a.estimate, [((pred - y)[groups == g] ** 2).mean()
                                            for g in range(4)])
    assert np.all(a.lower < a.estimate) and np.all(a.estimate < a.upper)
    b = subgroup_performance(y, pred, groups, metric="mse", seed=3)
    np.testing.assert_array_equal(a.lower, b.lower)
    mae = subgroup_performance(y, pred, groups, metric="mae", seed=3)
    assert mae.worst_group == 3
    p = 1 / (1 + np.exp(-pred))
    brier = subgroup_performance((y > 0).astype(int), p, groups, metric="brier", seed=3)
    assert np.all((brier.lower >= 0) & (brier.upper <= 1))


def test_errors():
    with pytest.raises(InputError, match="no group"):
        subgroup_performance(None, np.ones(5, bool), ["a"] * 5)
    with pytest.raises(ParameterError, match="needs the labels"):
        subgroup_performance(None, np.ones(30), ["a"] * 30, metric="mse")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        subgroup_performance(np.ones(30), np.full(30, 2.0), ["a"] * 30, metric="brier")
    with pytest.raises(InputError, match="lengths differ"):
        subgroup_performance(None, np.ones(30, bool), ["a"] * 29)
    with pytest.raises(InputError, match="missing"):
        subgroup_performance(None, np.ones(3, bool), ["a", None, "b"])
    with pytest.raises(ParameterError):
        subgroup_performance(None, np.ones(30, bool), ["a"] * 30, metric="f1")

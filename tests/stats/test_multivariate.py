"""Unit tests of shiftguard.stats.multivariate: statistics against direct formulas and scipy,
the batched permutation algebra against brute force, and the error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.stats import multivariate as mv
from shiftguard.stats.multivariate import (
    classifier_test,
    energy_test,
    linear_mmd_test,
    mmd_test,
)


def _naive_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    def k(a, b):
        return np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2))

    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * k(x, y).mean()
    )


def _alibi_sigma_median(pooled: np.ndarray) -> float:
    """alibi-detect's sigma_median on x = y = pooled, written out from its definition."""
    dist = cdist(pooled, pooled, "sqeuclidean")
    n = len(pooled)
    n_median = n + (dist.size - n) // 2 - 1
    return math.sqrt(0.5 * np.sort(dist.ravel())[n_median])


def test_mmd_statistic_equals_direct_unbiased_formula(rng):
    x, y = rng.normal(size=(40, 3)), rng.normal(0.3, 1.2, size=(55, 3))
    res = mmd_test(x, y, bandwidth=1.7, n_permutations=9, seed=0)
    assert res.statistic == pytest.approx(_naive_mmd2(x, y, 1.7), rel=1e-9)
    assert res.bandwidth == 1.7


def test_mmd_median_heuristic_is_alibis_sigma_median_on_pooled_sample(rng):
    for n, m in [(30, 31), (25, 25)]:  # odd and even number of pairs
        x, y = rng.normal(size=(n, 4)), rng.normal(size=(m, 4)) * 2
        res = mmd_test(x, y, n_permutations=9, seed=0)
        expected = _alibi_sigma_median(np.vstack([x, y]))
        assert res.bandwidth == pytest.approx(expected, rel=1e-9)
        assert res.statistic == pytest.approx(_naive_mmd2(x, y, expected), rel=1e-9)


def _brute_force_splits(size: int, n: int, b: int, seed: int) -> np.ndarray:
    """The 0/1 membership rows that _permuted_quadratic_forms draws from ``seed``."""
    membership = np.zeros(size)
    membership[:n] = 1.0
    return np.random.default_rng(seed).permuted(np.broadcast_to(membership, (b, size)), axis=1)


def test_batched_permuted_mmd_equals_brute_force(rng):
    n, m, b = 12, 9, 300  # b > one batch, so the batching is exercised
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    pooled = np.vstack([x, y])
    kernel = np.exp(-cdist(pooled, pooled, "sqeuclidean") / 2.0)
    np.fill_diagonal(kernel, 0.0)
    centred = mv._centre_off_diagonal(kernel, dtype=np.float64)
    q, r = mv._permuted_quadratic_forms(centred, n, b, np.random.default_rng(5))
    fast = mv._mmd2_from_forms(q, r, float(centred.sum()), n, m)
    splits = _brute_force_splits(n + m, n, b, 5).astype(bool)
    slow = [_naive_mmd2(pooled[s], pooled[~s], 1.0) for s in splits]
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_batched_permuted_energy_equals_brute_force(rng):
    n, m, b = 10, 14, 50
    pooled = rng.normal(size=(n + m, 3))
    dist = cdist(pooled, pooled)
    centred = mv._double_centre(dist, dtype=np.float64)
    q, r = mv._permuted_quadratic_forms(centred, n, b, np.random.default_rng(2))
    fast = mv._energy_from_forms(q, r, float(centred.sum()), n, m)
    splits = _brute_force_splits(n + m, n, b, 2).astype(bool)
    slow = [
        2 * dist[s][:, ~s].mean() - dist[s][:, s].mean() - dist[~s][:, ~s].mean()
        for s in splits
    ]
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_float32_permutations_match_float64_within_rounding(rng):
    # The public tests use float32 products. On the same permutations the exceedance
    # count may differ only for permuted statistics within float32 rounding of the
    # observed one: far fewer than the Monte Carlo standard error sqrt(B p (1 - p)) ~ 15.
    n, b = 600, 1000
    x, y = rng.normal(size=(n, 8)), rng.normal(size=(n, 8))
    y[:, 0] += 0.08
    pooled = np.vstack([x, y])
    sq = mv._pooled_squared_distances(x, y)
    sigma = mv._median_heuristic(sq)
    kernel = np.exp(-sq / (2 * sigma**2))
    np.fill_diagonal(kernel, 0.0)
    observed = mv._unbiased_mmd2(kernel, n)
    counts = []
    for dtype in (np.float32, np.float64):
        centred = mv._centre_off_diagonal(kernel, dtype=dtype)
        q, r = mv._permuted_quadratic_forms(centred, n, b, np.random.default_rng(9))
        perm = mv._mmd2_from_forms(q, r, float(centred.sum(dtype=np.float64)), n, n)
        counts.append(int(np.count_nonzero(perm >= observed)))
    assert 0.01 * b < counts[1] < 0.99 * b  # the comparison is not trivially in a tail
    assert abs(counts[0] - counts[1]) <= 2
    assert pooled.shape == (2 * n, 8)


def test_mmd_and_energy_detect_a_mean_shift_and_are_seed_reproducible(rng):
    x, y = rng.normal(size=(80, 3)), rng.normal(0.7, 1.0, size=(70, 3))
    for test in (mmd_test, energy_test):
        res = test(x, y, n_permutations=199, seed=3)
        assert res.pvalue == pytest.approx(1 / 200)
        assert res.n_permutations == 199
        assert test(x, y, n_permutations=199, seed=3) == res
    null = mmd_test(x, rng.normal(size=(70, 3)), n_permutations=99, seed=4)
    assert 0.0 < null.pvalue <= 1.0
    assert set(null.to_dict()) >= {"statistic", "pvalue", "bandwidth"}


def test_energy_statistic_squared_scipy_in_one_dimension(rng):
    x, y = rng.exponential(size=37), rng.normal(size=52)
    res = energy_test(x, y, n_permutations=9, seed=0)
    assert res.statistic == pytest.approx(stats.energy_distance(x, y) ** 2, rel=1e-9)


def test_energy_statistic_equals_direct_formula_in_several_dimensions(rng):
    x, y = rng.normal(size=(30, 4)), rng.standard_t(3, size=(45, 4))
    res = energy_test(x, y, n_permutations=9, seed=0)
    expected = 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()
    assert res.statistic == pytest.approx(expected, rel=1e-9)


def test_linear_mmd_statistic_and_normal_pvalue(rng):
    x, y = rng.normal(size=(101, 3)), rng.normal(0.2, 1.0, size=(90, 3))
    sigma = 1.3
    res = linear_mmd_test(x, y, bandwidth=sigma)
    p = 45

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2, axis=1) / (2 * sigma**2))

    x1, x2, y1, y2 = x[0:90:2], x[1:90:2], y[0:90:2], y[1:90:2]
    h = k(x1, x2) + k(y1, y2) - k(x1, y2) - k(x2, y1)
    assert len(h) == p
    assert res.statistic == pytest.approx(h.mean(), rel=1e-9)
    z = h.mean() / (h.std(ddof=1) / math.sqrt(p))
    assert res.pvalue == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert res.effect_size == pytest.approx(z, rel=1e-9)


def test_linear_mmd_detects_shift_at_large_n(rng):
    x, y = rng.normal(size=(4000, 5)), rng.normal(0.5, 1.0, size=(4000, 5))
    assert linear_mmd_test(x, y).pvalue < 1e-4


def _refit_two_folds(x: np.ndarray, y: np.ndarray, seed: int):
    """Per fold: held-out LDA scores and labels (True = current), folds as drawn from seed."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    fold_rng = np.random.default_rng(seed)
    fold_of = np.r_[fold_rng.permutation(len(x)) % 2, fold_rng.permutation(len(y)) % 2]
    features, labels = np.vstack([x, y]), np.r_[np.zeros(len(x)), np.ones(len(y))]
    for k in range(2):
        test = fold_of == k
        model = LinearDiscriminantAnalysis().fit(features[~test], labels[~test])
        yield model.predict_proba(features[test])[:, 1], labels[test] == 1


def test_classifier_fold_statistics_match_sklearn_and_scipy(rng):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import roc_auc_score

    x, y = rng.normal(size=(60, 2)), rng.normal(0.8, 1.0, size=(50, 2))
    res = classifier_test(x, y, estimator=LinearDiscriminantAnalysis(), n_folds=2, seed=1)
    for k, (scores, truth) in enumerate(_refit_two_folds(x, y, seed=1)):
        auc = roc_auc_score(truth, scores)
        assert res.fold_statistics[k] == pytest.approx(auc, rel=1e-12)
    assert res.pvalue == pytest.approx(min(1.0, 2 * min(res.fold_pvalues)))
    assert res.pvalue < 0.01
    assert res.method == "classifier_auc"


def test_classifier_accuracy_pvalue_is_fishers_exact_test(rng):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    x, y = rng.normal(size=(40, 2)), rng.normal(0.6, 1.0, size=(44, 2))
    res = classifier_test(x, y, estimator=LinearDiscriminantAnalysis(), n_folds=2,
                          metric="accuracy", seed=7)
    for k, (scores, truth) in enumerate(_refit_two_folds(x, y, seed=7)):
        pred = scores >= 0.5
        table = [[np.sum(pred & truth), np.sum(pred & ~truth)],
                 [np.sum(~pred & truth), np.sum(~pred & ~truth)]]
        p = stats.fisher_exact(table, alternative="greater").pvalue
        assert res.fold_pvalues[k] == pytest.approx(p, rel=1e-9)
        assert res.fold_statistics[k] == pytest.approx(np.mean(pred == truth))


def test_classifier_default_estimator_detects_a_variance_shift(rng):
    # Same mean, different spread: invisible to a linear classifier, seen by trees.
    x, y = rng.normal(size=(300, 3)), rng.normal(0.0, 2.0, size=(300, 3))
    res = classifier_test(x, y, seed=0)
    assert res.pvalue < 1e-3
    assert res.statistic > 0.6


def test_classifier_decision_function_estimators_work(rng):
    from sklearn.svm import LinearSVC

    x, y = rng.normal(size=(50, 2)), rng.normal(1.0, 1.0, size=(50, 2))
    assert classifier_test(x, y, estimator=LinearSVC(), seed=0).pvalue < 0.05


@pytest.mark.parametrize("test", [mmd_test, energy_test, linear_mmd_test, classifier_test])
def test_bad_inputs_raise_typed_errors_naming_the_problem(test, rng):
    good = rng.normal(size=(20, 3))
    with pytest.raises(InputError, match="columns"):
        test(good, rng.normal(size=(20, 2)))
    bad = good.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        test(good, bad)
    bad[3, 1] = np.inf
    with pytest.raises(InputError, match="infinite"):
        test(bad, good)
    with pytest.raises(InputError, match="rows"):
        test(good, good[:1])


def test_bad_parameters_raise(rng):
    x = rng.normal(size=(10, 2))
    with pytest.raises(ParameterError, match="n_permutations"):
        mmd_test(x, x, n_permutations=0)
    with pytest.raises(ParameterError, match="bandwidth"):
        mmd_test(x, x, bandwidth=-1.0)
    with pytest.raises(ParameterError, match="metric"):
        classifier_test(x, x, metric="f1")
    with pytest.raises(ParameterError, match="n_folds"):
        classifier_test(x, x, n_folds=1)
    with pytest.raises(InputError, match="n_folds"):
        classifier_test(x, x[:3], n_folds=5)
    with pytest.raises(EstimatorError, match="predict_proba"):
        classifier_test(x, x, estimator=_FitOnly())


def test_identical_rows_make_the_median_bandwidth_zero_and_raise():
    x = np.ones((10, 2))
    with pytest.raises(InputError, match="bandwidth"):
        mmd_test(x, x)
    with pytest.raises(InputError, match="bandwidth"):
        linear_mmd_test(x, x)


class _FitOnly:
    def fit(self, x, y):
        return self

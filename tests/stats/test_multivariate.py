"""Unit tests of shiftguard.stats.multivariate: statistics against direct formulas and scipy,
the batched permutation algebra against brute force (with and without tied rows), exact
tie counting, the bandwidth fallbacks, and the error paths."""

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


@pytest.mark.parametrize("ties", [False, True])
def test_mmd_median_heuristic_is_alibis_sigma_median_on_pooled_sample(rng, ties):
    for n, m in [(30, 31), (25, 25)]:  # odd and even number of pairs
        x, y = rng.normal(size=(n, 4)), rng.normal(size=(m, 4)) * 2
        if ties:  # repeated rows: pairs of copies count as distance-0 pairs
            x, y = np.round(x), np.round(y)
            x[: n // 3] = x[0]
        res = mmd_test(x, y, n_permutations=9, seed=0)
        expected = _alibi_sigma_median(np.vstack([x, y]))
        assert res.bandwidth == pytest.approx(expected, rel=1e-9)
        assert res.statistic == pytest.approx(_naive_mmd2(x, y, expected), rel=1e-9)


def _brute_force_splits(size: int, n: int, b: int, seed: int) -> np.ndarray:
    """The 0/1 membership rows that _permuted_quadratic_forms draws from ``seed``."""
    membership = np.zeros(size)
    membership[:n] = 1.0
    return np.random.default_rng(seed).permuted(np.broadcast_to(membership, (b, size)), axis=1)


def _scored_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The pooled rows in the order the permutation tests split them: the distinct rows
    (sorted), each repeated as often as it occurs."""
    rows, counts = np.unique(np.vstack([x, y]), axis=0, return_counts=True)
    return np.repeat(rows, counts, axis=0)


def _samples(rng: np.random.Generator, n: int, m: int, ties: bool):
    if ties:  # few distinct rows, each repeated
        return (rng.integers(0, 3, size=(n, 2)).astype(float),
                rng.integers(0, 3, size=(m, 2)).astype(float))
    return rng.normal(size=(n, 2)), rng.normal(size=(m, 2))


def _energy(x: np.ndarray, y: np.ndarray) -> float:
    return float(2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean())


@pytest.mark.parametrize("ties", [False, True])
def test_batched_permuted_mmd_equals_brute_force(rng, ties):
    n, m, b = 12, 9, 300  # b > one batch, so the batching is exercised
    x, y = _samples(rng, n, m, ties)
    rows, counts, in_x = mv._distinct_rows(x, y)
    assert (counts.size < n + m) == ties
    kernel = np.exp(-cdist(rows, rows, "sqeuclidean") / 2.0)
    q, r = mv._permuted_quadratic_forms(kernel, counts, n, b, np.random.default_rng(5))
    q0, r0 = mv._quadratic_forms(in_x[None, :], kernel, counts)
    w_q, w_r = mv._mmd2_form_weights(n, m)
    fast = (w_q * (q - q0) + w_r * (r - r0)) / (n * (n - 1) * m * (m - 1))
    pooled = _scored_order(x, y)
    splits = _brute_force_splits(n + m, n, b, 5).astype(bool)
    slow = np.array([_naive_mmd2(pooled[s], pooled[~s], 1.0) for s in splits])
    np.testing.assert_allclose(fast, slow - _naive_mmd2(x, y, 1.0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_batched_permuted_energy_equals_brute_force(rng, ties):
    n, m, b = 10, 14, 50
    x, y = _samples(rng, n, m, ties)
    rows, counts, in_x = mv._distinct_rows(x, y)
    dist = cdist(rows, rows)
    q, r = mv._permuted_quadratic_forms(dist, counts, n, b, np.random.default_rng(2))
    q0, r0 = mv._quadratic_forms(in_x[None, :], dist, counts)
    w_q, w_r = mv._energy_form_weights(n, m)
    fast = (w_q * (q - q0) + w_r * (r - r0)) * (n + m) / (n * m) ** 2
    pooled = _scored_order(x, y)
    splits = _brute_force_splits(n + m, n, b, 2).astype(bool)
    slow = np.array([_energy(pooled[s], pooled[~s]) for s in splits])
    np.testing.assert_allclose(fast, slow - _energy(x, y), rtol=1e-9, atol=1e-12)


def test_rounded_quadratic_forms_are_exact_integers(rng):
    # 300 pooled rows: the kernel is rounded to integers up to 2^(53 - 2 * 9) = 2^35, and
    # the float64 products must equal the same forms in Python integers, bit for bit.
    n, m, b = 120, 180, 40
    x = rng.poisson(2.0, size=(n, 3)).astype(float)
    y = rng.poisson(2.0, size=(m, 3)).astype(float)
    rows, counts, _ = mv._distinct_rows(x, y)
    kernel = np.exp(-mv._squared_distances(rows) / 4.0)
    mv._round_to_integer_grid(kernel, n + m)
    assert kernel.max() == 2.0**35
    assert np.array_equal(kernel, np.rint(kernel))
    q, r = mv._permuted_quadratic_forms(kernel, counts, n, b, np.random.default_rng(1))
    starts = np.r_[0, np.cumsum(counts[:-1])].astype(int)
    splits = np.add.reduceat(_brute_force_splits(n + m, n, b, 1), starts, axis=1)
    c = splits.astype(np.int64).astype(object)
    k = kernel.astype(np.int64).astype(object)
    diagonal = np.diagonal(k)
    q_exact = ((c @ k) * c).sum(axis=1) - c @ diagonal
    r_exact = c @ (k @ counts.astype(np.int64).astype(object) - diagonal)
    assert q.astype(np.int64).tolist() == list(q_exact)
    assert r.astype(np.int64).tolist() == list(r_exact)


def _tie_aware_reaches(statistic, x, y, b: int, seed: int, pooled: np.ndarray) -> np.ndarray:
    """Whether ``T_b >= T``, split by split in the order drawn from ``seed``; ties found
    from naive float64 statistics.

    Asserts that this data set separates exact ties (equal up to rounding, < 1e-12) from
    distinct values (> 1e-6 apart), and that ties are common, so the count is exact.
    """
    observed = statistic(x, y)
    splits = _brute_force_splits(len(pooled), len(x), b, seed).astype(bool)
    values = np.array([statistic(pooled[s], pooled[~s]) for s in splits])
    gap = np.abs(values - observed)
    tied = gap < 1e-12
    assert np.all(tied | (gap > 1e-6))
    assert tied.mean() > 0.05
    return tied | (values > observed)


@pytest.mark.parametrize("test", [mmd_test, energy_test])
def test_permutation_pvalue_counts_every_exact_tie(test):
    # Binary rows with 4 distinct values: every split that sends x the same number of
    # each row ties with the observed split exactly; the p-value must count all of them.
    rng = np.random.default_rng(3)
    x = (rng.random((9, 2)) < 0.5).astype(float)
    y = (rng.random((12, 2)) < 0.5).astype(float)
    b, seed = 999, 8
    res = test(x, y, n_permutations=b, seed=seed)
    if test is mmd_test:
        def statistic(a, c):
            return _naive_mmd2(a, c, res.bandwidth)
    else:
        statistic = _energy
    reaches = _tie_aware_reaches(statistic, x, y, b, seed, _scored_order(x, y))
    # Besag-Clifford: stop at the 20th split reaching T (p = 20 / l), else the plain count
    hits = np.flatnonzero(reaches)
    if hits.size >= 20:
        assert res.n_permutations == hits[19] + 1
        assert res.pvalue == 20 / (hits[19] + 1)
    else:
        assert res.pvalue == (1 + hits.size) / (1 + b)


@pytest.mark.parametrize("test", [mmd_test, energy_test])
def test_identical_rows_give_statistic_zero_and_pvalue_one(test):
    x = np.ones((10, 2))
    res = test(x, x[:7], n_permutations=99, seed=0)
    assert res.statistic == 0.0
    assert res.pvalue == 1.0
    if test is mmd_test:
        assert res.bandwidth == 1.0  # every bandwidth gives the same kernel


def test_mmd_never_fails_on_a_sparse_binary_table(rng):
    # Over half of all pairs of pooled rows coincide, so the plain median heuristic is 0:
    # the bandwidth falls back to the lower median of the non-zero squared distances.
    x = (rng.random((150, 6)) < 0.05).astype(float)
    y = (rng.random((120, 6)) < 0.05).astype(float)
    pooled = np.vstack([x, y])
    pairs = cdist(pooled, pooled, "sqeuclidean")[np.triu_indices(len(pooled), 1)]
    assert np.mean(pairs == 0.0) > 0.5
    positive = np.sort(pairs[pairs > 0.0])
    expected = math.sqrt(0.5 * positive[(positive.size - 1) // 2])
    res = mmd_test(x, y, n_permutations=199, seed=0)
    assert res.bandwidth == pytest.approx(expected, rel=1e-12)
    assert res.statistic == pytest.approx(_naive_mmd2(x, y, expected), rel=1e-9)
    assert 0.0 < res.pvalue <= 1.0
    assert energy_test(x, y, n_permutations=199, seed=0).pvalue > 0.0


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


@pytest.mark.parametrize(("n_ref", "n_cur", "method"), [(6, 20, "exact"), (30, 41, "asymptotic")])
def test_auc_fold_pvalue_is_mannwhitneyu_on_tie_broken_ranks(rng, n_ref, n_cur, method):
    # scipy's exact law up to 8 rows of either sample, its normal approximation (with
    # continuity correction) above: the rule the classifier test's guarantee is stated for.
    from sklearn.metrics import roc_auc_score

    scores = rng.integers(0, 4, size=n_ref + n_cur) / 4.0  # heavy ties
    labels = np.r_[np.zeros(n_ref), np.ones(n_cur)].astype(np.int8)
    auc, p = mv._auc_pvalue(scores, labels, np.random.default_rng(4), stats)
    order = np.lexsort((np.random.default_rng(4).random(scores.size), scores))
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    expected = stats.mannwhitneyu(ranks[n_ref:], ranks[:n_ref], alternative="greater",
                                  method=method).pvalue
    assert p == pytest.approx(expected, rel=1e-12)
    assert auc == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)


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
    for bandwidth in (-1.0, 0.0, np.nan, np.inf, "wide"):
        with pytest.raises(ParameterError, match="bandwidth"):
            mmd_test(x, x, bandwidth=bandwidth)
        with pytest.raises(ParameterError, match="bandwidth"):
            linear_mmd_test(x, x, bandwidth=bandwidth)
    with pytest.raises(ParameterError, match="metric"):
        classifier_test(x, x, metric="f1")
    with pytest.raises(ParameterError, match="n_folds"):
        classifier_test(x, x, n_folds=1)
    with pytest.raises(InputError, match="n_folds"):
        classifier_test(x, x[:3], n_folds=5)
    with pytest.raises(EstimatorError, match="predict_proba"):
        classifier_test(x, x, estimator=_FitOnly())


def test_linear_mmd_on_identical_rows_raises_for_zero_variance():
    x = np.ones((10, 2))
    with pytest.raises(InputError, match="variance"):
        linear_mmd_test(x, x)


class _FitOnly:
    def fit(self, x, y):
        return self

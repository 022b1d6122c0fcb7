"""Empirical size and power of the multivariate two-sample tests (fixed seeds).

Type-I error is estimated from independent null repetitions and must lie within 3
binomial standard errors of alpha (exact tests on continuous data), or below the upper
edge where the test is conservative by construction (the permutation tests on heavily tied
data, whose statistic has atoms; the classifier test's Bonferroni merge). Power is checked
on a documented small shift: it must exceed the upper edge of the null band. Messy designs:
binary and small-integer columns with heavy ties, and unequal sizes (200 vs 2,000)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.stats.multivariate import (
    classifier_test,
    energy_test,
    linear_mmd_test,
    mmd_test,
)

pytestmark = pytest.mark.validity

ALPHA = 0.05


def _rejection_rate(test, n_reps: int, seed: int, shift: float, n: int, **kwargs) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_reps):
        x = rng.normal(size=(n, 2))
        y = rng.normal(size=(n, 2))
        y[:, 0] += shift
        rejected += test(x, y, seed=rng, **kwargs).pvalue <= ALPHA
    return rejected / n_reps


@pytest.mark.parametrize("test", [mmd_test, energy_test])
def test_permutation_tests_have_exact_size(test):
    # n = m = 20, d = 2, B = 99: p = (1 + k) / 100 <= 0.05 has null probability exactly 0.05.
    n_reps = 2000
    rate = _rejection_rate(test, n_reps, seed=11, shift=0.0, n=20, n_permutations=99)
    lo, hi = binomial_band(ALPHA, n_reps)
    assert lo <= rate <= hi


@pytest.mark.parametrize("test", [mmd_test, energy_test])
def test_permutation_tests_have_power_against_a_unit_mean_shift(test):
    # Shift of 1 SD in one of two coordinates, n = m = 20.
    rate = _rejection_rate(test, 200, seed=12, shift=1.0, n=20, n_permutations=99)
    assert rate > binomial_band(ALPHA, 200)[1]
    assert rate > 0.5


# Small tied designs: (columns, rows of x, rows of y, number of distinct values per column).
# One binary column with 8 + 8 rows is where float sums used to miss most exact ties.
_TIED_DESIGNS = [(1, 8, 8, 2), (2, 10, 25, 2), (3, 15, 12, 4)]
_TIED_ALPHAS = (0.01, 0.05, 0.1, 0.2)


@pytest.mark.parametrize(
    ("test", "options"),
    [(mmd_test, {}), (mmd_test, {"bandwidth": 1.0}), (energy_test, {})],
)
@pytest.mark.parametrize(("d", "n", "m", "levels"), _TIED_DESIGNS)
def test_permutation_pvalues_are_valid_on_small_tied_data(test, options, d, n, m, levels):
    # P(p <= alpha) <= alpha at every alpha needs every permuted statistic that ties with
    # the observed one counted; 1,000 data sets, B = 99.
    n_reps = 1000
    rng = np.random.default_rng(17 + 10 * d)
    xs = rng.integers(0, levels, size=(n_reps, n, d)).astype(float)
    ys = rng.integers(0, levels, size=(n_reps, m, d)).astype(float)
    pvalues = np.array([
        test(x, y, n_permutations=99, seed=rng, **options).pvalue
        for x, y in zip(xs, ys, strict=True)
    ])
    for alpha in _TIED_ALPHAS:
        assert np.mean(pvalues <= alpha) <= binomial_band(alpha, n_reps)[1]


@pytest.mark.parametrize("n_features", [None, 64], ids=["exact", "random_features"])
def test_default_mmd_size_on_tied_integers_with_unequal_sizes(n_features):
    # 200 vs 2,000 rows of three integer columns (Poisson counts, a 0-3 score and a rare
    # binary flag): about 50 distinct rows, so almost every row is repeated. 500
    # repetitions, B = 99 (the level is exact for any B). With random features the
    # bandwidth comes from 1,000 of the 2,200 sorted pooled rows (the lexicographic sort:
    # the first column ties).
    n_reps = 500
    rng = np.random.default_rng(18)
    rejected = 0
    for _ in range(n_reps):
        x, y = (
            np.column_stack([rng.poisson(1.5, size), rng.binomial(3, 0.3, size),
                             rng.random(size) < 0.1]).astype(float)
            for size in (200, 2000)
        )
        rejected += mmd_test(x, y, n_permutations=99, seed=rng,
                             n_features=n_features).pvalue <= ALPHA
    lo, hi = binomial_band(ALPHA, n_reps)
    assert lo <= rejected / n_reps <= hi


def _linear_mmd_rate(n_reps: int, seed: int, shift: float, n: int) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_reps):
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        y[:, 0] += shift
        rejected += linear_mmd_test(x, y).pvalue <= ALPHA
    return rejected / n_reps


def test_linear_mmd_has_asymptotic_size():
    # 200 pairs per repetition: the normal approximation of mean(h) is the guarantee.
    n_reps = 2000
    rate = _linear_mmd_rate(n_reps, seed=13, shift=0.0, n=400)
    lo, hi = binomial_band(ALPHA, n_reps)
    assert lo <= rate <= hi


def test_linear_mmd_has_power_against_a_half_sd_shift():
    rate = _linear_mmd_rate(200, seed=14, shift=0.5, n=400)
    assert rate > binomial_band(ALPHA, 200)[1]


def _classifier_rate(n_reps: int, seed: int, shift: float, n: int, **kwargs) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_reps):
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        y[:, 0] += shift
        rejected += classifier_test(x, y, seed=rng, **kwargs).pvalue <= ALPHA
    return rejected / n_reps


def _linear_discriminant():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis()


def _one_nearest_neighbour():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=1)


@pytest.mark.parametrize(
    ("make_estimator", "n_folds", "metric"),
    [
        (_linear_discriminant, 5, "auc"),
        (_one_nearest_neighbour, 2, "auc"),
        (_linear_discriminant, 2, "accuracy"),
    ],
)
def test_classifier_test_size_is_at_most_alpha(make_estimator, n_folds, metric):
    # 500 repetitions (each refits n_folds models). The guarantee holds for any estimator;
    # the 1-nearest-neighbour model memorises its training folds, which is the case where
    # pooling held-out scores across folds would break the Mann-Whitney null, and its
    # 0/1 scores exercise the random tie-breaking.
    n_reps = 500
    rate = _classifier_rate(
        n_reps, seed=15, shift=0.0, n=30, estimator=make_estimator(), n_folds=n_folds, metric=metric
    )
    assert rate <= binomial_band(ALPHA, n_reps)[1]


def test_classifier_auc_test_on_binary_features_with_unequal_sizes():
    # 200 vs 2,000 rows of four binary features, K = 5 folds of 40 vs 400 rows: every fold
    # p-value is scipy's normal approximation, whose exact size there is 0.98 a to 1.004 a
    # for a from 0.01 to 0.2 (see the docstring). A depth-3 tree scores these rows with at
    # most 8 distinct values, so the random tie-breaking carries the Mann-Whitney null.
    # 500 repetitions.
    from sklearn.tree import DecisionTreeClassifier

    n_reps = 500
    rng = np.random.default_rng(19)
    rates = np.array([0.2, 0.35, 0.5, 0.05])
    pvalues, first_fold = np.empty(n_reps), np.empty(n_reps)
    for rep in range(n_reps):
        x = (rng.random((200, 4)) < rates).astype(float)
        y = (rng.random((2000, 4)) < rates).astype(float)
        res = classifier_test(x, y, estimator=DecisionTreeClassifier(max_depth=3), seed=rng)
        pvalues[rep], first_fold[rep] = res.pvalue, res.fold_pvalues[0]
    for alpha in (0.05, 0.1, 0.2):
        assert np.mean(pvalues <= alpha) <= binomial_band(alpha, n_reps)[1]
        lo, hi = binomial_band(alpha, n_reps)
        assert lo <= np.mean(first_fold <= alpha) <= hi


def test_classifier_test_has_power_against_a_unit_mean_shift():
    rate = _classifier_rate(100, seed=16, shift=1.0, n=30, estimator=_linear_discriminant(),
                            n_folds=5)
    assert rate > binomial_band(ALPHA, 100)[1]

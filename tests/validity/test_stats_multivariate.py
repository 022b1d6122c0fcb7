"""Empirical size and power of the multivariate two-sample tests (fixed seeds).

Type-I error is estimated from independent null repetitions and must lie within 3
binomial standard errors of alpha = 0.05 (exact tests), or below the upper edge for tests
that are conservative by construction (the classifier test's Bonferroni merge). Power is
checked on a documented small shift: it must exceed the upper edge of the null band.
"""

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


def test_classifier_test_has_power_against_a_unit_mean_shift():
    rate = _classifier_rate(100, seed=16, shift=1.0, n=30, estimator=_linear_discriminant(),
                            n_folds=5)
    assert rate > binomial_band(ALPHA, 100)[1]

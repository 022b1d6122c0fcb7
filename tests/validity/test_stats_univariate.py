"""Empirical size and power of every two-sample test in shiftguard.stats.

Size: 2,000 seeded null repetitions at alpha = 0.05; the rejection rate must lie within three
binomial standard errors of 0.05, or below the upper end of that band for tests documented
as conservative (discrete statistics: exact KS, Fisher, permutation p-values). Power: the
rejection rate on a stated shift must clearly exceed alpha (> 0.3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard import stats as uv
from shiftguard.stats import distances as ds

pytestmark = pytest.mark.validity

ALPHA = 0.05
N_NULL = 2000
N_POWER = 300
N_REF, N_CUR = 40, 50
LOW, HIGH = binomial_band(ALPHA, N_NULL)
SHIFT = 0.8  # power alternative for numeric tests: N(0, 1) vs N(0.8, 1)
PROBS_NULL = np.array([0.4, 0.3, 0.2, 0.1])
PROBS_SHIFTED = np.array([0.25, 0.3, 0.2, 0.25])  # power alternative for categorical tests


def _rejection_rate(test: Callable, samples: Callable, n_reps: int, seed: int) -> float:
    """Share of ``n_reps`` seeded repetitions with ``p <= alpha``; ``test(x, y, rng)``."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(n_reps):
        x, y = samples(rng)
        rejected += test(x, y, rng).pvalue <= ALPHA
    return rejected / n_reps


def _normal_null(rng):
    return rng.normal(size=N_REF), rng.normal(size=N_CUR)


def _normal_shift(rng):
    return rng.normal(size=N_REF), rng.normal(SHIFT, size=N_CUR)


def _categorical(probs_cur, n_ref=100, n_cur=120):
    def draw(rng):
        return rng.choice(4, size=n_ref, p=PROBS_NULL), rng.choice(4, size=n_cur, p=probs_cur)

    return draw


def _binary(p_cur):
    def draw(rng):
        return rng.random(N_REF) < 0.3, rng.random(N_CUR) < p_cur

    return draw


def _plain(func):
    return lambda x, y, rng: func(x, y)


def _perm(func, **kwargs):
    return lambda x, y, rng: func(x, y, n_permutations=199, seed=rng, **kwargs)


# Tests whose level is nominal (asymptotic or interpolated p-values): two-sided band.
NOMINAL = {
    "cvm": (_plain(uv.cvm_test), _normal_null, _normal_shift),
    "anderson": (_plain(uv.anderson_test), _normal_null, _normal_shift),
    "mannwhitney": (_plain(uv.mannwhitney_test), _normal_null, _normal_shift),
    # Permutation p-value at B = 199: its level is exactly 10 / 200 = 0.05.
    "epps_singleton": (_perm(uv.epps_singleton_test), _normal_null, _normal_shift),
    "chi2": (_plain(uv.chi2_test), _categorical(PROBS_NULL), _categorical(PROBS_SHIFTED)),
    "g": (_plain(uv.g_test), _categorical(PROBS_NULL), _categorical(PROBS_SHIFTED)),
}

# Tests documented as conservative (discrete statistics): only the upper end binds.
CONSERVATIVE = {
    "fisher": (_plain(uv.fisher_test), _binary(0.3), _binary(0.65)),
    "wasserstein": (_perm(ds.wasserstein_test), _normal_null, _normal_shift),
    "psi": (_perm(ds.psi_test), _normal_null, _normal_shift),
    "js": (_perm(ds.js_test), _normal_null, _normal_shift),
    "hellinger": (_perm(ds.hellinger_test), _normal_null, _normal_shift),
    "psi_categorical": (
        _perm(ds.psi_test, categorical=True),
        _categorical(PROBS_NULL),
        _categorical(PROBS_SHIFTED),
    ),
}


@pytest.mark.parametrize("name", list(NOMINAL))
def test_size_is_nominal(name: str) -> None:
    test, null, _ = NOMINAL[name]
    rate = _rejection_rate(test, null, N_NULL, seed=1)
    assert LOW <= rate <= HIGH, f"{name}: size {rate:.4f} outside [{LOW:.4f}, {HIGH:.4f}]"


@pytest.mark.parametrize("name", list(CONSERVATIVE))
def test_size_is_at_most_nominal(name: str) -> None:
    test, null, _ = CONSERVATIVE[name]
    rate = _rejection_rate(test, null, N_NULL, seed=2)
    assert rate <= HIGH, f"{name}: size {rate:.4f} above {HIGH:.4f}"


@pytest.mark.parametrize("name", list(NOMINAL) + list(CONSERVATIVE))
def test_power_on_a_small_shift(name: str) -> None:
    test, _, alternative = {**NOMINAL, **CONSERVATIVE}[name]
    rate = _rejection_rate(test, alternative, N_POWER, seed=3)
    assert rate > 0.3, f"{name}: power {rate:.3f}"


def test_ks_size_and_power_through_the_fast_path() -> None:
    # Each column is one repetition: 2,000 exact two-sided KS tests in one call.
    rng = np.random.default_rng(4)
    reference = uv.presort(rng.normal(size=(N_REF, N_NULL)))
    p_null = uv.ks_test_many(reference, rng.normal(size=(N_CUR, N_NULL)))[1]
    assert np.mean(p_null <= ALPHA) <= HIGH  # exact law of a discrete statistic
    p_alt = uv.ks_test_many(reference, rng.normal(SHIFT, size=(N_CUR, N_NULL)))[1]
    assert np.mean(p_alt <= ALPHA) > 0.3
    # Asymptotic law at a moderate size: nominal within the band.
    reference = uv.presort(rng.normal(size=(400, N_NULL)))
    p_asymp = uv.ks_test_many(reference, rng.normal(size=(500, N_NULL)), method="asymp")[1]
    assert LOW <= np.mean(p_asymp <= ALPHA) <= HIGH


def test_ks_with_ties_is_conservative() -> None:
    rng = np.random.default_rng(5)
    reference = uv.presort(rng.poisson(2.0, size=(N_REF, N_NULL)).astype(float))
    pvalues = uv.ks_test_many(reference, rng.poisson(2.0, size=(N_CUR, N_NULL)).astype(float))[1]
    assert np.mean(pvalues <= ALPHA) <= HIGH


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_ks_size(alternative: str) -> None:
    rng = np.random.default_rng(6)
    reference = uv.presort(rng.normal(size=(N_REF, N_NULL)))
    pvalues = uv.ks_test_many(reference, rng.normal(size=(N_CUR, N_NULL)), alternative)[1]
    assert np.mean(pvalues <= ALPHA) <= HIGH


def test_mannwhitney_fast_path_size_and_power() -> None:
    rng = np.random.default_rng(7)
    reference = uv.presort(rng.normal(size=(N_REF, N_NULL)))
    p_null = uv.mannwhitney_test_many(reference, rng.normal(size=(N_CUR, N_NULL)))[1]
    assert LOW <= np.mean(p_null <= ALPHA) <= HIGH
    p_alt = uv.mannwhitney_test_many(reference, rng.normal(SHIFT, size=(N_CUR, N_NULL)))[1]
    assert np.mean(p_alt <= ALPHA) > 0.3

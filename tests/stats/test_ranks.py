"""Mann-Whitney U tests, one column and presorted columns: equality with SciPy, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError

RTOL = 1e-9


def _sample(rng: np.random.Generator, n: int, shift: float, ties: bool) -> np.ndarray:
    x = rng.normal(shift, 1.0, size=n)
    return np.round(2 * x) if ties else x


def _scipy_ks(x: np.ndarray, y: np.ndarray, alternative: str, method: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SciPy's exact->asymp fallback notice
        return st.ks_2samp(x, y, alternative=alternative, method=method)




@pytest.mark.parametrize(("n1", "n2"), [(4, 6), (8, 7), (30, 45), (200, 150)])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mannwhitney_test_equals_scipy(n1: int, n2: int, alternative: str) -> None:
    rng = np.random.default_rng(n1 * 11 + n2)
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 * n2 > 2000:
            continue  # SciPy's exact law is slow to build for large samples
        for ties in (False, True):
            for continuity in (True, False):
                x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, 0.4, ties)
                expected = st.mannwhitneyu(x, y, use_continuity=continuity,
                                           alternative=alternative, method=method)
                got = uv.mannwhitney_test(x, y, alternative, method, continuity)
                assert got.statistic == expected.statistic
                assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)




@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mannwhitney_test_many_equals_scipy_per_column(alternative: str) -> None:
    rng = np.random.default_rng(12)
    for n1, n2 in [(5, 40), (60, 7), (150, 220)]:
        R = rng.normal(size=(n1, 5))
        C = rng.normal(0.3, size=(n2, 5))
        R[:, 1], C[:, 1] = np.round(R[:, 1]), np.round(C[:, 1])  # ties
        R[:, 2], C[:, 2] = 1.0, 1.0  # all tied: zero spread
        R[rng.random(R.shape) < 0.1] = np.nan
        R[0] = 0.0
        reference = uv.presort(R)
        for method in ("auto", "asymptotic", "exact"):
            for continuity in (True, False):
                if method == "exact" and n1 * n2 > 2000:
                    continue
                stats, pvalues = uv.mannwhitney_test_many(
                    reference, C, alternative, method, continuity
                )
                for j in range(5):
                    x = R[~np.isnan(R[:, j]), j]
                    expected = st.mannwhitneyu(x, C[:, j], use_continuity=continuity,
                                               alternative=alternative, method=method)
                    assert stats[j] == expected.statistic
                    assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL)


def test_mannwhitney_test_many_bad_input() -> None:
    reference = uv.presort(np.zeros((10, 2)))
    with pytest.raises(InputError, match="current.*3 columns"):
        uv.mannwhitney_test_many(reference, np.zeros((10, 3)))
    with pytest.raises(ParameterError, match="method"):
        uv.mannwhitney_test_many(reference, np.zeros((10, 2)), method="asymp")

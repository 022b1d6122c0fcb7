"""Anderson-Darling test: SciPy equality without ties, the permutation p-value with ties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats import anderson
from shiftguard.stats.montecarlo import pooled_value_counts

RTOL = 1e-9


def _sample(rng: np.random.Generator, n: int, shift: float, ties: bool) -> np.ndarray:
    x = rng.normal(shift, 1.0, size=n)
    return np.round(2 * x) if ties else x


def _scipy(x: np.ndarray, y: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SciPy's capped/floored notices
        return st.anderson_ksamp([x, y], variant="midrank")


def _a2akn_scholz_stephens(x: np.ndarray, y: np.ndarray) -> float:
    """Scholz and Stephens' (1987) midrank A2akN, eq. (7), straight from the ECDFs."""
    pooled = np.sort(np.concatenate([x, y]))
    total = pooled.size
    values = np.unique(pooled)
    below = np.searchsorted(pooled, values, side="left")
    ties = np.searchsorted(pooled, values, side="right") - below
    b_mid = below + ties / 2
    a2 = 0.0
    for sample in (np.sort(x), np.sort(y)):
        left = np.searchsorted(sample, values, side="left")
        m_mid = left + (np.searchsorted(sample, values, side="right") - left) / 2
        terms = ties / total * (total * m_mid - sample.size * b_mid) ** 2
        a2 += float(np.sum(terms / (b_mid * (total - b_mid) - total * ties / 4))) / sample.size
    return (total - 1) / total * a2


@pytest.mark.parametrize(("n1", "n2"), [(8, 10), (40, 60), (300, 250), (30, 3000)])
def test_anderson_test_equals_scipy_without_ties_and_flags_clipping(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 3 + n2)
    seen_inside = False
    for shift in np.linspace(0.0, 1.5, 12):
        x, y = _sample(rng, n1, 0.0, False), _sample(rng, n2, shift, False)
        expected = _scipy(x, y)
        got = uv.anderson_test(x, y)
        assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
        assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)
        assert got.n_permutations is None
        if 0.001 < expected.pvalue < 0.25:
            seen_inside = True
            assert got.pvalue_clipped is None
        elif expected.pvalue <= 0.001:
            assert got.pvalue_clipped == "floor"
        else:
            assert got.pvalue_clipped == "cap"
    assert seen_inside


@pytest.mark.parametrize(("n1", "n2"), [(8, 10), (40, 60), (300, 250), (30, 3000)])
@pytest.mark.usefixtures("plain_pvalues")
def test_anderson_with_ties_reports_scipys_statistic_and_a_permutation_pvalue(
    n1: int, n2: int
) -> None:
    rng = np.random.default_rng(n1 * 5 + n2)
    x, y = _sample(rng, n1, 0.0, True), _sample(rng, n2, 0.2, True)
    got = uv.anderson_test(x, y, n_permutations=499, seed=2)
    assert got.statistic == pytest.approx(_scipy(x, y).statistic, rel=RTOL)
    assert got.n_permutations == 499 and got.pvalue_clipped is None
    assert got == uv.anderson_test(x, y, n_permutations=499, seed=2)
    assert got == uv.anderson_test(x, y, method="permutation", n_permutations=499, seed=2)


@pytest.mark.parametrize(("n1", "n2"), [(2, 3), (8, 10), (40, 60), (300, 2000), (3000, 250)])
def test_anderson_count_statistic_is_scholz_and_stephens_a2akn(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + 7 * n2)
    for ties in (False, True):
        x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, 0.3, ties)
        _, counts_x, pooled = pooled_value_counts(x, y)
        a2, _, _ = anderson._anderson_permutation(counts_x, pooled, 1, np.random.default_rng(0))
        assert a2 == pytest.approx(_a2akn_scholz_stephens(x, y), rel=RTOL)


def test_anderson_permutation_pvalue_is_seeded_and_not_clipped() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=30), rng.normal(2.5, size=30)
    a = uv.anderson_test(x, y, method="permutation", n_permutations=1999, seed=3)
    b = uv.anderson_test(x, y, method="permutation", n_permutations=1999, seed=3)
    assert a == b
    assert a.pvalue == pytest.approx(1 / 2000)  # no relabelling beats a 2.5-sd shift
    assert a.pvalue_clipped is None and a.n_permutations == 1999
    assert a.statistic == pytest.approx(_scipy(x, y).statistic, rel=RTOL)


def test_anderson_rejects_one_distinct_value_and_the_interpolated_law_with_ties() -> None:
    # Input checks shared with the other tests: tests/stats/test_cvm.py.
    good = np.arange(10.0)
    with pytest.raises(InputError, match="single distinct value"):
        uv.anderson_test(np.ones(5), np.ones(6))
    with pytest.raises(ParameterError, match="interpolated.*ties"):
        uv.anderson_test(np.r_[good, 3.0], good + 0.5, method="interpolated")

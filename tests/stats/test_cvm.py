"""Cramer-von Mises test: SciPy equality without ties, the ECDF statistic with ties, the
count-based permutation p-value shared with the Anderson-Darling and Epps-Singleton tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from shiftguard import stats as uv
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats import _kernels

RTOL = 1e-9


def _sample(rng: np.random.Generator, n: int, shift: float, ties: bool) -> np.ndarray:
    x = rng.normal(shift, 1.0, size=n)
    return np.round(2 * x) if ties else x


def _cvm_from_ecdfs(x: np.ndarray, y: np.ndarray) -> float:
    """n m / N^2 * sum over the pooled values of the squared ECDF difference, directly."""
    n, m = x.size, y.size
    pooled = np.concatenate([x, y])
    f_x = np.searchsorted(np.sort(x), pooled, side="right") / n
    f_y = np.searchsorted(np.sort(y), pooled, side="right") / m
    return n * m / (n + m) ** 2 * float(np.sum((f_x - f_y) ** 2))


@pytest.mark.parametrize(("n1", "n2"), [(5, 7), (12, 19), (40, 60), (300, 250), (21, 2000)])
def test_cvm_test_equals_scipy_without_ties(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + 100 * n2)
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 + n2 > 60:
            continue
        for shift in (0.0, 0.8):
            x, y = _sample(rng, n1, 0.0, False), _sample(rng, n2, shift, False)
            expected = st.cramervonmises_2samp(x, y, method=method)
            got = uv.cvm_test(x, y, method=method)
            assert got.statistic == pytest.approx(expected.statistic, rel=RTOL)
            assert got.pvalue == pytest.approx(expected.pvalue, rel=RTOL)
            assert got.n_permutations is None


@pytest.mark.parametrize(("n1", "n2"), [(2, 3), (5, 7), (40, 60), (200, 2000), (3000, 250)])
def test_cvm_statistic_is_the_ecdf_statistic_with_and_without_ties(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    for ties in (False, True):
        x, y = _sample(rng, n1, 0.0, ties), _sample(rng, n2, 0.3, ties)
        got = uv.cvm_test(x, y, method="permutation", n_permutations=19, seed=0)
        assert got.statistic == pytest.approx(_cvm_from_ecdfs(x, y), rel=RTOL)
        if not ties:
            expected = st.cramervonmises_2samp(x, y).statistic
            assert got.statistic == pytest.approx(expected, rel=RTOL)


@pytest.mark.usefixtures("plain_pvalues")
def test_cvm_with_ties_differs_from_scipy_and_is_not_fooled_by_them() -> None:
    # Integers 0-3 from one distribution, 200 against 2,000: SciPy's p ~ 1e-8.
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 200).astype(float), rng.integers(0, 4, 2000).astype(float)
    assert st.cramervonmises_2samp(x, y).pvalue < 1e-6
    got = uv.cvm_test(x, y, n_permutations=999, seed=1)
    assert got.statistic == pytest.approx(_cvm_from_ecdfs(x, y), rel=RTOL)
    assert got.n_permutations == 999
    assert got.pvalue > 0.05


@pytest.mark.usefixtures("plain_pvalues")
def test_cvm_permutation_pvalue_is_seeded_and_on_its_grid() -> None:
    rng = np.random.default_rng(3)
    x, y = np.round(rng.normal(size=60)), np.round(rng.normal(0.2, size=90))
    a = uv.cvm_test(x, y, n_permutations=999, seed=5)
    assert a == uv.cvm_test(x, y, n_permutations=999, seed=5)
    assert a == uv.cvm_test(x, y, n_permutations=999, seed=np.random.default_rng(5))
    assert a.pvalue != uv.cvm_test(x, y, n_permutations=999, seed=6).pvalue
    hits = a.pvalue * 1000 - 1
    assert hits == pytest.approx(round(hits)) and 0 <= round(hits) <= 999
    far = uv.cvm_test(x, y + 3.0, n_permutations=999, seed=5)
    assert far.pvalue == pytest.approx(1 / 1000)  # no relabelling beats a 3-sd shift


def test_cvm_with_ties_rejects_the_laws_of_tie_free_data() -> None:
    x, y = np.array([0.0, 1.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    for method in ("exact", "asymptotic"):
        with pytest.raises(ParameterError, match=f"{method}.*tied values"):
            uv.cvm_test(x, y, method=method)
    reference = uv.presort(np.c_[np.arange(6.0), [0.0, 1.0, 1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ParameterError, match="column 1 holds tied values"):
        uv.cvm_test_many(reference, np.c_[np.arange(5.0) + 0.5, np.arange(5.0) + 0.5],
                         method="asymptotic")


@pytest.mark.parametrize(
    ("test", "min_size"),
    [(uv.cvm_test, 2), (uv.anderson_test, 1), (uv.epps_singleton_test, 5)],
    ids=["cvm", "anderson", "epps_singleton"],
)
def test_bad_input_and_parameters_raise_typed_errors(test, min_size: int) -> None:
    # The three tests share one validation path and the permutation parameters.
    good = np.arange(10.0)
    with pytest.raises(InputError, match="'x'.*NaN"):
        test(np.r_[good, np.nan], good)
    with pytest.raises(InputError, match="'y'.*infinite"):
        test(good, np.r_[good, np.inf])
    with pytest.raises(InputError, match=f"'y'.*at least {min_size}"):
        test(good, good[: min_size - 1])
    with pytest.raises(InputError, match="'x'.*expected numbers"):
        test(["a", "b", "c", "d", "e"], good)
    with pytest.raises(InputError, match="'x'.*1-D"):
        test(np.ones((5, 2)), good)
    with pytest.raises(ParameterError, match="method"):
        test(good, good, method="bootstrap")
    with pytest.raises(ParameterError, match="n_permutations"):
        test(good, good, method="permutation", n_permutations=0)
    with pytest.raises(ParameterError, match="n_permutations"):
        test(good, good, n_permutations=1.5)


@pytest.mark.parametrize(("n1", "n2"), [(6, 15), (12, 20), (21, 40), (150, 220)])
def test_cvm_test_many_equals_cvm_test_per_column(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 13 + n2)
    R = rng.normal(size=(n1, 5))
    C = rng.normal(0.4, size=(n2, 5))
    R[:, 1], C[:, 1] = np.round(R[:, 1]), np.round(C[:, 1])  # ties
    R[:, 2], C[:, 2] = 1.0, 1.0  # all tied
    R[rng.random(R.shape) < 0.1] = np.nan
    R[:2, 3:] = 0.0  # one tie within the reference, in columns 3 and 4
    reference = uv.presort(R)
    for method in ("auto", "permutation"):
        stats, pvalues = uv.cvm_test_many(reference, C, method, n_permutations=99, seed=4)
        # One Generator, consumed column by column by the columns with a permutation law.
        column_rng = np.random.default_rng(4)
        for j in range(5):
            x = R[~np.isnan(R[:, j]), j]
            expected = uv.cvm_test(x, C[:, j], method, n_permutations=99, seed=column_rng)
            assert stats[j] == pytest.approx(expected.statistic, rel=RTOL)
            assert pvalues[j] == pytest.approx(expected.pvalue, rel=RTOL)
        assert pvalues[2] == 1.0  # all values equal: every relabelling ties
    x = R[~np.isnan(R[:, 0]), 0]  # column 0 has no ties: SciPy's laws apply
    for method in ("auto", "asymptotic", "exact"):
        if method == "exact" and n1 + n2 > 45:
            continue
        stats, pvalues = uv.cvm_test_many(uv.presort(R[:, :1]), C[:, :1], method)
        expected = st.cramervonmises_2samp(x, C[:, 0], method=method)
        assert stats[0] == pytest.approx(expected.statistic, rel=RTOL)
        assert pvalues[0] == pytest.approx(expected.pvalue, rel=RTOL)


def test_cvm_test_many_needs_two_values_per_column() -> None:
    reference = uv.presort(np.r_[np.zeros((1, 2)), np.full((4, 2), np.nan)] + [[0, 1]])
    with pytest.raises(InputError, match="reference.*column 0 has fewer than 2"):
        uv.cvm_test_many(reference, np.zeros((5, 2)))


# ------------------------------------------------- the permutation p-value over counts


def _count_vectors(pooled: tuple[int, ...], size: int):
    """Every vector of per-value counts of a sample of ``size`` drawn from ``pooled``."""
    if not pooled:
        if size == 0:
            yield ()
        return
    for first in range(min(pooled[0], size) + 1):
        if sum(pooled[1:]) >= size - first:
            for rest in _count_vectors(pooled[1:], size - first):
                yield (first, *rest)


def _exact_permutation_pvalue(test, values: np.ndarray, counts_x: np.ndarray,
                              pooled: np.ndarray, **kwargs) -> float:
    """Exact permutation p-value of ``test``'s statistic: the multivariate hypergeometric
    probability of the count vectors whose statistic reaches the observed one."""
    def statistic(counts) -> float:
        x, y = np.repeat(values, counts), np.repeat(values, pooled - np.asarray(counts))
        return test(x, y, n_permutations=1, seed=0, **kwargs).statistic

    size, total = int(counts_x.sum()), int(pooled.sum())
    observed = statistic(counts_x)
    pvalue = 0.0
    for counts in _count_vectors(tuple(int(t) for t in pooled), size):
        if statistic(counts) >= observed - RTOL * abs(observed):
            ways = math.prod(math.comb(int(t), a) for t, a in zip(pooled, counts, strict=True))
            pvalue += ways / math.comb(total, size)
    return pvalue


def _designs() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(values, counts of x, pooled counts) for each sampling path of the engine."""
    rng = np.random.default_rng(21)
    continuous = np.sort(rng.normal(size=12))
    with_a_tie = np.sort(rng.normal(size=24))
    return {
        # 12 distinct values, 5 drawn: relabelled positions, sums over all values.
        "positions": (continuous, np.isin(np.arange(12), [0, 3, 4, 8, 11]).astype(int),
                      np.ones(12, dtype=int)),
        # 24 distinct values, 2 drawn: sums over the drawn sample's values only.
        "positions, sparse sums": (with_a_tie, np.isin(np.arange(24), [5, 6]).astype(int),
                                   np.r_[np.ones(23, dtype=int), 2]),
        # 3 distinct values, 18 drawn: multivariate hypergeometric counts.
        "counts": (np.array([0.0, 1.0, 2.0]), np.array([9, 5, 4]), np.array([12, 14, 12])),
    }


def _count_calls(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(_kernels, name)

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(_kernels, name, counted)
    return calls


ENGINE_CASES = [
    (name, design)
    for name in ("cvm", "anderson", "epps_singleton")
    for design in _designs()
    if not (name == "epps_singleton" and design == "positions, sparse sums")  # 2 < 5 values
]
ENGINE_TESTS = {
    "cvm": (uv.cvm_test, {"method": "permutation"}),
    "anderson": (uv.anderson_test, {"method": "permutation"}),
    "epps_singleton": (uv.epps_singleton_test, {"method": "permutation", "t": (0.5, 1.0)}),
}


@pytest.mark.parametrize(("name", "design"), ENGINE_CASES)
@pytest.mark.usefixtures("plain_pvalues")
def test_permutation_pvalue_matches_exact_enumeration(name, design, monkeypatch) -> None:
    # The engine is shared by the three tests; each depends on the data through counts only.
    test, kwargs = ENGINE_TESTS[name]
    values, counts_x, pooled = _designs()[design]
    exact = _exact_permutation_pvalue(test, values, counts_x, pooled, **kwargs)
    shuffles = _count_calls(monkeypatch, "partial_shuffles")
    sparse = _count_calls(monkeypatch, "ecdf_gap_sums_sparse")
    n_permutations = 4999
    x, y = np.repeat(values, counts_x), np.repeat(values, pooled - counts_x)
    got = test(x, y, n_permutations=n_permutations, seed=8, **kwargs)
    assert bool(shuffles) == design.startswith("positions")
    assert bool(sparse) == (design == "positions, sparse sums")
    # Monte Carlo error of (1 + hits) / (1 + B) around the exact p-value: 4 standard errors.
    tolerance = 4 * math.sqrt(exact * (1 - exact) / n_permutations) + 1 / (n_permutations + 1)
    assert abs(got.pvalue - exact) <= tolerance
    assert 0.01 < exact < 0.99  # a design whose p-value can be wrong in both directions


def test_partial_shuffles_draws_uniform_subsets_and_restores_its_scratch() -> None:
    rng = np.random.default_rng(2)
    n_total, size, n_draws = 5, 2, 20_000
    scratch = np.arange(n_total)
    offsets = rng.integers(0, n_total - np.arange(size), size=(n_draws, size))
    drawn = _kernels.partial_shuffles(offsets, scratch)
    np.testing.assert_array_equal(scratch, np.arange(n_total))
    assert (drawn[:, 0] != drawn[:, 1]).all()
    ordered = np.bincount(drawn[:, 0] * n_total + drawn[:, 1], minlength=n_total**2)
    cells = ordered[np.arange(n_total**2) % (n_total + 1) != 0]  # the 20 ordered pairs
    share = 1 / cells.size
    se = math.sqrt(share * (1 - share) / n_draws)
    assert np.all(np.abs(cells / n_draws - share) <= 4 * se)


def test_sparse_ecdf_gap_sums_equal_the_dense_ones() -> None:
    rng = np.random.default_rng(5)
    for trial in range(60):
        n_values = int(rng.integers(2, 400))
        pooled = rng.integers(1, 4, n_values) if trial % 2 else np.ones(n_values, dtype=int)
        pooled[rng.integers(n_values)] += 300 * (trial % 3 == 0)
        total = int(pooled.sum())
        size = int(rng.integers(1, max(2, total // 2)))
        cumulative = np.cumsum(pooled)
        midpoint = trial % 2
        centre = size * (2 * cumulative - midpoint * pooled)
        weights = rng.random(n_values) * pooled
        offsets = rng.integers(0, total - np.arange(size), size=(8, size))
        received = _kernels.partial_shuffles(offsets, np.repeat(np.arange(n_values), pooled))
        counts = np.stack([np.bincount(row, minlength=n_values) for row in received])
        dense = _kernels.ecdf_gap_sums(counts, centre, weights, total, midpoint)
        prefix = _kernels.ecdf_gap_prefix_sums(centre, weights)
        sparse = _kernels.ecdf_gap_sums_sparse(received, centre, weights, total, midpoint,
                                               prefix)
        np.testing.assert_allclose(sparse, dense, rtol=1e-10)

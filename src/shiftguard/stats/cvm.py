"""Two-sample Cramer-von Mises test (one column, and every column against a presorted
reference), and the permutation p-value over per-value counts that the Anderson-Darling and
Epps-Singleton tests share with it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.ks import SortedColumns, paired_columns, wasserstein_effect
from shiftguard.stats.montecarlo import (
    count_permutation_test,
    pooled_value_counts,
    smaller_sample,
)

_METHODS = ("auto", "asymptotic", "exact", "permutation")
# Sums over a relabelled sample's sorted values (~45 ns per value, mostly the sort) against
# sums over all distinct values (~4 ns each, counts included).
_SPARSE_GAP_COST = 10

Seed = int | np.random.Generator | None


def cvm_test(
    x: Any,
    y: Any,
    method: str = "auto",
    n_permutations: int = 9999,
    seed: Seed = None,
) -> TestResult:
    """Two-sample Cramer-von Mises test, valid with ties.

    Null hypothesis: ``x`` and ``y`` are independent samples from one distribution F
    (continuous or not). The statistic is Anderson's (1962) integrated squared ECDF
    difference with respect to the pooled empirical measure,

        T = n m / (n + m)^2 * sum over the n + m pooled values z of (F_x(z) - F_y(z))^2,

    with ``F_x``, ``F_y`` the (right-continuous) ECDFs of the samples of sizes n and m.

    p-value and its guarantee (``P(p <= alpha) <= alpha`` under the null hypothesis):

    - Without ties, statistic and p-value equal :func:`scipy.stats.cramervonmises_2samp`:
      ``method="exact"`` (the ``"auto"`` choice when both samples have at most 20 values)
      is the exact permutation law of T, valid at every size; ``"asymptotic"`` (the
      ``"auto"`` choice otherwise) is the limit law (Csorgo and Faraway, 1996) with SciPy's
      finite-size standardisation, valid as both sizes grow. T is then distribution-free;
      at alpha = 0.05 and 0.01 the size was within three binomial standard errors of
      nominal in every design we ran, from 5 against 30 values (30 against 40, 21 against
      2,000, 200 against 20,000; 4,000 repetitions each).
    - ``method="permutation"`` (the ``"auto"`` choice with ties): the p-value is
      ``(1 + #{b : T_b >= T}) / (1 + B)`` over ``B = n_permutations`` random relabellings of
      the pooled sample, valid at every sample size and for every ``B``, with or without
      ties, because the observed labelling is one more draw from the permutation law
      (Phipson and Smyth, 2010).

    Where we differ from SciPy: with ties SciPy puts midranks into its tie-free formula. That
    is not the ECDF statistic above, and SciPy's laws (exact and limiting) are those of
    tie-free data: on integers 0-3, 200 against 2,000 values from one distribution, SciPy
    rejected in every repetition (p ~ 1e-8). We compute T from the ECDFs and use the
    permutation law; ``method="exact"`` or ``"asymptotic"`` on tied data raises
    :class:`~shiftguard.errors.ParameterError` instead of reporting an invalid p-value.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite, at least 2 values each.
    method
        ``"auto"``, ``"asymptotic"``, ``"exact"`` or ``"permutation"``.
    n_permutations
        Number ``B`` of random relabellings when the p-value is by permutation.
    seed
        Seed or Generator of the relabellings: equal input and seed give equal output.

    Returns
    -------
    TestResult
        ``method="cvm"``; ``n_permutations`` is set when the p-value is by permutation.

    Notes
    -----
    T depends on the data only through the counts of each distinct value in each sample.
    A relabelling gives the smaller sample (size k) counts with the multivariate
    hypergeometric law over the K distinct pooled values: they are drawn directly when
    ``6 K <= k`` (O(K) per relabelling), otherwise by drawing which k pooled observations it
    receives (O(k), plus O(K) or, when K exceeds 10 k, O(k log k) for the sums). With
    B = 9,999 on one core we measured 0.08 s for 10^6 rows taking 10 distinct values (10^5
    of them current), 0.25 s for 200 distinct values, 1.4 s for 10^6 continuous rows with
    one tie against 500, and 1.9 s for 100,000 rows rounded to 3 decimals (5,800 distinct
    values), 10,000 of them current. The cost grows with ``B * min(K, k)``: lower
    ``n_permutations`` for larger tied data.

    References
    ----------
    Anderson, T. W. (1962). On the distribution of the two-sample Cramer-von Mises
    criterion. Annals of Mathematical Statistics 33, 1148-1159.
    Csorgo, S. and Faraway, J. J. (1996). The exact and asymptotic distributions of
    Cramer-von Mises statistics. Journal of the Royal Statistical Society B 58, 221-234.
    Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
    Statistical Applications in Genetics and Molecular Biology 9(1), article 39.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.integers(0, 4, size=200), rng.integers(0, 4, size=2000)
    >>> bool(cvm_test(ref, cur, seed=1).pvalue > 0.01)
    True
    """
    from scipy.stats import cramervonmises_2samp

    xs = as_float_array(x, "x", min_size=2)
    ys = as_float_array(y, "y", min_size=2)
    check_choice(method, "method", _METHODS)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    effect = wasserstein_effect(np.sort(xs), np.sort(ys))
    _, counts_x, pooled = pooled_value_counts(xs, ys)
    if pooled.size == xs.size + ys.size and method != "permutation":
        res = cramervonmises_2samp(xs, ys, method=method)
        return TestResult("cvm", float(res.statistic), float(res.pvalue), effect)
    if method in ("asymptotic", "exact"):
        raise ParameterError(_TIED_LAW_MESSAGE.format(method=method, where="x and y share"))
    statistic, pvalue, drawn = _cvm_permutation(counts_x, pooled, n_permutations, as_rng(seed))
    return TestResult("cvm", statistic, pvalue, effect, drawn)


_TIED_LAW_MESSAGE = (
    "method={method!r} is SciPy's law for data without ties, but {where} tied values; "
    "use method='auto' or 'permutation'"
)


def cvm_test_many(
    reference: SortedColumns,
    current: SortedColumns | np.ndarray,
    method: str = "auto",
    n_permutations: int = 9999,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cramer-von Mises test of every column against a presorted reference.

    Column ``j`` of ``current`` against column ``j`` of ``reference`` on their non-missing
    values; statistic and p-value equal ``cvm_test(ref_j, cur_j, method, n_permutations,
    rng)``, with one Generator ``rng`` (``seed`` itself, or made from it) consumed column by
    column, so the columns without ties equal ``scipy.stats.cramervonmises_2samp(ref_j,
    cur_j, method)``.
    Null hypothesis, guarantee and the handling of ties as in :func:`cvm_test`.

    Parameters
    ----------
    reference, current
        As in :func:`ks_test_many`; every column needs at least 2 values in each.
    method, n_permutations, seed
        As in :func:`cvm_test`.

    Returns
    -------
    statistics, pvalues
        Two (d,) float64 arrays.

    Notes
    -----
    The rank statistic and the tie count come from one merge of the sorted columns (numba,
    columns in parallel) and the limiting law is evaluated for all tie-free columns at once;
    columns on the exact law are passed to SciPy and columns with ties to the permutation
    test one by one.
    """
    from scipy.stats import cramervonmises_2samp

    from shiftguard.stats import _kernels

    check_choice(method, "method", _METHODS)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    reference, current = paired_columns(reference, current)
    for name, cols in (("reference", reference), ("current", current)):
        small = np.flatnonzero(cols.n_valid < 2)
        if small.size:
            raise InputError(f"column {int(small[0])} has fewer than 2 non-missing values",
                             name)
    _, tie_term, u = _kernels.rank_statistics(
        reference.values, reference.n_valid, current.values, current.n_valid
    )
    tied = tie_term > 0
    if method in ("asymptotic", "exact") and tied.any():
        where = f"column {int(np.flatnonzero(tied)[0])} holds"
        raise ParameterError(_TIED_LAW_MESSAGE.format(method=method, where=where))
    nx = reference.n_valid.astype(np.float64)
    ny = current.n_valid.astype(np.float64)
    k, n = nx * ny, nx + ny
    # Anderson's rank formula; it is the ECDF statistic only without ties.
    statistics = u / (k * n) - (4 * k - 1) / (6 * n)
    by_permutation = tied | (method == "permutation")
    exact = ~by_permutation & (
        (method == "exact") | ((method == "auto") & (nx <= 20) & (ny <= 20))
    )
    asymptotic = ~by_permutation & ~exact
    pvalues = np.ones(n.shape)
    pvalues[asymptotic] = _cvm_asymptotic_sf(
        statistics[asymptotic], n[asymptotic], nx[asymptotic], ny[asymptotic]
    )
    rng = as_rng(seed)
    for j in np.flatnonzero(exact | by_permutation):
        x = reference.values[: reference.n_valid[j], j]
        y = current.values[: current.n_valid[j], j]
        if exact[j]:
            pvalues[j] = cramervonmises_2samp(x, y, method="exact").pvalue
        else:
            _, counts_x, pooled = pooled_value_counts(x, y)
            statistics[j], pvalues[j], _ = _cvm_permutation(counts_x, pooled, n_permutations,
                                                            rng)
    return statistics, pvalues


def _cvm_permutation(
    counts_x: np.ndarray, pooled: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float, int]:
    """Tie-correct CvM statistic, its permutation p-value and the relabellings drawn, from
    per-value counts."""
    counts, size = smaller_sample(counts_x, pooled)
    total = int(pooled.sum())
    # n m / N^2 sum_v t_v (A_v / n - B_v / m)^2 = sum_v t_v (2 N A_v - 2 n C_v)^2 / (4 n m N^2)
    # with cumulative counts A (this sample), B (the other) and C = A + B of the pooled
    # counts t: the gaps are integers.
    centre = 2 * size * np.cumsum(pooled)
    weights = pooled / (4.0 * size * (total - size) * float(total) ** 2)
    return ecdf_gap_permutation_test(counts, pooled, centre, weights, 0, n_permutations, rng)


def ecdf_gap_permutation_test(
    counts: np.ndarray,
    pooled: np.ndarray,
    centre: np.ndarray,
    weights: np.ndarray,
    midpoint: int,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[float, float, int]:
    """:func:`count_permutation_test` of a weighted sum of squared integer ECDF gaps.

    The statistic of one sample's per-value counts ``a`` (cumulative counts ``A``) is
    ``sum_v weights[v] * (N (2 A_v - midpoint * a_v) - centre[v])^2``, see
    :func:`~shiftguard.stats._kernels.ecdf_gap_sums`; Cramer-von Mises and the midrank
    Anderson-Darling statistic are of this form.
    """
    from shiftguard.stats import _kernels

    total = int(pooled.sum())
    n_values = pooled.size
    sparse = n_values > _SPARSE_GAP_COST * int(counts.sum())
    prefix = _kernels.ecdf_gap_prefix_sums(centre, weights) if sparse else None

    def of_counts(block: np.ndarray) -> np.ndarray:
        return _kernels.ecdf_gap_sums(block, centre, weights, total, midpoint)

    def of_values(received: np.ndarray) -> np.ndarray:
        if sparse:
            return _kernels.ecdf_gap_sums_sparse(
                received, centre, weights, total, midpoint, prefix
            )
        rows = received.shape[0]
        flat = received + n_values * np.arange(rows)[:, None]
        block = np.bincount(flat.ravel(), minlength=rows * n_values)
        return of_counts(block.reshape(rows, n_values))

    return count_permutation_test(counts, pooled, of_counts, of_values, n_permutations, rng)


def _cvm_asymptotic_sf(
    t: np.ndarray, n: np.ndarray, nx: np.ndarray, ny: np.ndarray
) -> np.ndarray:
    """Limiting-law p-value of the two-sample CvM statistic (Anderson 1962; Csorgo and
    Faraway 1996), with SciPy's standardisation and stopping rule so the values agree."""
    from scipy.special import gammaln, kv

    k = nx * ny
    mean = (1 + 1 / n) / 6
    var = (n + 1) * (4 * k * n - 3 * (nx**2 + ny**2) - 2 * k) / (45 * n**2 * 4 * k)
    standardised = 1 / 6 + (t - mean) / np.sqrt(45 * var)
    pvalues = np.ones(t.shape)
    # Below 0.003 the limiting CDF is < 1.3e-18: the p-value is 1 to double precision.
    active = standardised >= 0.003
    x = standardised[active]
    cdf = np.zeros(x.shape)
    running = np.ones(x.shape, dtype=bool)
    term_index = 0
    while running.any():
        # Csorgo and Faraway (1996), eq. 1.3: one term of the series per step, for the
        # entries whose previous term was still >= 1e-7.
        xs = x[running]
        scale = math.exp(gammaln(term_index + 0.5) - gammaln(term_index + 1))
        y = 4 * term_index + 1
        q = y**2 / (16 * xs)
        term = scale / (np.pi**1.5 * np.sqrt(xs)) * math.sqrt(y) * np.exp(-q) * kv(0.25, q)
        cdf[running] += term
        running[running] = np.abs(term) >= 1e-7
        term_index += 1
    pvalues[active] = np.maximum(1.0 - cdf, 0.0)
    return pvalues

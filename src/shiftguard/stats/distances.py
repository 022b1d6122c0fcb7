"""Distances between two samples, tested by permutation.

``wasserstein_test`` (numeric), and ``psi_test``, ``js_test``, ``hellinger_test`` (numeric data
binned on reference quantiles, or categorical labels with ``categorical=True``, or counts via
the ``*_counts`` functions) return the distance as ``statistic`` and a permutation p-value

    p = (1 + #{b : T(permutation b) >= T(observed)}) / (1 + B).

Guarantee: under the null hypothesis that the pooled observations are exchangeable (for
example, both samples i.i.d. from one distribution), ``P(p <= alpha) <= alpha`` for every
``alpha``, every sample size and every number ``B`` of permutations, because the observed
labelling is one more draw from the same permutation distribution (Phipson and Smyth,
2010). The test is conservative when the statistic takes few distinct values (small or
heavily tied samples). The statistic is recomputed on every permutation *including the
reference-quantile bins*, so the binned statistic is one fixed function of the labelled
data, as the guarantee requires. Comparisons use a relative tolerance of 1e-12 so that
permutations equal to the observed statistic up to rounding count as ">=".

Permutations are drawn in blocks (each row of a boolean matrix marks a relabelled reference)
and their statistics computed with array operations: cumulative sums over the sorted
pooled sample (Wasserstein, quantile bins). For categories only the counts matter, and a
random relabelling's reference counts are drawn directly from their multivariate
hypergeometric law (the same permutation distribution, at O(categories) per draw).
Identical input and seed give identical output.

References
----------
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
Statistical Applications in Genetics and Molecular Biology 9(1), article 39.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import as_float_array, as_rng, check_positive_int
from shiftguard.stats.categorical import CategoricalTestResult, checked_counts, label_counts
from shiftguard.stats.ks import wasserstein_effect

__all__ = [
    "PSI_EPSILON",
    "hellinger_test",
    "hellinger_test_counts",
    "js_test",
    "js_test_counts",
    "psi_test",
    "psi_test_counts",
    "wasserstein_test",
]

PSI_EPSILON = 1e-4
"""Proportions below this are raised to it in PSI, so that an empty bin gives a finite
value (the usual convention; an empty bin then contributes about ``q * log(q / 1e-4)``)."""

_BLOCK_CELLS = 1 << 21  # permutations per block * pooled size; bounds the block's memory
_TIES_RTOL = 1e-12

Seed = int | np.random.Generator | None


# --------------------------------------------------------------------------------------
# Permutation machinery


def _reference_masks(
    n_ref: int, n_total: int, n_permutations: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Blocks of boolean rows, each marking ``n_ref`` of ``n_total`` positions at random."""
    base = np.zeros(n_total, dtype=bool)
    base[:n_ref] = True
    rows_per_block = max(1, _BLOCK_CELLS // n_total)
    for start in range(0, n_permutations, rows_per_block):
        rows = min(rows_per_block, n_permutations - start)
        yield rng.permuted(np.tile(base, (rows, 1)), axis=1)


def _pvalue_over_blocks(
    observed: float, permuted: Iterator[np.ndarray], n_permutations: int
) -> float:
    """``(1 + #{permuted >= observed}) / (1 + B)`` over blocks of permuted statistics."""
    threshold = observed - _TIES_RTOL * abs(observed)
    at_least = sum(int(np.count_nonzero(block >= threshold)) for block in permuted)
    return (1.0 + at_least) / (1.0 + n_permutations)


def _mask_permutation_test(
    observed_mask: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_permutations: int,
    seed: Seed,
) -> tuple[float, float]:
    """Observed statistic and permutation p-value for a statistic of reference masks.

    ``statistic`` maps a (b, N) boolean block of reference masks (over a fixed pooled
    sample) to the b statistics; ``observed_mask`` is the actual labelling.
    """
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    rng = as_rng(seed)
    observed = float(statistic(observed_mask[None, :])[0])
    masks = _reference_masks(int(observed_mask.sum()), observed_mask.size, n_permutations, rng)
    return observed, _pvalue_over_blocks(observed, map(statistic, masks), n_permutations)


def _pooled_sorted(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted pooled sample and the mask of its reference members."""
    pooled = np.concatenate([xs, ys])
    order = np.argsort(pooled, kind="stable")
    return pooled[order], order < xs.size


# --------------------------------------------------------------------------------------
# Wasserstein


def wasserstein_test(
    x: Any, y: Any, n_permutations: int = 1000, seed: Seed = None
) -> TestResult:
    """Wasserstein-1 distance between two numeric samples, with a permutation p-value.

    Null hypothesis: the pooled observations are exchangeable (``x`` and ``y`` from one
    distribution); guarantee as in the module docstring. The statistic
    ``W1 = integral |F_x - F_y|`` equals :func:`scipy.stats.wasserstein_distance`.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite, not empty.
    n_permutations
        Number of random relabellings ``B``.
    seed
        Seed or Generator of the permutations.

    Returns
    -------
    TestResult
        ``method="wasserstein"``; ``effect_size`` is ``W1`` divided by the reference
        standard deviation (as for the univariate tests).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = wasserstein_test(rng.normal(size=80), rng.normal(1.0, size=60), 199, seed=1)
    >>> res.pvalue
    0.005
    """
    xs = as_float_array(x, "x")
    ys = as_float_array(y, "y")
    pooled, observed_mask = _pooled_sorted(xs, ys)
    gaps = np.diff(pooled)
    n, m = xs.size, ys.size
    # Left of gap k lie k + 1 pooled values, r of them from the reference, so
    # F_x - F_y = r / n - (k + 1 - r) / m = r (1/n + 1/m) - (k + 1) / m.
    per_reference = 1.0 / n + 1.0 / m
    offset = np.arange(1, pooled.size) / m

    def w1(masks: np.ndarray) -> np.ndarray:
        ref_seen = np.cumsum(masks[:, :-1], axis=1, dtype=np.int32)
        return np.abs(ref_seen * per_reference - offset) @ gaps

    statistic, pvalue = _mask_permutation_test(observed_mask, w1, n_permutations, seed)
    effect = wasserstein_effect(np.sort(xs), np.sort(ys))
    return TestResult("wasserstein", statistic, pvalue, effect, int(n_permutations))


# --------------------------------------------------------------------------------------
# Binned distances


def _psi(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.maximum(p, PSI_EPSILON)
    q = np.maximum(q, PSI_EPSILON)
    return np.sum((q - p) * np.log(q / p), axis=-1)


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    from scipy.special import rel_entr

    mid = 0.5 * (p + q)
    divergence = np.sum(rel_entr(p, mid), axis=-1) + np.sum(rel_entr(q, mid), axis=-1)
    return np.sqrt(np.maximum(divergence / 2.0, 0.0))


def _hellinger(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2, axis=-1))


_DISTANCES = {"psi": _psi, "js": _js, "hellinger": _hellinger}


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation written as :func:`numpy.quantile` does, so edges match it."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)


def _quantile_bin_counts(
    pooled: np.ndarray, masks: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts in the bins cut at each mask's reference quantiles.

    The inner edges are the reference's ``1/bins, ..., (bins-1)/bins`` quantiles (linear
    interpolation, NumPy's default); bin ``b`` holds the values in ``(e_b, e_{b+1}]``, the
    outer bins are open-ended so current values outside the reference range still count.
    """
    rows, n_total = masks.shape
    n_ref = int(masks[0].sum())
    ref_sorted = pooled[np.nonzero(masks)[1].reshape(rows, n_ref)]
    position = (n_ref - 1) * np.arange(1, n_bins) / n_bins
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, n_ref - 1)
    edges = _lerp(ref_sorted[:, low], ref_sorted[:, high], position - low)
    at_or_below = np.searchsorted(pooled, edges.ravel(), side="right").reshape(rows, -1)
    ref_cum = np.zeros((rows, n_total + 1), dtype=np.int64)
    np.cumsum(masks, axis=1, out=ref_cum[:, 1:])
    ref_below = np.take_along_axis(ref_cum, at_or_below, axis=1)
    cur_below = at_or_below - ref_below
    ref_counts = np.diff(ref_below, axis=1, prepend=0, append=n_ref)
    cur_counts = np.diff(cur_below, axis=1, prepend=0, append=n_total - n_ref)
    return ref_counts, cur_counts


def _shares(counts: np.ndarray) -> np.ndarray:
    return counts / counts.sum(axis=-1, keepdims=True)


def _binned_test(
    name: str,
    x: Any,
    y: Any,
    bins: int,
    categorical: bool,
    n_permutations: int,
    seed: Seed,
) -> TestResult:
    distance = _DISTANCES[name]
    if categorical:
        _, ref, cur, unseen = label_counts(x, y)
        return _counts_test(name, ref, cur, unseen, n_permutations, seed)
    xs = as_float_array(x, "x")
    ys = as_float_array(y, "y")
    n_bins = check_positive_int(bins, "bins", minimum=2)
    pooled, observed_mask = _pooled_sorted(xs, ys)

    def statistic(masks: np.ndarray) -> np.ndarray:
        ref_counts, cur_counts = _quantile_bin_counts(pooled, masks, n_bins)
        return distance(_shares(ref_counts), _shares(cur_counts))

    value, pvalue = _mask_permutation_test(observed_mask, statistic, n_permutations, seed)
    return TestResult(name, value, pvalue, value, int(n_permutations))


def _counts_test(
    name: str,
    ref: np.ndarray,
    cur: np.ndarray,
    unseen: tuple[Any, ...],
    n_permutations: int,
    seed: Seed,
) -> CategoricalTestResult:
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    rng = as_rng(seed)
    distance = _DISTANCES[name]
    pooled = (ref + cur).astype(np.int64)
    n_ref = int(ref.sum())
    value = float(distance(_shares(ref), _shares(cur)))
    rows_per_block = max(1, _BLOCK_CELLS // pooled.size)

    def permuted() -> Iterator[np.ndarray]:
        # A random relabelling's reference counts per category follow the multivariate
        # hypergeometric law: drawing them directly costs O(categories), not O(rows).
        for start in range(0, n_permutations, rows_per_block):
            rows = min(rows_per_block, n_permutations - start)
            ref_perm = rng.multivariate_hypergeometric(pooled, n_ref, size=rows,
                                                       method="marginals")
            yield distance(_shares(ref_perm), _shares(pooled - ref_perm))

    pvalue = _pvalue_over_blocks(value, permuted(), n_permutations)
    return CategoricalTestResult(
        name, value, pvalue, value, int(n_permutations), unseen_categories=unseen
    )


def psi_test(
    x: Any,
    y: Any,
    bins: int = 10,
    categorical: bool = False,
    n_permutations: int = 1000,
    seed: Seed = None,
) -> TestResult:
    """Population stability index with a permutation p-value.

    ``PSI = sum_b (q_b - p_b) log(q_b / p_b)`` over bins, ``p`` the reference and ``q``
    the current shares, each raised to at least :data:`PSI_EPSILON` (1e-4) so that empty
    bins give a finite value. Null hypothesis and guarantee: exchangeability, see the
    module docstring. ``effect_size`` is the PSI itself (rule of thumb: < 0.1 stable,
    0.1-0.25 moderate, > 0.25 large shift).

    Parameters
    ----------
    x, y
        Reference and current samples: finite numbers (binned on ``bins`` reference
        quantiles) or, with ``categorical=True``, labels (str, int, bool, object).
    bins
        Number of reference-quantile bins for numeric data (ties may leave some empty).
    categorical
        Treat ``x`` and ``y`` as category labels; categories unseen in the reference are
        their own bins and are listed in ``unseen_categories``.
    n_permutations
        Number of random relabellings ``B``.
    seed
        Seed or Generator of the permutations.

    References
    ----------
    Yurdakul, B. (2018). Statistical properties of population stability index. PhD thesis,
    Western Michigan University.
    """
    return _binned_test("psi", x, y, bins, categorical, n_permutations, seed)


def js_test(
    x: Any,
    y: Any,
    bins: int = 10,
    categorical: bool = False,
    n_permutations: int = 1000,
    seed: Seed = None,
) -> TestResult:
    """Jensen-Shannon distance (natural log) between binned samples, with a permutation p-value.

    The statistic equals ``scipy.spatial.distance.jensenshannon(p, q)`` of the reference
    and current bin shares (so it lies in [0, sqrt(log 2)]). Null hypothesis and guarantee:
    exchangeability, see the module docstring. ``effect_size`` is the distance itself.

    Parameters
    ----------
    x, y, bins, categorical, n_permutations, seed
        As in :func:`psi_test`.

    References
    ----------
    Endres, D. M. and Schindelin, J. E. (2003). A new metric for probability distributions.
    IEEE Transactions on Information Theory 49, 1858-1860.
    """
    return _binned_test("js", x, y, bins, categorical, n_permutations, seed)


def hellinger_test(
    x: Any,
    y: Any,
    bins: int = 10,
    categorical: bool = False,
    n_permutations: int = 1000,
    seed: Seed = None,
) -> TestResult:
    """Hellinger distance between binned samples, with a permutation p-value.

    ``H = sqrt(sum_b (sqrt(p_b) - sqrt(q_b))^2 / 2)`` in [0, 1]. Null hypothesis and
    guarantee: exchangeability, see the module docstring. ``effect_size`` is ``H`` itself.

    Parameters
    ----------
    x, y, bins, categorical, n_permutations, seed
        As in :func:`psi_test`.

    References
    ----------
    Hellinger, E. (1909). Neue Begruendung der Theorie quadratischer Formen von unendlichvielen
    Veraenderlichen. Journal fuer die reine und angewandte Mathematik 136, 210-271.
    """
    return _binned_test("hellinger", x, y, bins, categorical, n_permutations, seed)


def psi_test_counts(
    ref_counts: Any,
    cur_counts: Any,
    n_permutations: int = 1000,
    seed: Seed = None,
    categories: Sequence[Any] | None = None,
) -> CategoricalTestResult:
    """:func:`psi_test` on categorical data given as per-category counts.

    ``ref_counts`` and ``cur_counts`` are whole numbers >= 0 in the same category order;
    ``categories`` optionally names them for ``unseen_categories``. Same statistic,
    permutation p-value and guarantee as ``psi_test(..., categorical=True)`` on the
    expanded labels.
    """
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _counts_test("psi", ref, cur, unseen, n_permutations, seed)


def js_test_counts(
    ref_counts: Any,
    cur_counts: Any,
    n_permutations: int = 1000,
    seed: Seed = None,
    categories: Sequence[Any] | None = None,
) -> CategoricalTestResult:
    """:func:`js_test` on categorical data given as per-category counts (see
    :func:`psi_test_counts` for the arguments)."""
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _counts_test("js", ref, cur, unseen, n_permutations, seed)


def hellinger_test_counts(
    ref_counts: Any,
    cur_counts: Any,
    n_permutations: int = 1000,
    seed: Seed = None,
    categories: Sequence[Any] | None = None,
) -> CategoricalTestResult:
    """:func:`hellinger_test` on categorical data given as per-category counts (see
    :func:`psi_test_counts` for the arguments)."""
    ref, cur, unseen = checked_counts(ref_counts, cur_counts, categories)
    return _counts_test("hellinger", ref, cur, unseen, n_permutations, seed)

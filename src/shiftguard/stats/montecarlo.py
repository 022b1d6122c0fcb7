"""Monte Carlo p-values that stop early (Besag and Clifford's sequential scheme), and the
permutation test of any statistic of per-value (or per-category) counts built on it.

A permutation (or any Monte Carlo) test draws statistics ``T_1, T_2, ...`` that are
exchangeable with the observed ``T`` under the null. The plain p-value
``(1 + #{T_b >= T}) / (1 + B)`` needs all ``B`` draws even when the first few already show
that ``T`` is unremarkable -- the usual case in monitoring, where most comparisons are
null. Besag and Clifford's sequential p-value stops as soon as ``h`` draws reach ``T``:

- stopped at draw ``l`` by the ``h``-th exceedance: ``p = h / l``;
- no stop within ``B`` draws, ``g < h`` exceedances: ``p = (g + 1) / (B + 1)``.

Guarantee: ``P(p <= a) <= a`` for every ``a`` under the null, exactly, at every sample size
(Besag and Clifford 1991, section 2). The smallest attainable p-value is ``1 / (1 + B)`` as
for the plain scheme, and power is nearly that of the plain test with ``B`` draws for
``h >= 10``; the expected number of draws under the null is about ``h log(B / h)``
instead of ``B``.

References
----------
Besag, J. and Clifford, P. (1991). Sequential Monte Carlo p-values. Biometrika 78,
301-304.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: ``h`` of the sequential rule: a p-value stops at the ``h``-th draw reaching the observed
#: statistic. Read at call time, so tests can switch early stopping off.
STOP_AFTER = 20

__all__ = ["count_permutation_test", "pooled_value_counts", "sequential_pvalue",
           "smaller_sample"]

_BLOCK_CELLS = 1 << 21  # permutations per block * cells per permutation; bounds the memory
# Permuted statistics within this relative distance below the observed one count as ">=":
# far above the float64 rounding of our statistics (about K * 2^-53 for sums over K distinct
# values, k * 2^-53 for the sparse sums over a sample of k: below 1e-10 up to a million), so
# an exact tie is never missed; counting a near-tie only raises the p-value.
_TIES_RTOL = 1e-9
# One category of a multivariate hypergeometric draw (NumPy, ~175 ns) costs about as much as
# relabelling six values (~30 ns each): the cheaper of the two samplers is used.
_COUNT_DRAW_COST = 6

CountStatistic = Callable[[np.ndarray], np.ndarray]


def sequential_pvalue(
    observed: float,
    draw: Callable[[int], np.ndarray],
    max_draws: int,
    stop_after: int | None = None,
    first_block: int = 64,
    rtol: float = 1e-9,
    max_block: int | None = None,
) -> tuple[float, int]:
    """Besag-Clifford p-value of ``observed`` against statistics produced by ``draw``.

    Parameters
    ----------
    observed
        The observed statistic (large values are evidence against the null).
    draw
        ``draw(size)`` returns ``size`` new statistics, independent draws from the null
        (permutation) distribution, computed with the same arithmetic as ``observed``.
    max_draws
        ``B``: the most statistics ever drawn.
    stop_after
        ``h``: stop at the ``h``-th draw reaching ``observed`` (default :data:`STOP_AFTER`).
    first_block, max_block, rtol
        Draws come in blocks that double in size from ``first_block`` up to ``max_block``
        (unbounded by default). A draw "reaches"
        ``observed`` when it is at least ``observed - rtol * max(|observed|, 1)``: counting
        a float near-tie as a tie can only make ``p`` larger (never invalid), and it keeps
        exact ties that two summation orders round differently.

    Returns
    -------
    pvalue, n_draws
        The p-value and the number of statistics drawn.
    """
    stop_after = STOP_AFTER if stop_after is None else stop_after
    threshold = observed - rtol * max(abs(observed), 1.0)
    done = exceed = 0
    block = first_block
    while done < max_draws:
        size = min(block, max_draws - done)
        hits = np.flatnonzero(np.asarray(draw(size)) >= threshold)
        if exceed + hits.size >= stop_after:
            stop = done + int(hits[stop_after - exceed - 1]) + 1
            return stop_after / stop, stop
        exceed += hits.size
        done += size
        block = 2 * block if max_block is None else min(2 * block, max_block)
    return (exceed + 1) / (max_draws + 1), max_draws


def pooled_value_counts(
    xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pooled values (ascending) and their counts in ``xs`` and in both."""
    values, inverse = np.unique(np.concatenate([xs, ys]), return_inverse=True)
    pooled = np.bincount(inverse, minlength=values.size)
    return values, np.bincount(inverse[: xs.size], minlength=values.size), pooled


def smaller_sample(counts_x: np.ndarray, pooled: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-value counts and size of the smaller sample (``x`` on a tie), given ``x``'s.

    The statistics relabelled here are symmetric in the two samples, and relabelling the
    smaller one is cheaper.
    """
    size_x = int(counts_x.sum())
    size_y = int(pooled.sum()) - size_x
    return (counts_x, size_x) if size_x <= size_y else (pooled - counts_x, size_y)


def count_permutation_test(
    counts: np.ndarray,
    pooled: np.ndarray,
    statistic: CountStatistic,
    statistic_of_values: CountStatistic,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[float, float, int]:
    """Observed statistic and permutation p-value of a statistic of per-value counts.

    The pooled sample takes K distinct values, value ``v`` ``pooled[v]`` times (values in
    ascending order); one sample of size k holds ``counts[v]`` of them. ``statistic`` maps
    a (b, K) integer block of such counts to the b statistics, ``statistic_of_values`` a
    (b, k) block listing each sample's values (as indices into the distinct values, in any
    order) to the same statistics. Returns the observed statistic and
    ``(1 + #{b : T_b >= T}) / (1 + B)`` over ``B = n_permutations`` uniformly random
    relabellings of the pooled sample (Phipson and Smyth, 2010).

    A relabelling's counts follow the multivariate hypergeometric law (k draws without
    replacement). They are drawn directly (NumPy, O(K) per relabelling) or, when k is below
    about six times K, by drawing which k of the N pooled observations the sample receives
    (O(k), :func:`~shiftguard.stats._kernels.partial_shuffles`).
    """
    from shiftguard.stats import _kernels

    size = int(counts.sum())
    total = int(pooled.sum())
    n_values = pooled.size
    observed = float(statistic(counts[None, :])[0])
    by_counts = _COUNT_DRAW_COST * n_values <= size
    if not by_counts:
        # The pooled observations sorted by value: a relabelling draws ``size`` of them.
        value_of_observation = np.repeat(np.arange(n_values), pooled)

    def draw(rows: int) -> np.ndarray:
        if by_counts:
            block = rng.multivariate_hypergeometric(pooled, size, size=rows, method="marginals")
            return statistic(block)
        offsets = rng.integers(0, total - np.arange(size), size=(rows, size))
        return statistic_of_values(_kernels.partial_shuffles(offsets, value_of_observation))

    rows_per_block = max(1, _BLOCK_CELLS // (n_values if by_counts else size + n_values))
    pvalue, drawn = sequential_pvalue(observed, draw, n_permutations,
                                      first_block=min(64, rows_per_block),
                                      max_block=rows_per_block, rtol=_TIES_RTOL)
    return observed, pvalue, drawn

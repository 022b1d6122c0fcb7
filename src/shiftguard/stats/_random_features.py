"""The random-Fourier-feature MMD permutation test behind ``mmd_test(..., n_features=D)``.

With ``phi(z) = sqrt(2 / D) cos(W' z + b)``, each column of ``W`` (d, D) distributed as
N(0, I / sigma^2) and ``b`` uniform on [0, 2 pi), ``phi(a) . phi(b)`` is an unbiased estimate
of the Gaussian kernel ``exp(-||a - b||^2 / (2 sigma^2))`` (Rahimi and Recht 2007). The
columns are drawn in orthogonal blocks of up to d (Yu et al. 2016, "orthogonal random
features": a Haar-random orthonormal block, each column scaled by an independent chi_d
length), which keeps every column's law and so the unbiasedness, and estimates the kernel
with a smaller variance than independent columns: at 2,000 + 2,000 rows and 50 columns it
brought the power of D = 256 features from 0.33 to 0.52 against a correlation change on
which the exact kernel has 0.55 (``bench/drift/bench_mmd_power.py``). The statistic
``||mean phi(x) - mean phi(y)||^2`` is the squared MMD of the kernel ``phi . phi``. It depends
on a split of the pooled rows only through ``u``, the sum of ``phi`` over one sample, so a
block of permutations is one (block, N) x (N, D) matrix product instead of a quadratic form
in the (N, N) kernel matrix: about ``2 B N D`` operations instead of ``2 B N^2``.

Exactness rests on two facts. First, everything the statistic is computed from besides
the split -- ``W``, ``b``, the bandwidth and the centring -- is a function of the pooled
rows *as a multiset* and of the seeded generator, never of which rows came from which
sample: the bandwidth and the centre are computed on a seeded subsample of the pooled rows
in canonical (lexicographically sorted) order, which is the same for every arrangement of
the pooled sample. So the observed split and the permuted ones are scored by one fixed
function, and the permutation p-value is exact (Lehmann and Romano, sec. 15.2.1). Second,
the features are rounded to integer multiples of ``2^-p``, small enough that every sum
``u`` over at most half the N pooled rows is an integer the product's float type holds
exactly, whatever order BLAS adds in: ``p = 24 - L`` in float32 (``L`` the bit length of N;
``p = 12`` at 4,000 rows) while ``p >= 8``, i.e. below 65,536 rows, else ``p = 52 - 2 L`` in
float64. Then ``w = N u - k t`` (``t`` the pooled sum, ``k`` the sample's size) is an exact
float64 integer too, and the statistic is ``sum_j w_j^2`` up to a constant: a sum of
non-negative terms, so two splits with equal exact statistics get float values within
``2 D 2^-53`` relative of each other, far inside the tie tolerance (1e-9 relative), and no
tie is ever missed. The rounding moves each feature by at most ``2^-(p+1)`` of its range, a
fixed function of the row, which perturbs a difference of sample means far less than its
sampling noise.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from shiftguard.errors import InputError

# Rows of the pooled sample (canonical order) over whose pairs the median heuristic runs:
# 1,000 rows give 499,500 pairwise distances, whose median is within about 0.2% (one
# standard error of a sample median) of the median over all pairs.
_BANDWIDTH_ROWS = 1000
# Permutations per matrix product: 32 first, then blocks of a fixed 64, which waste fewer
# permutations past the sequential rule's stop than doubling ones, at no cost: 1,000
# permutations of 4,000 rows and D = 256 took 48 ms in blocks of 64, 128 or 256 alike (50 ms
# in blocks of 32). The smaller first block is often all a null comparison draws (CPU time
# on the drift benchmark's null sample, 2,000 + 2,000 rows: 13.3 ms instead of 14.7 ms).
# Permutation i is the same whatever the blocks: the offsets are drawn row by row.
_FIRST_BLOCK = 32
_BLOCK = 64
# Fewest bits the rounded features keep (float32 below 2^16 pooled rows; float64 allows up
# to 2^22 - 1).
_MIN_FEATURE_BITS = 8
# Permuted statistics within this relative distance below the observed one count as ties.
_TIES_RTOL = 1e-9


def rff_mmd_test(
    x: np.ndarray,
    y: np.ndarray,
    bandwidth: float | None,
    n_features: int,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[float, float, int, float]:
    """Statistic, sequential permutation p-value, permutations drawn and bandwidth.

    ``x`` (n, d) and ``y`` (m, d) are validated float64 samples; see
    :func:`shiftguard.stats.multivariate.mmd_test` for the guarantee.
    """
    from shiftguard._threads import single_threaded_blas
    from shiftguard.stats.montecarlo import sequential_pvalue
    from shiftguard.stats.multivariate import _kernel_module

    n, m = x.shape[0], y.shape[0]
    size = n + m
    # float32 products are twice as fast as float64 ones, where their 24 bits suffice
    dtype, bits = np.float32, 24 - size.bit_length()
    if bits < _MIN_FEATURE_BITS:
        dtype, bits = np.float64, 52 - 2 * size.bit_length()
    if bits < _MIN_FEATURE_BITS:
        raise InputError(
            f"the random-feature MMD handles at most {2 ** 22 - 1:,} pooled rows, got "
            f"{size:,}; subsample the rows first", "x, y"
        )
    # One BLAS thread (the project's policy for loops of products, shiftguard._threads):
    # 1,000 permutations at 4,000 rows and D = 256 took 0.22 s on one thread and 0.64 s on
    # two with the other core busy.
    with single_threaded_blas():
        # Adding 0.0 turns -0.0 into 0.0: rows equal as numbers sort and centre alike.
        pooled = np.vstack([x, y]) + 0.0
        canonical = _canonical_sample(pooled, rng)
        sigma = _subsample_bandwidth(canonical) if bandwidth is None else bandwidth
        frequencies = _orthogonal_frequencies(pooled.shape[1], n_features, rng) / sigma
        phases = rng.uniform(0.0, 2.0 * math.pi, n_features)
        # Centring on a multiset function keeps the arguments of cos small for data far from
        # the origin (it only shifts the phases, which stay uniform). The cosines are float32,
        # 25 times faster than float64 here: any fixed function of a row keeps the test exact.
        # In place where possible: each fresh table-sized temporary costs page faults.
        pooled -= canonical.mean(axis=0)
        arguments = pooled @ frequencies
        arguments += phases
        features = np.cos(arguments, dtype=np.float32)
        features *= np.float32(math.ldexp(1.0, bits))
        features = np.rint(features, out=features).astype(dtype, copy=False)
        small = min(n, m)
        own = features[:n] if n <= m else features[n:]
        total = features.sum(axis=0, dtype=np.float64)

        def sum_of_squares(sums: np.ndarray) -> np.ndarray:
            w = sums.astype(np.float64) * float(size) - total * float(small)
            return np.einsum("bj,bj->b", w, w)

        observed = float(sum_of_squares(own.sum(axis=0, dtype=np.float64)[None, :])[0])
        threshold = observed - _TIES_RTOL * observed

        buffer = np.empty((_BLOCK, size), dtype=dtype)

        def reaches_observed(rows: int) -> np.ndarray:
            offsets = rng.integers(0, size - np.arange(small), size=(rows, small))
            indicators = buffer[:rows]
            indicators.fill(0)
            _kernel_module(offsets.shape[1] * size).subset_indicators(offsets, indicators)
            return (sum_of_squares(indicators @ features) >= threshold).astype(np.float64)

        pvalue, drawn = sequential_pvalue(1.0, reaches_observed, n_permutations, rtol=0.0,
                                          first_block=_FIRST_BLOCK, max_block=_BLOCK)
    scale = float(small) * float(size - small) * math.ldexp(1.0, bits)
    statistic = 2.0 / n_features * observed / scale**2
    return statistic, pvalue, drawn, sigma


def _orthogonal_frequencies(d: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """(d, D) columns, each N(0, I) in law, drawn in blocks of up to ``d`` orthogonal ones.

    A block is ``Q diag(s)``: ``Q`` the orthonormal factor of a Gaussian (d, k) matrix with
    the signs fixed by ``R``'s diagonal, which makes it Haar-distributed (Mezzadri 2007),
    and ``s`` independent chi_d lengths (Yu et al. 2016).
    """
    blocks = []
    for start in range(0, n_features, d):
        width = min(d, n_features - start)
        q, r = np.linalg.qr(rng.standard_normal((d, width)))
        q *= np.sign(np.diag(r))
        blocks.append(q * np.sqrt(rng.chisquare(d, width)))
    return np.hstack(blocks)


def _canonical_sample(pooled: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Up to ``_BANDWIDTH_ROWS`` pooled rows, drawn (seeded) from their sorted order.

    Rows sorted lexicographically form the same sequence for every arrangement of the
    pooled sample, so the draw is a function of the multiset of rows and the generator
    only; repeated rows keep their multiplicity, as in the median over all pooled pairs.
    When the first column has no tie (continuous data) sorting on it alone gives that
    order, at a fiftieth of the cost of ``np.lexsort`` over 50 columns.
    """
    first = np.sort(pooled[:, 0])
    if np.all(first[1:] != first[:-1]):
        ordered = pooled[np.argsort(pooled[:, 0])]
    else:
        ordered = pooled[np.lexsort(pooled.T[::-1])]
    if ordered.shape[0] <= _BANDWIDTH_ROWS:
        return ordered
    return ordered[np.sort(rng.choice(ordered.shape[0], _BANDWIDTH_ROWS, replace=False))]


def _subsample_bandwidth(rows: np.ndarray) -> float:
    """The median heuristic of :func:`~shiftguard.stats.multivariate.mmd_test` on ``rows``.

    Every row counts once, so the pairs are the upper triangle of the distance matrix,
    gathered through cached flat indices (a third of the time of a scan that tests every
    entry).
    """
    from shiftguard.stats.multivariate import _median_bandwidth, _squared_distances

    count = rows.shape[0]
    pairs = _squared_distances(rows).ravel()[_upper_triangle(count)]
    positive = pairs if np.count_nonzero(pairs) == pairs.size else pairs[pairs > 0.0]
    return _median_bandwidth(positive, pairs.size)


@functools.lru_cache(maxsize=2)
def _upper_triangle(count: int) -> np.ndarray:
    """Flat indices of the entries above the diagonal of a (count, count) C-ordered matrix."""
    rows, cols = np.triu_indices(count, 1)
    flat = rows * count + cols
    flat.setflags(write=False)
    return flat

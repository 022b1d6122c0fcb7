"""NumPy and plain-Python twins of the numba kernels, for small inputs.

Importing numba and loading one cached kernel costs about 0.5 s (numba's own import,
then SciPy's linear algebra, which numba's CPU target loads on first use), and compiling
them with an empty cache 1-2 s: more than a whole comparison of a few hundred rows. Below
the sizes in :data:`SMALL_WORK` the test modules call these instead. Each performs the same
float operations in the same order as its kernel in :mod:`shiftguard.stats._kernels` (numba
compiles without fast-math, so IEEE arithmetic is identical), and the tests check that the
results agree bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Values touched (KS merge: n + m per column; exact KS law for unequal sizes: m * n;
#: kernel-test pairs: distinct rows squared) up to which the NumPy twins run.
SMALL_WORK = 50_000


def ks_extremes(
    ref: np.ndarray, ref_n: np.ndarray, cur: np.ndarray, cur_n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shiftguard.stats._kernels.ks_extremes`: ``F_ref - F_cur`` at every pooled
    value, from two ``searchsorted`` per column (a loop over columns, not rows)."""
    d = ref.shape[1]
    d_plus = np.zeros(d)
    d_minus = np.zeros(d)
    for col in range(d):
        a = ref[: ref_n[col], col]
        b = cur[: cur_n[col], col]
        pooled = np.concatenate([a, b])
        diff = (np.searchsorted(a, pooled, side="right") / a.size
                - np.searchsorted(b, pooled, side="right") / b.size)
        d_plus[col] = max(0.0, float(diff.max()))
        d_minus[col] = max(0.0, float((-diff).max()))
    return d_plus, d_minus


def ks_exact_two_sided_equal_n(n: int, h: int) -> float:
    """:func:`shiftguard.stats._kernels.ks_exact_two_sided_equal_n` (O(n) scalar steps)."""
    total = 0.0
    k = n // h
    while k >= 0:
        ratio = 1.0
        for step in range(h):
            ratio = (n - k * h - step) * ratio / (n + k * h + step + 1)
        total = ratio * (1.0 - total)
        k -= 1
    return 2.0 * total


def ks_exact_two_sided(m: int, n: int, g: int, h: int) -> float:
    """:func:`shiftguard.stats._kernels.ks_exact_two_sided` (O(m n) scalar steps)."""
    if m < n:
        m, n = n, m
    mg = m // g
    ng = n // g
    share = [1.0] * (n + 1)
    top = min(-((-h) // mg) - 1, n)
    share[: top + 1] = [0.0] * (top + 1)
    lo_prev = 0
    for x in range(1, m + 1):
        lo = max((ng * x - h) // mg + 1, 0)
        hi = min(-((-(ng * x + h)) // mg) - 1, n)
        if hi < lo:
            return 1.0
        share[lo_prev:lo] = [1.0] * max(lo - lo_prev, 0)
        below = 1.0 if lo > 0 else 0.0
        for y in range(lo, hi + 1):
            below = (share[y] * x + below * y) / (x + y)
            share[y] = below
        lo_prev = lo
    return share[n]


def ks_exact_one_sided_equal_n(n: int, h: int) -> float:
    """:func:`shiftguard.stats._kernels.ks_exact_one_sided_equal_n`."""
    prob = 1.0
    for step in range(h):
        prob *= (n - step) / (n + step + 1.0)
    return prob


def gram_to_sq_dist(gram: np.ndarray, norms: np.ndarray) -> None:
    """:func:`shiftguard.stats._kernels.gram_to_sq_dist`, in place."""
    v = norms[:, None] + norms[None, :] - 2.0 * gram
    np.copyto(gram, np.where(v > 0.0, v, 0.0))
    np.fill_diagonal(gram, 0.0)


def positive_pair_values(sq_dist: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """:func:`shiftguard.stats._kernels.positive_pair_values`, same order."""
    k, j = np.triu_indices(sq_dist.shape[0], 1)
    values = sq_dist[k, j]
    positive = values > 0.0
    repeats = (counts[k[positive]] * counts[j[positive]]).astype(np.int64)
    return np.repeat(values[positive], repeats)


def subset_indicators(offsets: np.ndarray, out: np.ndarray) -> None:
    """:func:`shiftguard.stats._kernels.subset_indicators`: the same partial shuffles, all
    rows at once (a loop over the ``k`` swaps, each applied to every row)."""
    rows, k = offsets.shape
    perm = np.tile(np.arange(out.shape[1]), (rows, 1))
    every = np.arange(rows)
    for i in range(k):
        j = i + offsets[:, i]
        swapped = perm[every, j]
        perm[every, j] = perm[every, i]
        perm[every, i] = swapped
        out[every, swapped] = 1.0

"""Numba kernel of the exact KS statistic inside the bins a second look must open."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def largest_gap_in_runs(ref: np.ndarray, ref_starts: np.ndarray, cur: np.ndarray,
                        cur_starts: np.ndarray, ref_before: np.ndarray,
                        cur_before: np.ndarray, n: int, m: int) -> float:
    """Largest ``|F - G|`` at the values of some bins, each bin's values known.

    Bin ``k`` holds ``ref[ref_starts[k]:ref_starts[k + 1]]`` and
    ``cur[cur_starts[k]:cur_starts[k + 1]]`` (sorted), after ``ref_before[k]`` and
    ``cur_before[k]`` smaller values of each sample. Both runs are merged and the gap
    evaluated once every copy of a value is consumed, with the float operations of
    :func:`shiftguard.stats._kernels.ks_extremes` (``i / n - j / m``), so the statistic
    agrees with the in-memory one bit for bit.
    """
    best = 0.0
    for k in range(ref_before.size):
        i, i_end = ref_starts[k], ref_starts[k + 1]
        j, j_end = cur_starts[k], cur_starts[k + 1]
        i_shift = ref_before[k] - i
        j_shift = cur_before[k] - j
        while i < i_end or j < j_end:
            v = min(ref[i] if i < i_end else np.inf, cur[j] if j < j_end else np.inf)
            while i < i_end and ref[i] <= v:
                i += 1
            while j < j_end and cur[j] <= v:
                j += 1
            best = max(best, abs((i + i_shift) / n - (j + j_shift) / m))
    return best


@nb.njit(cache=True)
def _pooled(a: float, b: float, smallest: bool) -> float:
    """``np.fmin``/``np.fmax`` of two bin extremes (NaN: an empty bin)."""
    if a != a:
        return b
    if b != b:
        return a
    return min(a, b) if smallest else max(a, b)


@nb.njit(cache=True)
def ks_bin_bounds(ref_counts: np.ndarray, cur_counts: np.ndarray, ref_low: np.ndarray,
                  ref_high: np.ndarray, cur_low: np.ndarray, cur_high: np.ndarray, n: int,
                  m: int) -> tuple[float, np.ndarray]:
    """The largest ECDF gap at the edges and each bin's bound on the gap inside it, in one
    pass (see :func:`shiftguard.profile._bins.ks_bounds`; ECDFs as ``i / n``, the float
    operations of the in-memory statistic)."""
    per_bin = np.empty(ref_counts.size)
    i = 0
    j = 0
    f_before = 0.0
    g_before = 0.0
    gap_before = 0.0
    lower = 0.0
    for b in range(ref_counts.size):
        i += ref_counts[b]
        j += cur_counts[b]
        f = i / n
        g = j / m
        gap = abs(f - g)
        low = _pooled(ref_low[b], cur_low[b], True)
        high = _pooled(ref_high[b], cur_high[b], False)
        if low < high:
            bound = max(f - g_before, g - f_before)
        else:  # empty, or one distinct value: both ECDFs jump once, at the same point
            bound = max(gap, gap_before)
        per_bin[b] = max(bound, gap)
        lower = max(lower, gap)
        f_before, g_before, gap_before = f, g, gap
    return lower, per_bin

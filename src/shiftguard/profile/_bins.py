"""Exact per-bin counts against fixed edges, and the Kolmogorov-Smirnov statistic's
interval they imply.

Bins are ``(-inf, e_0], (e_0, e_1], ..., (e_{B-1}, inf)`` for ``B`` increasing edges, so
both empirical CDFs are known exactly at every edge. Each bin also keeps the smallest and
largest value that fell in it (pooled over merges), which makes a bin holding one
distinct value -- every bin of a discrete column with few values -- exact as well.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Bins:
    """Counts of one sample per bin, with each bin's smallest and largest value (NaN when
    the bin is empty)."""

    counts: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def bin_sorted(values: np.ndarray, edges: np.ndarray) -> Bins:
    """Bin ``values`` (sorted, finite) against ``edges``: one binary search per edge in the
    values (bin ``b`` ends after the last value ``<= edges[b]``)."""
    n_bins = edges.size + 1
    ends = np.append(np.searchsorted(values, edges, side="right"), values.size)
    starts = np.concatenate([[0], ends[:-1]])
    counts = (ends - starts).astype(np.int64)
    full = counts > 0
    low = np.full(n_bins, np.nan)
    high = np.full(n_bins, np.nan)
    low[full] = values[starts[full]]
    high[full] = values[ends[full] - 1]
    return Bins(counts, low, high)


def merge_bins(a: Bins, b: Bins, *, into_first: bool = False) -> Bins:
    """The bins of two disjoint parts of one sample (same edges); ``into_first`` adds
    ``b`` into ``a``'s arrays (a fold's own accumulator) instead of new ones."""
    if into_first:
        np.add(a.counts, b.counts, out=a.counts)
        np.fmin(a.low, b.low, out=a.low)
        np.fmax(a.high, b.high, out=a.high)
        return a
    return Bins(a.counts + b.counts, np.fmin(a.low, b.low), np.fmax(a.high, b.high))


@dataclasses.dataclass(frozen=True)
class KSBounds:
    """Where the two-sample KS statistic ``D = sup |F - G|`` can lie, from bin counts.

    ``lower`` is the largest ECDF gap at the edges (attained, so ``D >= lower``);
    ``upper_per_bin[b]`` bounds the gap inside bin ``b`` and ``upper`` is their maximum
    (``D <= upper``). ``needed`` marks the bins whose bound exceeds ``lower``: only values in
    them can make ``D`` larger than ``lower``.
    """

    lower: float
    upper: float
    upper_per_bin: np.ndarray
    needed: np.ndarray


def ks_bounds(ref: Bins, cur: Bins) -> KSBounds:
    """The interval of the KS statistic given both samples' exact bin counts.

    With ``F_b``, ``G_b`` the ECDFs at the right edge of bin ``b`` (``F_{-1} = G_{-1} = 0``),
    both ECDFs are non-decreasing, so for ``t`` in bin ``b``
    ``F(t) - G(t) <= F_b - G_{b-1}`` and ``G(t) - F(t) <= G_b - F_{b-1}``; in a bin whose
    values are all equal both ECDFs jump once, so the gap there is one of its endpoints'.
    """
    n, m = ref.total, cur.total
    f = np.cumsum(ref.counts) / n
    g = np.cumsum(cur.counts) / m
    f_before = np.concatenate([[0.0], f[:-1]])
    g_before = np.concatenate([[0.0], g[:-1]])
    gap = np.abs(f - g)
    lower = float(gap.max())
    low = np.fmin(ref.low, cur.low)
    high = np.fmax(ref.high, cur.high)
    single = ~(low < high)  # empty, or one distinct value
    inside = np.maximum(f - g_before, g - f_before)
    per_bin = np.where(single, np.maximum(gap, np.concatenate([[0.0], gap[:-1]])), inside)
    per_bin = np.maximum(per_bin, gap)
    return KSBounds(lower=lower, upper=float(per_bin.max()), upper_per_bin=per_bin,
                    needed=per_bin > lower)


def exact_statistic(ref: Bins, cur: Bins, edges: np.ndarray, bounds: KSBounds,
                    selected: np.ndarray, ref_values: np.ndarray,
                    cur_values: np.ndarray) -> tuple[float, float]:
    """The KS statistic's new interval once the values of the ``selected`` bins are known.

    ``ref_values``/``cur_values`` are each sample's values in the selected bins, sorted.
    Inside a selected bin ``b`` the ECDF at ``t`` is the count before the bin plus the
    selected values up to ``t``; the gap is evaluated at every such value (the supremum of
    a difference of right-continuous step functions is attained at a jump). Returns
    ``(lower, upper)``; they are equal when every needed bin was selected.
    """
    n, m = ref.total, cur.total
    before_r = np.concatenate([[0], np.cumsum(ref.counts)[:-1]])
    before_c = np.concatenate([[0], np.cumsum(cur.counts)[:-1]])
    lower = bounds.lower
    points = np.concatenate([ref_values, cur_values])
    if points.size:
        bin_of = np.searchsorted(edges, points, side="left")
        bins_r = np.searchsorted(edges, ref_values, side="left")
        bins_c = np.searchsorted(edges, cur_values, side="left")
        at_r = (before_r[bin_of] + np.searchsorted(ref_values, points, side="right")
                - np.searchsorted(bins_r, bin_of, side="left"))
        at_c = (before_c[bin_of] + np.searchsorted(cur_values, points, side="right")
                - np.searchsorted(bins_c, bin_of, side="left"))
        lower = max(lower, float(np.abs(at_r / n - at_c / m).max()))
    rest = bounds.upper_per_bin[~selected]
    upper = max(lower, float(rest.max())) if rest.size else lower
    return lower, upper

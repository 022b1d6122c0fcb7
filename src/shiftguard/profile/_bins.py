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


def bin_ends(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Where each bin of ``edges`` ends in ``values`` (sorted, finite): bin ``b`` ends after
    the last value ``<= edges[b]``; one binary search per edge."""
    return np.append(np.searchsorted(values, edges, side="right"), values.size)


def bin_sorted(values: np.ndarray, edges: np.ndarray,
               ends: np.ndarray | None = None) -> Bins:
    """Bin ``values`` (sorted, finite) against ``edges`` (``ends``: their
    :func:`bin_ends`, when known)."""
    if ends is None:
        ends = bin_ends(values, edges)
    starts = np.concatenate([[0], ends[:-1]])
    counts = (ends - starts).astype(np.int64)
    full = counts > 0
    low = np.full(ends.size, np.nan)
    high = np.full(ends.size, np.nan)
    low[full] = values[starts[full]]
    high[full] = values[ends[full] - 1]
    return Bins(counts, low, high)


def sorted_in_bins(values: np.ndarray, ends: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """The values (sorted) that fall in the ``selected`` bins, in order, given the bins'
    :func:`bin_ends`: a gather of the selected bins' runs."""
    starts = np.concatenate([[0], ends[:-1]])[selected]
    lengths = ends[selected] - starts
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return values[offsets + np.arange(offsets.size)]


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
    from shiftguard.profile._kernels import ks_bin_bounds

    lower, per_bin = ks_bin_bounds(ref.counts, cur.counts, ref.low, ref.high, cur.low,
                                   cur.high, ref.total, cur.total)
    return KSBounds(lower=float(lower), upper=float(per_bin.max()), upper_per_bin=per_bin,
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
    from shiftguard.profile._kernels import largest_gap_in_runs

    chosen = np.flatnonzero(selected)
    lower = bounds.lower
    if chosen.size and (ref_values.size or cur_values.size):
        right = np.append(edges, np.inf)[chosen]  # bin b holds the values <= edges[b]
        runs = [np.concatenate([[0], np.searchsorted(v, right, side="right")])
                for v in (ref_values, cur_values)]
        before = [np.concatenate([[0], np.cumsum(b.counts)[:-1]])[chosen] for b in (ref, cur)]
        gap = largest_gap_in_runs(ref_values, runs[0], cur_values, runs[1], before[0],
                                  before[1], ref.total, cur.total)
        lower = max(lower, float(gap))
    rest = bounds.upper_per_bin[~selected]
    upper = max(lower, float(rest.max())) if rest.size else lower
    return lower, upper

"""What the report shows of a column, computed from the already sorted or counted data:
summary statistics, histogram bins, quantiles for ECDF plots, category shares."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shiftguard.drift.results import ColumnProfile, ColumnSummary

N_QUANTILES = 101
_N_BINS = 30
MAX_PLOTTED_CATEGORIES = 20


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (ddof=0) without overflow: values near 1e308 are scaled
    by their largest magnitude first."""
    if values.size == 0:
        return math.nan, math.nan
    scale = float(np.max(np.abs(values)))
    if scale == 0.0:
        return 0.0, 0.0
    scaled = values / scale
    return scale * float(scaled.mean()), scale * float(scaled.std())


def _sorted_mean_std(values: np.ndarray) -> tuple[float, float]:
    """:func:`mean_std` of sorted values in four passes instead of nine: the largest
    magnitude is at an end, and the scaling is needed only where squares could overflow or
    underflow."""
    scale = max(abs(float(values[0])), abs(float(values[-1])))
    if not 1e-150 < scale < 1e150:
        return mean_std(values)
    mean = float(values.mean())
    deviations = values - mean
    np.square(deviations, out=deviations)
    return mean, math.sqrt(float(deviations.sum()) / values.size)


def numeric_summary(sorted_values: np.ndarray, n_rows: int) -> ColumnSummary:
    """Summary of one sample's observed numeric values, given sorted (NaN dropped)."""
    count = int(sorted_values.size)
    if count == 0:
        return ColumnSummary(count=0, missing_share=1.0, distinct=0)
    distinct = 1 + int(np.count_nonzero(sorted_values[1:] != sorted_values[:-1]))
    mean, std = _sorted_mean_std(sorted_values)
    return ColumnSummary(
        count=count, missing_share=1.0 - count / n_rows, distinct=distinct,
        mean=mean, std=std,
        min=float(sorted_values[0]), max=float(sorted_values[-1]),
    )


def count_summary(counts: np.ndarray, n_rows: int) -> ColumnSummary:
    """Summary of one sample's categorical (or distinct-text) counts."""
    count = int(counts.sum())
    return ColumnSummary(count=count, missing_share=1.0 - count / n_rows,
                         distinct=int(np.count_nonzero(counts)))


def quantiles(sorted_cols: Any, levels: np.ndarray) -> np.ndarray:
    """Empirical quantiles (lower inverse CDF) of every column at ``levels`` -> (L, d)."""
    n = sorted_cols.n_valid.astype(np.float64)
    idx = np.clip(np.ceil(levels[:, None] * n[None, :]) - 1, 0, n[None, :] - 1).astype(np.intp)
    return np.take_along_axis(sorted_cols.values, idx, axis=0)


def numeric_profile(x: np.ndarray, y: np.ndarray, ref_q: np.ndarray, cur_q: np.ndarray,
                    summaries: tuple[ColumnSummary, ColumnSummary],
                    datetime: bool, reference_integral: bool | None = None) -> ColumnProfile:
    """Histogram over the central 99% of both sorted samples (either may be empty) and
    their quantiles at ``N_QUANTILES`` levels. ``reference_integral``: whether every value
    of ``x`` is an integer, when already known (a fitted reference)."""
    both = [v for v in (x, y) if v.size]
    lo = min(v[int(0.005 * (v.size - 1))] for v in both)
    hi = max(v[int(0.995 * (v.size - 1))] for v in both)
    if hi <= lo:
        lo, hi = min(v[0] for v in both), max(v[-1] for v in both)
    integral = (all(_all_integral(v) for v in both) if reference_integral is None else
                reference_integral and _all_integral(y))
    edges = _bin_edges(lo, hi, integral=integral)
    return ColumnProfile(
        reference_summary=summaries[0], current_summary=summaries[1], datetime=datetime,
        bin_edges=tuple(edges.tolist()), reference_hist=_hist(x, edges),
        current_hist=_hist(y, edges),
        reference_quantiles=tuple(ref_q.tolist()) if x.size else (),
        current_quantiles=tuple(cur_q.tolist()) if y.size else (),
    )


def _hist(values: np.ndarray, edges: np.ndarray) -> tuple[float, ...]:
    if values.size == 0:
        return (0.0,) * (edges.size - 1)
    return tuple((np.diff(np.searchsorted(values, edges, side="right")) / values.size).tolist())


def _bin_edges(lo: float, hi: float, integral: bool) -> np.ndarray:
    """About ``_N_BINS`` equal bins over ``[lo, hi]``. For integer data every bin holds the
    same number of integers, its edges half-way between them: equal-width bins would
    hold one or two integers by turns and draw a comb instead of the distribution. Edges
    are convex combinations of ``lo`` and ``hi``, which cannot overflow near 1e308."""
    if integral and hi / 2 - lo / 2 < 5e8:  # halves: no overflow near 1e308
        width = math.ceil((hi - lo + 1) / _N_BINS)
        n_bins = math.ceil((hi - lo + 1) / width)
        return lo - 0.5 + width * np.arange(n_bins + 1)
    t = np.linspace(0.0, 1.0, _N_BINS + 1)
    return lo * (1.0 - t) + hi * t


def _all_integral(values: np.ndarray) -> bool:
    return bool(np.all(values == np.round(values)))


def categorical_profile(labels: np.ndarray, ref_share: np.ndarray, cur_share: np.ndarray,
                        summaries: tuple[ColumnSummary, ColumnSummary]) -> ColumnProfile:
    """The most frequent categories (pooled) with each sample's share."""
    order = np.argsort(-(ref_share + cur_share), kind="stable")[:MAX_PLOTTED_CATEGORIES]
    return ColumnProfile(
        reference_summary=summaries[0], current_summary=summaries[1],
        categories=tuple(str(v) for v in labels[order]),
        reference_share=tuple(ref_share[order].tolist()),
        current_share=tuple(cur_share[order].tolist()),
    )

"""Raw data behind a profile, for the passes a profile cannot answer alone: binning a
column against edges fixed later, and fetching the values of a few bins.

A source runs a per-table operation over its data (one in-memory table, Parquet batches,
Dask partitions) and folds the partial results pairwise with an associative ``combine``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from shiftguard.io import Table
from shiftguard.profile._bins import Bins, bin_sorted, merge_bins
from shiftguard.profile.profile import (
    NumericProfile,
    Profile,
    ProfileSettings,
    bin_profile,
    merge,
    profile_batch,
    quantile_edges,
)

Op = Callable[[Table], Any]
Combine = Callable[[Any, Any], Any]


class Source(Protocol):
    """What the comparison needs of raw data: fixed column kinds, and a fold."""

    kinds: dict[str, str]

    def run(self, op: Op, combine: Combine) -> Any: ...


class TableSource:
    """An in-memory :class:`~shiftguard.io.Table` (one batch)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.kinds = table.kinds

    def run(self, op: Op, combine: Combine) -> Any:
        return op(self.table)


def profile_source(source: Source, settings: ProfileSettings,
                   edges_from: Profile | None = None) -> Profile:
    """Profile every batch of ``source`` and merge; bin numeric columns against
    ``edges_from``'s edges, or -- columns that ended up sketched -- against their own
    quantile edges in a second pass."""
    edges = {}
    if edges_from is not None:
        for col in edges_from.columns:
            if isinstance(col, NumericProfile) and col.name in source.kinds:
                e = quantile_edges(col, edges_from.settings.n_bins)
                if e is not None:
                    edges[col.name] = e
    profile = source.run(lambda t: profile_batch(t, settings, edges), merge)
    if edges_from is not None:
        return profile
    own = {c.name: quantile_edges(c, settings.n_bins) for c in profile.columns
           if isinstance(c, NumericProfile) and not c.exact and c.bins is None}
    if not own:
        return profile
    return bin_profile(profile, own, bin_columns(source, own))


def bin_columns(source: Source, edges: Mapping[str, np.ndarray]) -> dict[str, Bins]:
    """Exact bins of the named numeric columns against ``edges`` (one pass).

    A batch's bins travel sparse (its non-empty bins only: a short batch of a wide table
    fills few of thousands of bins) and are added into one dense accumulator per column.
    """
    def op(table: Table) -> dict[str, Any]:
        out = {}
        for name, e in edges.items():
            bins = bin_sorted(np.sort(table[name].observed()), e)
            full = np.flatnonzero(bins.counts)
            out[name] = (full, bins.counts[full], bins.low[full], bins.high[full])
        return out

    def dense(part: Any, size: int) -> Bins:
        if isinstance(part, Bins):
            return part
        full, counts, low, high = part
        out = Bins(np.zeros(size, dtype=np.int64), np.full(size, np.nan), np.full(size, np.nan))
        out.counts[full], out.low[full], out.high[full] = counts, low, high
        return out

    def combine(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Bins]:
        # ``a`` is always a partial result of this fold, used once: add into it
        out = {}
        for name, e in edges.items():
            acc, part = dense(a[name], e.size + 1), b[name]
            if isinstance(part, Bins):
                out[name] = merge_bins(acc, part, into_first=True)
                continue
            full, counts, low, high = part
            acc.counts[full] += counts
            acc.low[full] = np.fmin(acc.low[full], low)
            acc.high[full] = np.fmax(acc.high[full], high)
            out[name] = acc
        return out

    result = source.run(op, combine)
    return {name: dense(result[name], e.size + 1) for name, e in edges.items()}


def values_in_bins(source: Source,
                   selection: Mapping[str, tuple[np.ndarray, np.ndarray]]
                   ) -> dict[str, np.ndarray]:
    """Sorted observed values of each named column that fall in its selected bins;
    ``selection`` maps a name to ``(edges, selected)`` (a boolean mask over the bins)."""
    def op(table: Table) -> dict[str, list[np.ndarray]]:
        out = {}
        for name, (e, selected) in selection.items():
            values = table[name].observed()
            out[name] = [values[selected[np.searchsorted(e, values, side="left")]]]
        return out

    def combine(a: dict[str, list[np.ndarray]],
                b: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        return {name: a[name] + b[name] for name in a}

    parts = source.run(op, combine)
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}

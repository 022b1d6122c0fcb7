"""Mergeable profiles: a one-pass, bounded-memory summary of a table.

A :class:`Profile` holds one summary per column:

numeric and datetime (:class:`NumericProfile`)
    row, missing and non-numeric-token counts; count, min, max, mean and the sum of
    squared deviations (merged by Chan et al.'s pairwise update); the *exact sorted values*
    while the column has at most ``exact_threshold`` observed values, else an Apache
    DataSketches KLL quantile sketch (accuracy ``kll_k``) and, until the column is binned,
    two REQ sketches of its tails (relative rank error: fine outermost bin edges); and,
    when the profile was binned, the exact count (with smallest and largest value) of
    observed values per bin of fixed edges -- what :mod:`shiftguard.profile.compare` tests
    with a guarantee.
categorical (:class:`CategoricalProfile`)
    exact counts per category up to ``max_categories`` categories, else a frequent-items
    sketch (deterministic error bounds per category) and a HyperLogLog distinct count.
text and identifier (:class:`OtherProfile`)
    row and missing counts only (their tests need the values themselves).

Values are read exactly as :func:`~shiftguard.io.read_table` reads them (the same kinds,
missing-value tokens, NaN as missing, infinities refused), batch by batch.

Bins: the reference's edges are its quantiles at ``1/n_bins, 2/n_bins, ...`` (of its exact
values, or of its KLL sketch -- edges need not be exact quantiles for the test to be valid,
only fixed before the counts). :func:`profile_table` bins a sketched column against its own
edges (a second pass over the data), and a current sample against a reference's edges with
``edges_from=reference_profile`` (one pass): its bins are then comparable to the
reference's. Exact columns are binned on demand, so they need no stored bins.

Merging (:func:`merge`) is associative and commutative for everything exact (counts,
values, bins; moments up to rounding); KLL and frequent-items sketches are randomised or
order-dependent summaries whose merges agree within their stated error. Exact categories
keep their order of first appearance (as :func:`~shiftguard.io.read_table` numbers them),
which follows the merge order; it matters only to the seeded draws of a Monte Carlo
p-value, used for sparse tables. Two profiles merge
only with equal settings, schemas and (when both are binned) edges.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from shiftguard._validation import check_positive_int
from shiftguard.errors import ParameterError, SchemaError
from shiftguard.io import Table
from shiftguard.profile._bins import Bins, bin_sorted, merge_bins


@dataclasses.dataclass(frozen=True)
class ProfileSettings:
    """Sketch parameters; profiles merge only with equal settings.

    ``kll_k`` KLL accuracy (normalised rank error about ``1.7 / k``); ``exact_threshold``
    observed values kept exactly per numeric column, and at most ``exact_budget`` values
    over all columns (a table of ``d`` columns keeps ``min(exact_threshold,
    exact_budget // d)`` per column: 80 MB of exact values at most); ``max_categories``
    exact categories per categorical column; ``n_bins`` bins of a reference's numeric
    column (``None``: ``8 sqrt(n)`` for ``n`` observed values, between 1,024 and 131,072,
    so that a bin's mass stays well below the KS statistic's null spread ``1 / sqrt(n)``);
    ``frequent_lg_map`` log2 of the frequent-items sketch's map size (count error at most
    ``3.5 * n / 2**lg``); ``hll_lg_k`` log2 of the HyperLogLog register count; ``tail_k``
    accuracy of the two REQ sketches of a sketched column's tails (even, 4 to 1024), whose
    rank error is relative to the distance from their end (see :func:`quantile_edges`).
    """

    kll_k: int = 400
    exact_threshold: int = 100_000
    exact_budget: int = 10_000_000
    max_categories: int = 1_000
    n_bins: int | None = None
    frequent_lg_map: int = 12
    hll_lg_k: int = 12
    tail_k: int = 12

    def __post_init__(self) -> None:
        check_positive_int(self.kll_k, "kll_k", minimum=8)
        if self.kll_k > 65535:
            raise ParameterError(f"kll_k must be at most 65535, got {self.kll_k}")
        check_positive_int(self.exact_threshold, "exact_threshold")
        check_positive_int(self.exact_budget, "exact_budget")
        check_positive_int(self.max_categories, "max_categories")
        if self.n_bins is not None:
            check_positive_int(self.n_bins, "n_bins", minimum=2)
        check_positive_int(self.frequent_lg_map, "frequent_lg_map", minimum=3)
        check_positive_int(self.hll_lg_k, "hll_lg_k", minimum=4)
        check_positive_int(self.tail_k, "tail_k", minimum=4)
        if self.tail_k > 1024 or self.tail_k % 2:
            raise ParameterError(f"tail_k must be even and at most 1024, got {self.tail_k}")

    @property
    def tail_share(self) -> float:
        """Each tail sketch is fed the ``2 * tail_share`` most extreme values of every part,
        and its quantiles give the bin edges of the outermost ``tail_share / 2``: a few
        times the KLL sketch's rank error (about ``1.7 / kll_k``), the mass its outermost
        quantiles can leave in the outermost bins."""
        return min(0.5, 4.0 / self.kll_k)

    def exact_limit(self, n_columns: int) -> int:
        """Observed values kept exactly per numeric column of a ``n_columns`` table."""
        return min(self.exact_threshold, max(1, self.exact_budget // max(n_columns, 1)))


@dataclasses.dataclass(frozen=True, eq=False)
class NumericProfile:
    """Summary of a numeric or datetime column (datetimes in seconds since the epoch)."""

    name: str
    kind: str
    n_rows: int
    n_missing: int
    n_non_numeric: int
    count: int
    minimum: float
    maximum: float
    mean: float
    m2: float
    values: np.ndarray | None = None
    sketch: Any = None
    edges: np.ndarray | None = None
    bins: Bins | None = None
    tails: tuple[Any, Any] | None = None

    @property
    def exact(self) -> bool:
        """Whether the sorted observed values are kept (else a KLL sketch)."""
        return self.values is not None

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else math.nan


@dataclasses.dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Summary of a categorical column: exact ``counts`` (labels in order of first
    appearance) or, above the cap, a frequent-items sketch and a HyperLogLog sketch."""

    name: str
    n_rows: int
    n_missing: int
    count: int
    counts: dict[str, int] | None = None
    frequent: Any = None
    hll: Any = None
    kind: str = "categorical"

    @property
    def exact(self) -> bool:
        return self.counts is not None


@dataclasses.dataclass(frozen=True, eq=False)
class OtherProfile:
    """A text or identifier column: only its row and missing counts."""

    name: str
    kind: str
    n_rows: int
    n_missing: int
    n_non_numeric: int = 0


ColumnSummary = NumericProfile | CategoricalProfile | OtherProfile


@dataclasses.dataclass(frozen=True, eq=False)
class Profile:
    """A mergeable summary of a table: one summary per column, in table order.

    Save it with :func:`~shiftguard.profile.save_profile`, merge with
    :func:`merge_profiles`, compare with :func:`shiftguard.compare`.
    """

    columns: tuple[ColumnSummary, ...]
    n_rows: int
    settings: ProfileSettings

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    @property
    def exact(self) -> bool:
        """Whether every numeric and categorical column is summarised exactly."""
        return all(getattr(c, "exact", True) for c in self.columns)

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {c.name: j for j, c in enumerate(self.columns)}

    def position(self, name: str) -> int:
        """Position of the column ``name`` (``KeyError`` if there is none)."""
        return self._positions[name]

    def __getitem__(self, name: str) -> ColumnSummary:
        return self.columns[self._positions[name]]

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # Sketches do not pickle; the file format does (Dask ships profiles between workers).
        from shiftguard.profile.format import profile_from_bytes, profile_to_bytes

        return profile_from_bytes, (profile_to_bytes(self),)


# -- building -----------------------------------------------------------------------------


def profile_batch(table: Table, settings: ProfileSettings,
                  edges: Mapping[str, np.ndarray] | None = None) -> Profile:
    """The profile of one in-memory table (a batch); numeric columns named in ``edges``
    are binned against those edges."""
    edges = edges or {}
    limit = settings.exact_limit(len(table.columns))
    out: list[ColumnSummary] = []
    for col in table.columns:
        if col.kind in ("numeric", "datetime"):
            values = col.observed()
            column_edges = edges.get(col.name)
            # sorted only where order is used: exact values, bins (a sketch takes any order)
            if values.size <= limit or column_edges is not None:
                values = np.sort(values)
            out.append(_numeric(col.name, col.kind, len(col), col.n_missing, col.n_non_numeric,
                                values, settings, column_edges, limit))
        elif col.kind == "categorical":
            codes = col.observed()
            counts = np.bincount(codes, minlength=len(col.categories))
            exact = {label: int(k) for label, k in zip(col.categories, counts, strict=True)
                     if k > 0}
            out.append(_categorical(col.name, len(col), col.n_missing, exact, settings))
        else:
            out.append(OtherProfile(col.name, col.kind, len(col), col.n_missing))
    return Profile(columns=tuple(out), n_rows=table.n_rows, settings=settings)


def _numeric(name: str, kind: str, n_rows: int, n_missing: int, n_non_numeric: int,
             values: np.ndarray, settings: ProfileSettings, edges: np.ndarray | None,
             limit: int) -> NumericProfile:
    count = int(values.size)
    if count:
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        lo, hi = float(values.min()), float(values.max())
    else:
        mean, m2, lo, hi = math.nan, 0.0, math.nan, math.nan
    bins = bin_sorted(values, edges) if edges is not None else None
    if count <= limit:
        return NumericProfile(name, kind, n_rows, n_missing, n_non_numeric, count, lo, hi,
                              mean, m2, values=values, edges=edges, bins=bins)
    tails = None
    if edges is None:  # binned columns keep their edges: tails serve only to choose edges
        tails = _tail_sketches(settings)
        _feed_tails(tails, values, settings.tail_share, False)
    return NumericProfile(name, kind, n_rows, n_missing, n_non_numeric, count, lo, hi, mean,
                          m2, sketch=_kll(settings, values), edges=edges, bins=bins,
                          tails=tails)


def _kll(settings: ProfileSettings, values: np.ndarray | None = None) -> Any:
    from datasketches import kll_doubles_sketch

    sketch = kll_doubles_sketch(settings.kll_k)
    if values is not None and values.size:
        sketch.update(values)
    return sketch


def _copy_kll(sketch: Any) -> Any:
    from datasketches import kll_doubles_sketch

    return kll_doubles_sketch.deserialize(sketch.serialize())


def _tail_sketches(settings: ProfileSettings) -> tuple[Any, Any]:
    """Two empty REQ sketches: accurate at low ranks (the low tail), and at high ranks."""
    from datasketches import req_floats_sketch

    return req_floats_sketch(settings.tail_k, False), req_floats_sketch(settings.tail_k, True)


def _copy_tails(tails: tuple[Any, Any]) -> tuple[Any, Any]:
    from datasketches import req_floats_sketch

    return tuple(req_floats_sketch.deserialize(t.serialize()) for t in tails)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_CUT_SAMPLE = 8192


def _feed_tails(tails: tuple[Any, Any], values: np.ndarray, share: float,
                is_sorted: bool) -> None:
    """Feed the low tail sketch about a part's lowest ``2 share`` of values and the high
    one its highest (a whole small part); an unsorted part's cuts are the quantiles of an
    evenly strided sample of about ``_CUT_SAMPLE`` values (a selection over the whole part
    costs several times more). A value below every part's cut has the same rank among the
    fed values as among all values, so the sketch's low ranks are the column's as long as
    the parts are alike; the edges stay valid whatever the parts (only counts decide).
    REQ sketches hold float32: values are clipped to its range."""
    n = values.size
    if n == 0:
        return
    k = min(n, math.ceil(2.0 * share * n))
    if k == n:
        low = high = values
    elif is_sorted:
        low, high = values[:k], values[n - k:]
    else:
        sample = np.sort(values[::max(1, n // _CUT_SAMPLE)])
        j = min(sample.size - 1, math.ceil(2.0 * share * sample.size))
        low, high = values[values <= sample[j]], values[values >= sample[-1 - j]]
    for sketch, v in zip(tails, (low, high), strict=True):
        sketch.update(np.clip(v, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32))


def _categorical(name: str, n_rows: int, n_missing: int, counts: dict[str, int],
                 settings: ProfileSettings) -> CategoricalProfile:
    total = sum(counts.values())
    if len(counts) <= settings.max_categories:
        return CategoricalProfile(name, n_rows, n_missing, total, counts=counts)
    frequent, hll = _category_sketches(settings)
    _feed(frequent, hll, counts)
    return CategoricalProfile(name, n_rows, n_missing, total, frequent=frequent, hll=hll)


def _category_sketches(settings: ProfileSettings) -> tuple[Any, Any]:
    from datasketches import frequent_strings_sketch, hll_sketch

    return frequent_strings_sketch(settings.frequent_lg_map), hll_sketch(settings.hll_lg_k)


def _feed(frequent: Any, hll: Any, counts: Mapping[str, int]) -> None:
    # one update per distinct category (not per row)
    for label, k in counts.items():
        frequent.update(label, int(k))
        hll.update(label)


def bin_profile(profile: Profile, edges: Mapping[str, np.ndarray],
                bins: Mapping[str, Bins]) -> Profile:
    """``profile`` with the named numeric columns' bins (counted against ``edges``) set
    (and their tail sketches, which served only to choose edges, dropped)."""
    columns = tuple(
        dataclasses.replace(c, edges=edges[c.name], bins=bins[c.name], tails=None)
        if c.name in bins else c
        for c in profile.columns
    )
    return dataclasses.replace(profile, columns=columns)


def quantile_edges(column: NumericProfile, n_bins: int | None) -> np.ndarray | None:
    """Bin edges of a reference column: its stored edges when it was binned, else its
    quantiles at ``1/n_bins, ..., (n_bins-1)/n_bins`` (lower inverse ECDF of the exact
    values, duplicates removed). ``None`` when the column is empty.

    A sketched column's quantiles come from its KLL sketch, whose rank error is additive
    (about ``1.7 / k`` of the count: its outermost quantiles could leave that share in the
    outermost bins), except in each tail: the levels within a quarter of what the column's
    REQ tail sketch was fed (well inside every part's cut) take that sketch's quantiles,
    whose rank error is relative to the rank (Cormode et al. 2021, "Relative error
    streaming quantiles"). A sketch resolves only so many distinct quantiles: the gaps
    between KLL's are split into equal widths until there are about ``n_bins`` edges
    (near-equal masses where the density is smooth), REQ's by the number of levels that
    share their ends (its resolution falls away from its end).
    """
    if column.edges is not None:
        return column.edges
    if column.count == 0:
        return None
    if n_bins is None:
        n_bins = int(np.clip(np.ceil(8 * math.sqrt(column.count)), 1024, 131_072))
    levels = np.arange(1, n_bins) / n_bins
    if column.values is not None:
        idx = np.clip(np.ceil(levels * column.count) - 1, 0, column.count - 1).astype(np.intp)
        return np.unique(column.values[idx])
    n = column.count
    edges = _split(np.asarray(column.sketch.get_quantiles(levels), dtype=np.float64), n_bins)
    if column.tails is None:
        return edges
    (low, high), inner = column.tails, np.ones(edges.size, dtype=bool)
    lows = levels[levels * n <= low.n / 4]
    highs = levels[(1.0 - levels) * n <= high.n / 4]
    tails = []
    low_edges = _tail_edges(low, lows * (n / low.n)) if lows.size else None
    if low_edges is not None:
        tails.append(low_edges)
        inner &= edges > low_edges[-1]
    high_edges = (_tail_edges(high, 1.0 - (1.0 - highs) * (n / high.n)) if highs.size
                  else None)
    if high_edges is not None:
        tails.append(high_edges)
        inner &= edges < high_edges[0]
    return np.unique(np.concatenate([edges[inner], *tails]))


def _tail_edges(sketch: Any, ranks: np.ndarray) -> np.ndarray | None:
    """A tail sketch's edges at ``ranks``, or ``None`` (KLL's edges then serve) where its
    float32 values cannot place them: values clipped to the float32 range, or a tail
    narrower than a few float32 spacings per level (a large offset, a small spread)."""
    q = np.asarray(sketch.get_quantiles(ranks), dtype=np.float64)
    if not np.all(np.abs(q) < _FLOAT32_MAX):
        return None
    spacing = float(np.spacing(np.float32(max(abs(q[0]), abs(q[-1])))))
    if q[-1] - q[0] < 4.0 * ranks.size * spacing:
        return None
    return _split_by_levels(q)


def _split_by_levels(quantiles: np.ndarray) -> np.ndarray:
    """Edges from a REQ sketch's quantiles at consecutive levels, whose resolution changes
    along the ranks: each gap between distinct quantiles is split into as many equal
    widths as levels share either of its ends."""
    values, shared = np.unique(quantiles.astype(np.float64), return_counts=True)
    if values.size < 2:
        return values
    split = np.maximum(shared[:-1], shared[1:])
    gap = np.repeat(np.arange(split.size), split)
    t = (np.arange(gap.size) - np.repeat(np.cumsum(split) - split, split)) / split[gap]
    fine = values[gap] * (1.0 - t) + values[gap + 1] * t  # convex: no overflow
    return np.unique(np.append(fine, values[-1]))


def _split(quantiles: np.ndarray, n_levels: int) -> np.ndarray:
    """Edges from a sketch's quantiles at ``n_levels`` levels: its distinct values, each
    gap between them split into equal widths until there are about ``n_levels``."""
    coarse = np.unique(quantiles.astype(np.float64))
    split = max(1, n_levels // max(coarse.size, 1))
    if split == 1 or coarse.size < 2:
        return coarse
    t = np.arange(split) / split
    fine = coarse[:-1, None] * (1.0 - t) + coarse[1:, None] * t  # convex: no overflow
    return np.unique(np.append(fine.ravel(), coarse[-1]))


def column_bins(column: NumericProfile, edges: np.ndarray) -> Bins | None:
    """The column's bins against ``edges``: the stored bins when they were counted against
    the same edges, else computed from exact values; ``None`` otherwise."""
    if column.bins is not None and column.edges is not None and np.array_equal(column.edges,
                                                                                 edges):
        return column.bins
    if column.values is not None:
        return bin_sorted(column.values, edges)
    return None


# -- merging ------------------------------------------------------------------------------


def merge(a: Profile, b: Profile) -> Profile:
    """The profile of the rows of ``a`` and ``b`` together.

    Raises
    ------
    ParameterError
        The profiles were made with different sketch settings.
    SchemaError
        Their columns (names, order or kinds) differ, or a numeric column was binned
        against different edges in each.
    """
    if not isinstance(a, Profile) or not isinstance(b, Profile):
        raise ParameterError(f"merge needs two Profile objects, got {type(a).__name__} and "
                             f"{type(b).__name__}")
    if a.settings != b.settings:
        raise ParameterError(f"cannot merge profiles with different sketch settings: "
                             f"{a.settings} and {b.settings}")
    if a.kinds != b.kinds or a.names != b.names:
        raise SchemaError(f"cannot merge profiles of different schemas: {a.kinds} and "
                          f"{b.kinds}")
    limit = a.settings.exact_limit(len(a.columns))
    columns = tuple(_merge_column(x, y, a.settings, limit)
                    for x, y in zip(a.columns, b.columns, strict=True))
    return Profile(columns=columns, n_rows=a.n_rows + b.n_rows, settings=a.settings)


def merge_all(profiles: Iterable[Profile]) -> Profile:
    """Merge many profiles, pairwise in a balanced tree (as Dask does)."""
    level = list(profiles)
    if not level:
        raise ParameterError("merge_all needs at least one profile")
    while len(level) > 1:
        level = [merge(*level[i:i + 2]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


def _merge_column(a: Any, b: Any, settings: ProfileSettings, limit: int) -> Any:
    if isinstance(a, NumericProfile):
        return _merge_numeric(a, b, settings, limit)
    if isinstance(a, CategoricalProfile):
        return _merge_categorical(a, b, settings)
    return OtherProfile(a.name, a.kind, a.n_rows + b.n_rows, a.n_missing + b.n_missing,
                        a.n_non_numeric + b.n_non_numeric)


def _merge_numeric(a: NumericProfile, b: NumericProfile, settings: ProfileSettings,
                   limit: int) -> NumericProfile:
    count = a.count + b.count
    if a.count == 0 or b.count == 0:
        mean, m2 = (a.mean, a.m2) if b.count == 0 else (b.mean, b.m2)
    else:
        delta = b.mean - a.mean
        mean = a.mean + delta * (b.count / count)
        m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / count)
    edges, bins = _merged_bins(a, b)
    values = sketch = tails = None
    if a.values is not None and b.values is not None and count <= limit:
        values = np.sort(np.concatenate([a.values, b.values]), kind="stable")
    else:
        # a copy of one side's sketch (or an empty one) takes the other side
        first, second = (a, b) if a.sketch is not None else (b, a)
        sketch = _kll(settings) if first.sketch is None else _copy_kll(first.sketch)
        if edges is None:
            tails = _tail_sketches(settings) if first.tails is None else _copy_tails(first.tails)
        for part in (first, second) if first.sketch is None else (second,):
            if part.values is not None:
                if part.values.size:
                    sketch.update(part.values)
                    if tails is not None:
                        _feed_tails(tails, part.values, settings.tail_share, True)
            else:
                sketch.merge(part.sketch)
                for mine, theirs in zip(tails or (), part.tails or (), strict=True):
                    mine.merge(theirs)
    return NumericProfile(
        a.name, a.kind, a.n_rows + b.n_rows, a.n_missing + b.n_missing,
        a.n_non_numeric + b.n_non_numeric, count, float(np.fmin(a.minimum, b.minimum)),
        float(np.fmax(a.maximum, b.maximum)), mean, m2, values=values, sketch=sketch,
        edges=edges, bins=bins, tails=tails,
    )


def _merged_bins(a: NumericProfile, b: NumericProfile) -> tuple[Any, Any]:
    """Both parts' bins summed: a part binned against edges and an exact part are binned
    alike; parts binned against different edges do not merge."""
    if a.edges is None and b.edges is None:
        return None, None
    edges = a.edges if a.edges is not None else b.edges
    if a.edges is not None and b.edges is not None and not np.array_equal(a.edges, b.edges):
        raise SchemaError("was binned against different edges in the two profiles; profile "
                          "every part with the same edges_from=", a.name)
    parts = [column_bins(p, edges) for p in (a, b)]
    if any(p is None for p in parts):
        raise SchemaError("is binned in one profile only and sketched in the other; profile "
                          "every part with the same edges_from=", a.name)
    return edges, merge_bins(*parts)


def _merge_categorical(a: CategoricalProfile, b: CategoricalProfile,
                       settings: ProfileSettings) -> CategoricalProfile:
    n_rows, n_missing = a.n_rows + b.n_rows, a.n_missing + b.n_missing
    if a.counts is not None and b.counts is not None:
        counts = dict(a.counts)
        for label, k in b.counts.items():
            counts[label] = counts.get(label, 0) + k
        return _categorical(a.name, n_rows, n_missing, counts, settings)
    from datasketches import hll_union

    frequent, _ = _category_sketches(settings)
    union = hll_union(settings.hll_lg_k)
    for part in (a, b):
        if part.counts is not None:
            f, h = _category_sketches(settings)
            _feed(f, h, part.counts)
        else:
            f, h = part.frequent, part.hll
        frequent.merge(f)
        union.update(h)
    return CategoricalProfile(a.name, n_rows, n_missing, a.count + b.count, frequent=frequent,
                              hll=union.get_result())

"""Tables in: files and data frames become validated, typed columns.

Every input -- a CSV, Parquet, Arrow IPC/Feather or JSON Lines file, a pandas or polars
DataFrame, a PyArrow table, a NumPy array or a mapping of column name to values -- is first
turned into a PyArrow table, and from there into a :class:`Table` of :class:`Column` objects
of one of three kinds:

``numeric``
    float64 values, missing values as NaN (integers, floats, decimals, dates and times;
    temporal values become seconds since the epoch).
``categorical``
    integer codes into a tuple of category labels, ``-1`` for missing (strings, booleans,
    dictionary-encoded columns).
``text``
    free text, kept as a NumPy object array of ``str`` with ``None`` for missing (string
    columns whose values are long and mostly distinct).

Missing values are counted per column and never dropped silently: the drift code tests
their rate for change. Infinite values, an empty table and a column with no observed value
raise :class:`~shiftguard.errors.InputError` naming the column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shiftguard._result import ResultMixin
from shiftguard.errors import InputError, ReadError, SchemaError

KINDS = ("numeric", "categorical", "text")

#: A string column is inferred as text when its mean length and share of distinct values
#: are both at least these (short labels and codes stay categorical).
TEXT_MIN_MEAN_LENGTH = 30.0
TEXT_MIN_DISTINCT_SHARE = 0.5

_READERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".jsonl": "json",
    ".ndjson": "json",
}


@dataclasses.dataclass(frozen=True, eq=False)
class Column:
    """One validated column.

    Attributes
    ----------
    name
        Column name.
    kind
        ``"numeric"``, ``"categorical"`` or ``"text"``.
    values
        numeric: float64 array with NaN for missing; categorical: int32 codes into
        ``categories`` with -1 for missing; text: object array of str with None for missing.
    categories
        Labels of a categorical column (empty for the other kinds).
    n_missing
        Number of missing values.
    inferred
        How the kind was decided, in a few words for the report (``"user"`` when set
        through ``kinds=``).
    n_non_numeric, non_numeric_tokens
        Numeric columns read from strings: values that are neither numbers nor missing
        tokens (they are NaN in ``values`` but not counted in ``n_missing``), and the
        distinct such tokens, most frequent first (at most 20).
    """

    name: str
    kind: str
    values: np.ndarray
    categories: tuple[str, ...]
    n_missing: int
    inferred: str = ""
    n_non_numeric: int = 0
    non_numeric_tokens: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def observed(self) -> np.ndarray:
        """The non-missing values (numeric floats, categorical codes, or texts)."""
        if self.kind == "numeric":
            return self.values[~np.isnan(self.values)]
        if self.kind == "categorical":
            return self.values[self.values >= 0]
        return self.values[self.values != None]  # noqa: E711 -- elementwise on object array


@dataclasses.dataclass(frozen=True, eq=False)
class Table:
    """Validated columns of equal length, in input order.

    ``numeric_block`` is the 2-D float64 array whose columns *are* the table's columns
    (views) when the input was one numeric array, so that code needing a matrix can use it
    without a copy; otherwise ``None``.
    """

    columns: tuple[Column, ...]
    n_rows: int
    numeric_block: np.ndarray | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclasses.dataclass(frozen=True)
class SchemaDiff(ResultMixin):
    """How two tables' columns differ (empty tuples mean they agree)."""

    missing: tuple[str, ...]
    extra: tuple[str, ...]
    kind_mismatch: tuple[tuple[str, str, str], ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.kind_mismatch)


def read_table(
    source: Any,
    *,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    label: str = "data",
) -> Table:
    """Read ``source`` into a validated :class:`Table`.

    Parameters
    ----------
    source
        A file path (``.csv``, ``.tsv``, ``.parquet``, ``.arrow``/``.feather``/``.ipc``,
        ``.jsonl``/``.ndjson``), a pandas or polars DataFrame, a PyArrow Table or
        RecordBatch, a 1-D/2-D NumPy array (columns named ``x0, x1, ...``), a mapping of
        column name to 1-D values, or a :class:`Table` (returned after selection).
    kinds
        Override the inferred kind of some columns, e.g. ``{"zip": "categorical"}``.
    columns
        Keep only these columns, in this order (default: all).
    exclude
        Drop these columns.
    label
        How the table is named in error messages (``"reference"``, ``"current"``...).

    Raises
    ------
    ReadError
        The file is missing, unreadable or of an unknown format.
    InputError
        The table is empty, a column holds infinities or no observed value, a column's
        type is unsupported, or a requested column or kind is unknown.
    """
    if isinstance(source, Table):
        table = source
    elif isinstance(source, np.ndarray) and source.dtype.kind in "fiub":
        table = _numeric_array_table(source, label)
    else:
        table = _to_table(_to_arrow(source, label), label)
    names = table.names
    unknown = [c for c in [*(columns or ()), *exclude, *(kinds or {})] if c not in names]
    if unknown:
        raise InputError(f"{label} has no column(s) {', '.join(map(repr, unknown))}")
    keep = [c for c in (columns if columns is not None else names) if c not in set(exclude)]
    if not keep:
        raise InputError(f"{label}: no columns left to compare")
    out = []
    for name in keep:
        col = table[name]
        wanted = (kinds or {}).get(name, col.kind)
        if wanted not in KINDS:
            raise InputError(f"unknown kind {wanted!r}; use one of {', '.join(KINDS)}", name)
        out.append(col if wanted == col.kind else _convert(col, wanted, label))
    unchanged = len(out) == len(table.columns) and all(
        a is b for a, b in zip(out, table.columns, strict=True)
    )
    block = table.numeric_block if unchanged else None
    return Table(columns=tuple(out), n_rows=table.n_rows, numeric_block=block)


def compare_schemas(reference: Table, current: Table) -> SchemaDiff:
    """Columns missing from or extra in ``current``, and columns whose kinds differ."""
    ref, cur = reference.kinds, current.kinds
    return SchemaDiff(
        missing=tuple(c for c in ref if c not in cur),
        extra=tuple(c for c in cur if c not in ref),
        kind_mismatch=tuple((c, ref[c], cur[c]) for c in ref if c in cur and ref[c] != cur[c]),
    )


def check_schema(reference: Table, current: Table, *, check_kinds: bool = True) -> None:
    """Raise :class:`SchemaError` unless both tables have the same columns (and kinds)."""
    diff = compare_schemas(reference, current)
    if diff.missing:
        raise SchemaError(f"current lacks reference column(s) {', '.join(map(repr, diff.missing))}")
    if diff.extra:
        raise SchemaError(
            f"current has column(s) not in the reference: {', '.join(map(repr, diff.extra))}"
            " (select columns or exclude them)"
        )
    if check_kinds and diff.kind_mismatch:
        name, k_ref, k_cur = diff.kind_mismatch[0]
        raise SchemaError(f"is {k_ref} in the reference but {k_cur} in current", name)


def _numeric_array_table(source: np.ndarray, label: str) -> Table:
    """A numeric 1-D/2-D array becomes columns ``x0, x1, ...`` that are views, not copies."""
    arr = source[:, None] if source.ndim == 1 else source
    if arr.ndim != 2:
        raise InputError(f"{label}: expected a 1-D or 2-D array, got shape {source.shape}")
    if arr.shape[1] == 0:
        raise InputError(f"{label} has no columns")
    if arr.shape[0] == 0:
        raise InputError(f"{label} is empty (0 rows)")
    arr = arr if arr.dtype == np.float64 else arr.astype(np.float64)
    if np.isfinite(arr).all():  # the common case costs one pass
        n_nan = n_inf = np.zeros(arr.shape[1], dtype=np.int64)
    else:
        n_nan = np.isnan(arr).sum(axis=0)
        n_inf = np.isinf(arr).sum(axis=0)
    if n_inf.any():
        j = int(np.flatnonzero(n_inf)[0])
        raise InputError(f"holds {int(n_inf[j])} infinite value(s) in {label}", f"x{j}")
    if (n_nan == arr.shape[0]).any():
        j = int(np.flatnonzero(n_nan == arr.shape[0])[0])
        raise InputError(f"has no observed value in {label} (all missing)", f"x{j}")
    cols = tuple(
        Column(f"x{j}", "numeric", arr[:, j], (), int(n_nan[j])) for j in range(arr.shape[1])
    )
    return Table(columns=cols, n_rows=arr.shape[0], numeric_block=arr)


def _to_arrow(source: Any, label: str) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, (str, Path)):
        return _read_file(Path(source), label)
    if isinstance(source, np.ndarray):
        arr = source[:, None] if source.ndim == 1 else source
        if arr.ndim != 2:
            raise InputError(f"{label}: expected a 1-D or 2-D array, got shape {source.shape}")
        return pa.table({f"x{j}": pa.array(arr[:, j]) for j in range(arr.shape[1])})
    if isinstance(source, Mapping):
        try:
            return pa.table({str(k): _as_arrow_array(v) for k, v in source.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(f"{label}: cannot build a table from the mapping ({exc})") from None
    module = type(source).__module__.split(".")[0]
    if module == "pandas":
        return pa.Table.from_pandas(source, preserve_index=False)
    if module == "polars":
        return source.to_arrow()
    raise InputError(
        f"{label}: cannot read a {type(source).__name__}; pass a file path, a pandas or polars"
        " DataFrame, a PyArrow table, a NumPy array or a dict of columns"
    )


def _as_arrow_array(values: Any) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    return pa.array(np.asarray(values) if not isinstance(values, list) else values)


def _read_file(path: Path, label: str) -> pa.Table:
    if not path.exists():
        raise ReadError(f"{label}: file not found: {path}")
    fmt = _READERS.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(
            f"{label}: unknown file type {path.suffix!r} of {path}; "
            f"use one of {', '.join(sorted(_READERS))}"
        )
    try:
        if fmt == "csv":
            from pyarrow import csv

            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
            return csv.read_csv(path, parse_options=csv.ParseOptions(delimiter=delimiter))
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if fmt == "ipc":
            import pyarrow.feather as feather

            return feather.read_table(path)
        from pyarrow import json

        return json.read_json(path)
    except (pa.ArrowException, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(f"{label}: cannot read {path}: {first_line}") from None


def _to_table(arrow: pa.Table, label: str) -> Table:
    if arrow.num_columns == 0:
        raise InputError(f"{label} has no columns")
    if arrow.num_rows == 0:
        raise InputError(f"{label} is empty (0 rows)")
    names = [str(n) for n in arrow.column_names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{label} has duplicate column name(s) {', '.join(map(repr, dup))}")
    cols = tuple(_column(name, arrow.column(i), label) for i, name in enumerate(names))
    return Table(columns=cols, n_rows=arrow.num_rows)


def _column(name: str, data: pa.ChunkedArray, label: str) -> Column:
    t = data.type
    if pa.types.is_null(t):
        raise InputError(f"has no observed value in {label} (all missing)", name)
    if pa.types.is_dictionary(t):
        data = data.cast(t.value_type)
        t = data.type
    if pa.types.is_boolean(t):
        return _categorical(name, data.cast(pa.string()), label)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return _numeric(name, data, label)
    if pa.types.is_temporal(t):
        return _numeric(name, _temporal_seconds(data), label)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _looks_like_text(data):
            return _text(name, data, label)
        return _categorical(name, data, label)
    raise InputError(f"has unsupported type {t} in {label}", name)


def _temporal_seconds(data: pa.ChunkedArray) -> pa.ChunkedArray:
    t = data.type
    if pa.types.is_timestamp(t) or pa.types.is_duration(t):
        scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[t.unit]
        return pc.multiply(data.cast(pa.int64()).cast(pa.float64()), scale)
    if pa.types.is_date32(t):
        return pc.multiply(data.cast(pa.int32()).cast(pa.float64()), 86400.0)
    if pa.types.is_date64(t):
        return pc.multiply(data.cast(pa.int64()).cast(pa.float64()), 1e-3)
    if pa.types.is_time(t):
        scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[t.unit]
        return pc.multiply(data.cast(pa.int64()).cast(pa.float64()), scale)
    raise InputError(f"unsupported temporal type {t}")


def _numeric(name: str, data: pa.ChunkedArray, label: str) -> Column:
    values = np.ascontiguousarray(
        pc.fill_null(data.cast(pa.float64()), np.nan).to_numpy(), dtype=np.float64
    )
    n_inf = int(np.isinf(values).sum())
    if n_inf:
        raise InputError(f"holds {n_inf} infinite value(s) in {label}", name)
    n_missing = int(np.isnan(values).sum())
    if n_missing == values.shape[0]:
        raise InputError(f"has no observed value in {label} (all missing)", name)
    return Column(name, "numeric", values, (), n_missing)


def _categorical(name: str, data: pa.ChunkedArray, label: str) -> Column:
    encoded = pc.dictionary_encode(data.combine_chunks())
    categories = tuple(str(v) for v in encoded.dictionary.to_pylist())
    codes = pc.fill_null(encoded.indices.cast(pa.int32()), -1).to_numpy(zero_copy_only=False)
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    n_missing = int((codes < 0).sum())
    if n_missing == codes.shape[0]:
        raise InputError(f"has no observed value in {label} (all missing)", name)
    return Column(name, "categorical", codes, categories, n_missing)


def _text(name: str, data: pa.ChunkedArray, label: str) -> Column:
    values = np.asarray(data.to_pylist(), dtype=object)
    n_missing = int(data.null_count)
    if n_missing == values.shape[0]:
        raise InputError(f"has no observed value in {label} (all missing)", name)
    return Column(name, "text", values, (), n_missing)


def _looks_like_text(data: pa.ChunkedArray) -> bool:
    observed = data.drop_null()
    if len(observed) == 0:
        return False
    mean_length = pc.mean(pc.utf8_length(observed)).as_py()
    distinct = len(pc.unique(observed))
    long_enough = mean_length >= TEXT_MIN_MEAN_LENGTH
    return long_enough and distinct >= TEXT_MIN_DISTINCT_SHARE * len(observed)


def _convert(col: Column, kind: str, label: str) -> Column:
    """Re-type a column on the user's request (``kinds=``)."""
    if col.kind == "categorical":
        missing = col.values < 0
        names = np.asarray(col.categories, dtype=object)
        labels = pa.array(names[np.where(missing, 0, col.values)], pa.string(), mask=missing)
    elif col.kind == "numeric":
        missing = np.isnan(col.values)
        integral = np.all(np.mod(col.values[~missing], 1.0) == 0.0)
        numbers = pa.array(col.values, mask=missing)
        labels = (numbers.cast(pa.int64()) if integral else numbers).cast(pa.string())
    else:
        labels = pa.array(col.values, pa.string())
    chunked = pa.chunked_array([labels])
    if kind == "categorical":
        return _categorical(col.name, chunked, label)
    if kind == "text":
        return _text(col.name, chunked, label)
    try:
        numbers = pc.cast(chunked, pa.float64())
    except pa.ArrowInvalid:
        raise InputError(f"cannot be read as numeric in {label}", col.name) from None
    return _numeric(col.name, numbers, label)


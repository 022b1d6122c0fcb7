"""``read_table``: any input in, a validated :class:`~shiftguard.io.Table` out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from shiftguard.errors import InputError
from shiftguard.io.files import read_file
from shiftguard.io.kinds import DEFAULT_MISSING_VALUES, build_column
from shiftguard.io.sources import check_unique, numeric_array_table, to_arrow
from shiftguard.io.table import KINDS, Column, Table


def read_table(
    source: Any,
    *,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    label: str = "data",
    missing_values: Sequence[str] = DEFAULT_MISSING_VALUES,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> Table:
    """Read ``source`` into a validated :class:`Table`.

    Parameters
    ----------
    source
        One of:

        - a file path: ``.csv``/``.txt`` (delimiter detected), ``.tsv``/``.tab``,
          ``.parquet``/``.pq``, ``.arrow``/``.feather``/``.ipc``, ``.jsonl``/``.ndjson``;
          the text formats also compressed (``.csv.gz``, ``.csv.bz2``, ``.csv.zst``,
          ``.tsv.gz``, ``.jsonl.gz``, ...);
        - a pandas DataFrame or Series (a Series is one column named after it, or
          ``x0``). Index levels that carry data become the first columns, named after
          the level (``index``/``level_i`` when unnamed): a named index, or an unnamed one
          that is not integer (dates, labels). An unnamed integer index -- the default
          RangeIndex or the row positions left by filtering or sampling -- is dropped.
          An object column mixing Python types (``1`` and ``"x"``) is read as the
          values' strings, and kind inference decides (numbers with a token, say);
        - a polars DataFrame, LazyFrame (collected) or Series;
        - a PyArrow Table or RecordBatch;
        - a 1-D/2-D NumPy array (columns ``x0, x1, ...``; a numeric array is taken as
          numbers, every column numeric and a view of the array);
        - a mapping of column name to 1-D values;
        - a :class:`Table` (returned after selection and kind conversion).
    kinds
        Override the inferred kind of some columns, e.g. ``{"zip": "categorical"}``,
        ``{"id": "categorical"}`` (an identifier tested after all) or
        ``{"when": "numeric"}`` (a datetime as seconds since the epoch). Any kind in
        :data:`KINDS`; ``Column.inferred`` is then ``"user"``.
    columns
        Keep only these columns, in this order (default: all).
    exclude
        Drop these columns.
    label
        How the table is named in error messages (``"reference"``, ``"current"``...).
    missing_values
        Strings that mean "missing" in string columns of every format, compared after
        trimming whitespace; ``()`` switches this off (CSV empty fields then stay empty
        strings).
    delimiter
        Field delimiter of CSV/TXT files; detected from the first 64 KB (comma,
        semicolon, tab or pipe) when ``None``. TSV files use a tab.
    encoding
        Text encoding of CSV, TSV and JSON Lines files (e.g. ``"latin-1"``); the text is
        transcoded to UTF-8 while reading.

    Raises
    ------
    ReadError
        The file is missing, unreadable, not valid in ``encoding``, or of an unknown type.
    InputError
        The table is empty (no rows or no columns), has duplicate column names, a column
        holds infinities or a type that is not supported, a forced kind does not fit the
        values, or a requested column or kind is unknown.
    ParameterError
        ``encoding`` is unknown or ``delimiter`` is not one character.
    """
    kinds = dict(kinds or {})
    unknown_kinds = {n: k for n, k in kinds.items() if k not in KINDS}
    if unknown_kinds:
        name, kind = next(iter(unknown_kinds.items()))
        raise InputError(f"unknown kind {kind!r} in {label}; use one of {', '.join(KINDS)}",
                         name)
    if isinstance(source, Table):
        return _select(source, kinds, columns, exclude, label)
    if isinstance(source, np.ndarray) and source.dtype.kind in "fiub":
        return _select(numeric_array_table(source, label), kinds, columns, exclude, label)
    if isinstance(source, (str, Path)):
        arrow, from_text = read_file(Path(source), label, delimiter=delimiter,
                                     encoding=encoding, missing_values=missing_values)
    else:
        arrow, from_text = to_arrow(source, label), False
    if arrow.num_columns == 0:
        raise InputError(f"{label} has no columns")
    if arrow.num_rows == 0:
        raise InputError(f"{label} is empty (0 rows)")
    names = [str(n) for n in arrow.column_names]
    check_unique(names, label)
    keep = _kept(names, kinds, columns, exclude, label)
    n_rows = arrow.num_rows
    data: list[pa.ChunkedArray | None] = [arrow.column(names.index(n)) for n in keep]
    del arrow  # a table read from a file is freed column by column below
    out = []
    for i, name in enumerate(keep):
        column, data[i] = data[i], None
        out.append(build_column(name, column, label, kind=kinds.get(name),
                                missing_values=missing_values, from_text=from_text))
        del column
    return Table(columns=tuple(out), n_rows=n_rows)


def _kept(
    names: Sequence[str],
    kinds: Mapping[str, str],
    columns: Sequence[str] | None,
    exclude: Sequence[str],
    label: str,
) -> list[str]:
    unknown = [c for c in [*(columns or ()), *exclude, *kinds] if c not in names]
    if unknown:
        raise InputError(f"{label} has no column(s) {', '.join(map(repr, unknown))}")
    dropped = set(exclude)
    keep = [c for c in (columns if columns is not None else names) if c not in dropped]
    if not keep:
        raise InputError(f"{label}: no columns left to compare")
    return keep


def _select(
    table: Table,
    kinds: Mapping[str, str],
    columns: Sequence[str] | None,
    exclude: Sequence[str],
    label: str,
) -> Table:
    out = []
    for name in _kept(table.names, kinds, columns, exclude, label):
        col = table[name]
        wanted = kinds.get(name, col.kind)
        out.append(col if wanted == col.kind else _convert(col, wanted, label))
    unchanged = len(out) == len(table.columns) and all(
        a is b for a, b in zip(out, table.columns, strict=True)
    )
    block = table.numeric_block if unchanged else None
    return Table(columns=tuple(out), n_rows=table.n_rows, numeric_block=block)


def _convert(col: Column, kind: str, label: str) -> Column:
    """Re-type a column of a :class:`Table` (``kinds=``), through its Arrow equivalent.

    Columns parsed from strings start again from those strings (``Column.raw``). Other
    numbers become their shortest strings (1.0 as "1"), datetimes ISO-8601 strings (dates
    alone when every value is midnight).
    """
    if col.raw is not None:
        data = col.raw
    elif col.kind == "categorical":
        missing = col.values < 0
        labels = np.asarray((*col.categories, ""), dtype=object)  # "" under the missing ones
        data = pa.array(labels[np.where(missing, -1, col.values)], pa.string(), mask=missing)
    elif col.kind == "datetime" and kind != "numeric":
        data = _timestamps(col.values)
    elif col.kind in ("numeric", "datetime"):
        data = pa.array(col.values, mask=np.isnan(col.values))
    else:
        data = pa.array(col.values, pa.string())
    chunked = data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])
    return build_column(col.name, chunked, label, kind=kind, missing_values=())


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """Seconds since the epoch as Arrow dates (all at midnight) or timestamps."""
    missing = np.isnan(seconds)
    filled = np.where(missing, 0.0, seconds)
    if np.all(filled % 86400.0 == 0.0):
        return pa.array((filled // 86400.0).astype(np.int32), pa.date32(), mask=missing)
    micros = np.round(filled * 1e6).astype(np.int64)
    unit = "s" if np.all(micros % 1_000_000 == 0) else "us"
    values = micros // 1_000_000 if unit == "s" else micros
    return pa.array(values, pa.timestamp(unit), mask=missing)

"""Python inputs (pandas, polars, PyArrow, NumPy, mappings) as Arrow tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from shiftguard._validation import all_finite
from shiftguard.errors import InputError
from shiftguard.io.table import Column, Table

_NUMPY_KINDS = {"f": "floats", "i": "integers", "u": "integers", "b": "booleans as 0/1"}


def numeric_array_table(source: np.ndarray, label: str) -> Table:
    """A numeric 1-D/2-D array becomes numeric columns ``x0, x1, ...`` that are views, not
    copies (integers and booleans are converted to float64 once)."""
    arr = _two_dimensional(source, label)
    if arr.shape[1] == 0:
        raise InputError(f"{label} has no columns")
    if arr.shape[0] == 0:
        raise InputError(f"{label} is empty (0 rows)")
    arr = arr if arr.dtype == np.float64 else arr.astype(np.float64)
    if all_finite(arr):  # the common case costs one pass
        n_nan = np.zeros(arr.shape[1], dtype=np.int64)
    else:
        n_inf = np.isinf(arr).sum(axis=0)
        if n_inf.any():
            j = int(np.flatnonzero(n_inf)[0])
            raise InputError(f"holds {int(n_inf[j])} infinite value(s) in {label}", f"x{j}")
        n_nan = np.isnan(arr).sum(axis=0)
    what = _NUMPY_KINDS[source.dtype.kind]
    cols = tuple(
        Column(f"x{j}", "numeric", arr[:, j], (), int(n_nan[j]),
               "no observed value" if n_nan[j] == arr.shape[0] else what)
        for j in range(arr.shape[1])
    )
    return Table(columns=cols, n_rows=arr.shape[0], numeric_block=arr)


def to_arrow(source: Any, label: str) -> pa.Table:
    """A PyArrow table of ``source`` (anything but a file path)."""
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, np.ndarray):
        arr = _two_dimensional(source, label)
        return pa.table({f"x{j}": _arrow_array(arr[:, j], f"x{j}", label)
                         for j in range(arr.shape[1])})
    if isinstance(source, Mapping):
        names = [str(k) for k in source]
        check_unique(names, label)
        return pa.table({n: _arrow_array(v, n, label)
                         for n, v in zip(names, source.values(), strict=True)})
    module = type(source).__module__.split(".")[0]
    if module == "pandas":
        return _pandas_to_arrow(source, label)
    if module == "polars":
        kind = type(source).__name__
        if kind == "LazyFrame":
            source = source.collect()
        elif kind == "Series":
            source = source.to_frame()
        return source.to_arrow()
    raise InputError(
        f"{label}: cannot read a {type(source).__name__}; pass a file path, a pandas or polars"
        " DataFrame or Series, a PyArrow table, a NumPy array or a dict of columns"
    )


def _two_dimensional(source: np.ndarray, label: str) -> np.ndarray:
    arr = source[:, None] if source.ndim == 1 else source
    if arr.ndim != 2:
        raise InputError(f"{label}: expected a 1-D or 2-D array, got shape {source.shape}")
    return arr


def _pandas_to_arrow(frame: Any, label: str) -> pa.Table:
    """A pandas DataFrame or Series; index levels that carry data come first as columns.

    An index level is kept when it is named, or unnamed but not integer (a date index,
    say); an unnamed integer index is a row position left by filtering or sampling and is
    dropped, as is the default RangeIndex.
    """
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name="x0" if frame.name is None else frame.name)
    columns: dict[str, Any] = {}
    index = frame.index
    for i, level in enumerate(index.names):
        values = index.get_level_values(i)
        if level is not None or not pd.api.types.is_integer_dtype(values.dtype):
            default = "index" if index.nlevels == 1 else f"level_{i}"
            columns[str(default if level is None else level)] = values
    check_unique([*columns, *map(str, frame.columns)], label)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        # A column mixing Python types (int and str, say): convert column by column.
        table = pa.table({str(c): _arrow_array(frame.iloc[:, j], str(c), label)
                          for j, c in enumerate(frame.columns)})
    for position, (name, values) in enumerate(columns.items()):
        table = table.add_column(position, name, _arrow_array(values, name, label))
    return table


def _arrow_array(values: Any, name: str, label: str) -> pa.Array | pa.ChunkedArray:
    """One column as Arrow; values mixing Python types (1 and "x") become their strings,
    so that kind inference can read them (as numbers with tokens, say)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    module = type(values).__module__.split(".")[0]
    try:
        if module == "polars":
            return values.to_arrow()
        if module == "pandas":
            return pa.array(values, from_pandas=True)
        return pa.array(values if isinstance(values, list) else np.asarray(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    objects = np.asarray(values, dtype=object)
    if objects.ndim != 1:
        raise InputError(f"has {objects.ndim}-D values in {label}; expected one value a row",
                         name)
    if module == "pandas":
        missing = values.isna().to_numpy()
    else:
        missing = (objects == None) | (objects != objects)  # noqa: E711 -- None, NaN elementwise
    return pa.array(objects.astype(str), type=pa.string(), mask=missing)


def check_unique(names: list[str], label: str) -> None:
    """Raise :class:`InputError` naming the column names that occur more than once."""
    repeated = sorted(n for n, k in Counter(names).items() if k > 1)
    if repeated:
        raise InputError(f"{label} has duplicate column name(s) {', '.join(map(repr, repeated))}")

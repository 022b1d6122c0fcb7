"""NumPy arrays to and from Arrow arrays through their buffers.

PyArrow's own bridges -- ``Array.to_numpy``, ``pa.array``, ``pa.scalar`` and any compute
function given a Python value -- import pandas the first time they run, to recognise its
objects, even when none is involved: 0.3 s, longer than reading and testing a small file
from the command line. The readers go through these helpers instead, so that numeric,
boolean, categorical and datetime-string columns never need pandas (only text and
identifier columns, which become arrays of Python strings, still use ``to_numpy``).
``pyarrow.compute`` itself (40-60 ms to import) is loaded on first use through
:data:`compute`: a table of plain numbers never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa


class _LazyCompute:
    """``pyarrow.compute``, imported when one of its functions is first looked up."""

    def __getattr__(self, name: str) -> Any:
        import pyarrow.compute

        return getattr(pyarrow.compute, name)


#: Stands in for ``pyarrow.compute`` (``from shiftguard.io.buffers import compute as pc``).
compute: Any = _LazyCompute()


def to_numpy(data: pa.Array | pa.ChunkedArray, fill: Any = None) -> np.ndarray:
    """The values of a numeric or boolean Arrow array, nulls replaced by ``fill``.

    One chunk without nulls gives a read-only view of Arrow's buffer (as
    ``to_numpy()`` does); otherwise one new array. ``fill`` is required when there are
    nulls; the result has NumPy's type for values and fill together (integers filled with
    NaN become float64, as ``to_numpy(zero_copy_only=False)`` makes them).
    """
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    parts = []
    for chunk in chunks:
        values = _values(chunk)
        valid = validity(chunk)
        if valid is not None:
            if fill is None:
                raise ValueError(f"{chunk.null_count} null(s) and no fill value")
            values = np.where(valid, values, fill)
        parts.append(values)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else _values(pa.nulls(0, data.type))


def validity(chunk: pa.Array) -> np.ndarray | None:
    """Boolean mask of the non-null values of ``chunk``; ``None`` when none is null."""
    if not chunk.null_count:
        return None
    return _bits(chunk.buffers()[0], chunk.offset, len(chunk))


def from_numpy(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A 1-D numeric or boolean array as Arrow (zero-copy for numbers), null where
    ``valid`` is False. NaN stays a value, as with ``pa.array(values)``."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        arrow_type = pa.bool_()
    else:
        data = pa.py_buffer(values)
        arrow_type = pa.from_numpy_dtype(values.dtype)
    mask = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(arrow_type, values.shape[0], [mask, data])


def strings(items: Sequence[str], arrow_type: pa.DataType) -> pa.Array:
    """A short list of Python strings as an Arrow ``string`` or ``large_string`` array."""
    encoded = [item.encode("utf-8") for item in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    array = pa.Array.from_buffers(pa.large_string(), len(encoded),
                                  [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])
    return array if arrow_type == pa.large_string() else array.cast(arrow_type)


def null_scalar(arrow_type: pa.DataType) -> pa.Scalar:
    """``pa.scalar(None, arrow_type)``."""
    return pa.nulls(1, arrow_type)[0]


def _values(chunk: pa.Array) -> np.ndarray:
    arrow_type, n = chunk.type, len(chunk)
    if pa.types.is_boolean(arrow_type):
        return _bits(chunk.buffers()[1], chunk.offset, n)
    if not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
        raise TypeError(f"expected a numeric or boolean Arrow array, got {arrow_type}")
    dtype = np.dtype(arrow_type.to_pandas_dtype())
    if n == 0:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(chunk.buffers()[1], dtype=dtype, count=n,
                         offset=chunk.offset * dtype.itemsize)


def _bits(buffer: pa.Buffer | None, offset: int, n: int) -> np.ndarray:
    if n == 0:
        return np.empty(0, dtype=bool)
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, count=offset + n, bitorder="little")[offset:].view(bool)

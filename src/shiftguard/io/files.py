"""Files as Arrow tables: CSV/TSV (compressed or not), Parquet, Arrow IPC, JSON Lines."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from shiftguard.errors import ParameterError, ReadError
from shiftguard.io import buffers

_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".jsonl": "json",
    ".ndjson": "json",
}
_TEXT_FORMATS = ("csv", "tsv", "json")
#: Compression suffixes read transparently for the text formats (``.csv.gz``, ...).
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4"}
#: Delimiters detected in CSV/TXT files, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_QUOTED = re.compile(r'"(?:[^"]|"")*"', re.DOTALL)
_JSON_TYPE_CHANGE = re.compile(r"Column\((/[^)]*)\) changed from (\w+) to (\w+) in row (\d+)")


def read_file(
    path: Path,
    label: str,
    *,
    delimiter: str | None,
    encoding: str,
    missing_values: Sequence[str],
) -> tuple[pa.Table, bool]:
    """The Arrow table in ``path``, and whether it came from a text format (CSV, JSON).

    Raises
    ------
    ReadError
        The file is missing, of an unknown type, not valid in ``encoding`` or unreadable;
        the message names ``label`` and the file.
    ParameterError
        ``encoding`` or ``delimiter`` is not usable.
    """
    if not path.exists():
        raise ReadError(f"{label}: file not found: {path}")
    suffix = path.suffix.lower()
    compression = _COMPRESSIONS.get(suffix)
    if compression:
        suffix = Path(path.stem).suffix.lower()
    fmt = _FORMATS.get(suffix)
    text = fmt in _TEXT_FORMATS
    if fmt is None or (compression and not text):
        known = ", ".join(sorted(_FORMATS))
        raise ReadError(f"{label}: unknown file type {''.join(path.suffixes)!r} of {path}; use"
                        f" one of {known} (CSV, TSV and JSON Lines also compressed:"
                        f" {', '.join(sorted(_COMPRESSIONS))})")
    encoding = _codec_name(encoding)
    try:
        if fmt in ("csv", "tsv"):
            if delimiter is None:
                delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(path, compression, encoding)
            table = _read_csv(path, compression, delimiter, encoding, missing_values)
        elif fmt == "json":
            table = _read_json(path, compression, encoding)
        elif fmt == "parquet":
            table = _read_parquet(path)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(path)
        names = table.column_names  # decoded here: a header not in the encoding fails
    except UnicodeDecodeError:
        raise ReadError(_not_encoded(label, path, encoding, "")) from None
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(f"{label}: cannot read {path}: {_first_line(exc, fmt)}") from None
    if text:
        # Where the text is not valid in the encoding, the CSV reader returns bytes and the
        # JSON reader strings that are not UTF-8.
        for name, column in zip(names, table.columns, strict=True):
            if not _valid_text(column, check_utf8=fmt == "json"):
                raise ReadError(_not_encoded(label, path, encoding, name))
    return table, text


def _read_parquet(path: Path) -> pa.Table:
    """A Parquet file read column by column, without pre-buffering: the peak is the table
    plus one column's pages (``pq.read_table`` holds every column's compressed and decoded
    pages at once: 3.3x the table's size on 1,000,000 x 20 floats, against 1.5x here)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path, pre_buffer=False)
    schema = parquet.schema_arrow
    if len(set(schema.names)) != len(schema.names):
        return parquet.read()  # duplicate names: read whole, reported by the caller
    return pa.table([parquet.read(columns=[n]).column(0) for n in schema.names], schema=schema)


def _valid_text(column: pa.ChunkedArray, *, check_utf8: bool) -> bool:
    t = column.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return False
    if check_utf8 and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            return False
    return True


def _codec_name(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ParameterError(f"unknown encoding {encoding!r}; use e.g. 'utf-8' or 'latin-1'"
                             ) from None
    return "utf8" if name == "utf-8" else name


def _not_encoded(label: str, path: Path, encoding: str, column: str) -> str:
    where = f" (column {column!r})" if column else ""
    hint = "latin-1" if encoding == "utf8" else "utf-8"
    shown = "UTF-8" if encoding == "utf8" else encoding
    return (f"{label}: {path} is not valid {shown} text{where}; pass its encoding, e.g."
            f" encoding={hint!r} (CLI --encoding {hint})")


def _first_line(exc: BaseException, fmt: str) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    change = _JSON_TYPE_CHANGE.search(line)
    if fmt == "json" and change:
        column, old, new, row = change.groups()
        return (f"column {column[1:]!r} changes from {old} to {new} in row {row}; a JSON Lines"
                " column must hold one type (write such values as strings)")
    if "Expected" in line and "columns" in line:
        line += (" (rows differ in their number of fields: check the delimiter, pass"
                 " delimiter=, and that values holding line breaks are quoted)")
    return line


def _open(path: Path, compression: str | None) -> pa.NativeFile:
    return pa.input_stream(str(path), compression=compression)


def _sniff_delimiter(path: Path, compression: str | None, encoding: str) -> str:
    """The delimiter of the first few KB: the candidate found the same number of times, at
    least once, on the most lines (quoted text ignored); a comma when none is."""
    with _open(path, compression) as stream:
        head = stream.read(_SNIFF_BYTES)
    text = _QUOTED.sub('""', head.decode(encoding, errors="ignore"))
    lines = [line for line in text.splitlines() if line.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:100]
    best, best_score = ",", (0, 0)
    for candidate in DELIMITERS:
        counts = [line.count(candidate) for line in lines]
        if not counts or counts[0] == 0:
            continue
        score = (sum(c == counts[0] for c in counts), counts[0])
        if score > best_score:
            best, best_score = candidate, score
    return best


def _read_csv(
    path: Path,
    compression: str | None,
    delimiter: str,
    encoding: str,
    missing_values: Sequence[str],
) -> pa.Table:
    from pyarrow import csv

    if len(delimiter) != 1:
        raise ParameterError(f"delimiter must be one character, got {delimiter!r}")
    options = {
        "read_options": csv.ReadOptions(encoding=encoding),
        "parse_options": csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        "convert_options": csv.ConvertOptions(null_values=list(missing_values),
                                              strings_can_be_null=True),
    }
    try:
        # The streaming reader holds little more than the result (read_csv: 4-5 times
        # as much), but takes the column types from the first block ...
        with _open(path, compression) as stream:
            return _collect(csv.open_csv(stream, **options))
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc):
            raise
    # ... so a column with other values further down (a token, a decimal) is read again
    # with types inferred from every row.
    with _open(path, compression) as stream:
        return csv.read_csv(stream, **options)


def _read_json(path: Path, compression: str | None, encoding: str) -> pa.Table:
    from pyarrow import json

    with _open(path, compression) as stream:
        source = stream if encoding == "utf8" else pa.transcoding_input_stream(
            stream, encoding, "utf8")
        return json.read_json(source)


def _collect(reader: pa.RecordBatchReader) -> pa.Table:
    """The batches of ``reader`` as one table; numeric columns are copied batch by batch
    into NumPy buffers that grow in place, so that the read holds about one copy of the
    data (Arrow's freed batches would otherwise stay in its allocator's pages)."""
    schema = reader.schema
    numeric = {i for i, f in enumerate(schema)
               if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)}
    buffers = {i: _GrowingColumn(schema.field(i).type.to_pandas_dtype()) for i in numeric}
    chunks: dict[int, list[pa.Array]] = {i: [] for i in range(len(schema)) if i not in numeric}
    for batch in reader:
        for i, column in enumerate(batch.columns):
            if i in numeric:
                buffers[i].append(column)
            else:
                chunks[i].append(column)
    columns = [buffers[i].finish() if i in numeric else pa.chunked_array(chunks[i], f.type)
               for i, f in enumerate(schema)]
    return pa.Table.from_arrays(columns, schema=schema)


class _GrowingColumn:
    """Values of one numeric column in a NumPy buffer resized in place (``realloc``)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.values = np.empty(1 << 16, dtype=dtype)
        self.valid: np.ndarray | None = None
        self.size = 0

    def append(self, chunk: pa.Array) -> None:
        end = self.size + len(chunk)
        if end > self.values.shape[0]:
            # resize zero-fills the new part, so a modest factor keeps the slack small
            capacity = max(end, self.values.shape[0] * 5 // 4)
            self.values.resize(capacity, refcheck=False)
            if self.valid is not None:
                self.valid.resize(capacity, refcheck=False)
        floating = pa.types.is_floating(chunk.type)
        valid = buffers.validity(chunk)
        if valid is not None and self.valid is None and not floating:
            self.valid = np.ones(self.values.shape[0], dtype=bool)
        if self.valid is not None:
            self.valid[self.size:end] = True if valid is None else valid
        # Missing floats are NaN (as they end up anyway), so the column needs no mask.
        self.values[self.size:end] = buffers.to_numpy(chunk, fill=np.nan if floating else 0)
        self.size = end

    def finish(self) -> pa.Array:
        self.values.resize(self.size, refcheck=False)
        if self.valid is None:
            return buffers.from_numpy(self.values)  # zero-copy
        self.valid.resize(self.size, refcheck=False)
        return buffers.from_numpy(self.values, valid=self.valid)

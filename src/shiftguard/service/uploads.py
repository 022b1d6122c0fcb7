"""Uploaded tables: the format from the content type or file name, then
:mod:`shiftguard.io`'s readers, exactly as the CLI reads files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa

from shiftguard.errors import InputError, ReadError
from shiftguard.io import DEFAULT_MISSING_VALUES
from shiftguard.io.files import read_file

#: Content types accepted for a raw body, and the file suffix the reader then uses.
CONTENT_TYPES = {
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/vnd.apache.parquet": ".parquet",
    "application/x-parquet": ".parquet",
    "application/vnd.apache.arrow.file": ".arrow",
    "application/vnd.apache.arrow.stream": ".arrows",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/json-lines": ".jsonl",
}
_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".arrow", ".feather", ".ipc",
             ".jsonl", ".ndjson")
_COMPRESSIONS = (".gz", ".bz2", ".zst")


def suffix_of(content_type: str | None, filename: str | None = None) -> str | None:
    """The reader's file suffix for an upload: from the file name when it has a known
    one (``.csv.gz`` included), else from the content type; ``None`` when neither tells."""
    if filename:
        path = Path(filename.lower())
        if path.suffix in _COMPRESSIONS and Path(path.stem).suffix in _SUFFIXES:
            return Path(path.stem).suffix + path.suffix
        if path.suffix in _SUFFIXES:
            return path.suffix
    media = (content_type or "").split(";")[0].strip().lower()
    return CONTENT_TYPES.get(media)


def read_upload(data: bytes, suffix: str, label: str) -> pa.Table:
    """The Arrow table in ``data``, read as a file ending in ``suffix``.

    Raises
    ------
    InputError
        ``data`` is empty, or the table has no rows or no columns.
    ReadError
        The bytes are not a readable file of that format (the reason is in the message).
    """
    if not data:
        raise InputError(f"{label}: the upload is empty (0 bytes)")
    if suffix == ".arrows":
        try:
            table = pa.ipc.open_stream(pa.BufferReader(data)).read_all()
        except pa.ArrowException as exc:
            raise ReadError(f"{label}: not an Arrow IPC stream: {exc}") from None
    else:
        fd, name = tempfile.mkstemp(suffix=suffix, prefix="shiftguard-upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            table, _ = read_file(Path(name), label, delimiter=None, encoding="utf-8",
                                 missing_values=DEFAULT_MISSING_VALUES)
        except ReadError as exc:
            # The temporary file's name means nothing to the client.
            raise ReadError(str(exc).replace(f" of {name}", "").replace(f" {name}", "")) \
                from None
        finally:
            os.unlink(name)
    if table.num_columns == 0:
        raise InputError(f"{label} has no columns")
    if table.num_rows == 0:
        raise InputError(f"{label} is empty (0 rows)")
    return table

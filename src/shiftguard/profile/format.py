"""The ``.sgprofile`` file: one profile in one self-describing file.

Layout (all integers little-endian)::

    offset 0   magic      10 bytes  b"SGPROFILE\\n"
    offset 10  version    uint32    FORMAT_VERSION (a reader refuses any other)
    offset 14  length     uint64    L, the header's length in bytes
    offset 22  checksum   uint32    CRC-32 of the header and the blob section together
    offset 26  header     L bytes   UTF-8 JSON (below)
    offset 26+L blobs     the binary parts, back to back

The JSON header holds ``n_rows``, ``settings`` (:class:`ProfileSettings` fields) and
``columns``: one object per column with its ``type`` (``numeric``, ``categorical``,
``other``), its scalar fields, exact category counts as a list of ``[label, count]`` pairs
(order kept), and, for each binary part, ``[offset, length]`` into the blob section:
``values`` (float64 sorted values), ``edges`` (float64), ``counts`` (int64), ``low`` and
``high`` (float64) of the bins, and the DataSketches serialisations ``kll``,
``tail_low`` and ``tail_high`` (an unbinned sketched column's REQ sketches of its tails),
``frequent`` and ``hll`` (the library's own, portable, binary formats). NaN and
infinities in scalar fields are written as ``null``.

The format knows nothing of the service or the CLI; a profile written by one version of
shiftguard is read by any version with the same ``FORMAT_VERSION``. Version 2 added the
tail sketches (and ``tail_k`` to the settings); version 1 files are refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from shiftguard.errors import ReadError, StateError
from shiftguard.profile._bins import Bins
from shiftguard.profile.profile import (
    CategoricalProfile,
    NumericProfile,
    OtherProfile,
    Profile,
    ProfileSettings,
)

MAGIC = b"SGPROFILE\n"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<10sIQI")
_NUMERIC_SCALARS = ("name", "kind", "n_rows", "n_missing", "n_non_numeric", "count", "minimum",
                    "maximum", "mean", "m2")


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write ``profile`` to ``path`` (conventionally ``*.sgprofile``), part by part: the
    arrays are written from their own memory, never copied into one buffer."""
    prefix, header, blobs = _encode(profile)
    with Path(path).open("wb") as out:
        out.write(prefix)
        out.write(header)
        for blob in blobs:
            out.write(blob)


def load_profile(path: str | Path) -> Profile:
    """Read a profile written by :func:`save_profile`.

    Raises
    ------
    ReadError
        The file does not exist or cannot be read.
    StateError
        It is not a profile, was written by another format version, or is corrupted.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read profile {path}: {exc.strerror or exc}") from None
    return profile_from_bytes(data, str(path))


def profile_to_bytes(profile: Profile) -> bytes:
    """The ``.sgprofile`` bytes of ``profile``."""
    prefix, header, blobs = _encode(profile)
    return b"".join([prefix, header, *blobs])


def _encode(profile: Profile) -> tuple[bytes, bytes, list[Any]]:
    """The fixed prefix, the JSON header and the blobs (bytes or array views) of a file."""
    blobs: list[Any] = []
    size = 0

    def put(data: Any) -> list[int]:
        nonlocal size
        view = memoryview(data).cast("B")
        blobs.append(view)
        size += view.nbytes
        return [size - view.nbytes, view.nbytes]

    def array(values: np.ndarray, dtype: str) -> list[int]:
        return put(np.ascontiguousarray(values, dtype=dtype))

    columns = []
    for col in profile.columns:
        if isinstance(col, NumericProfile):
            entry: dict[str, Any] = {"type": "numeric"}
            entry.update({k: _scalar(getattr(col, k)) for k in _NUMERIC_SCALARS})
            if col.values is not None:
                entry["values"] = array(col.values, "<f8")
            else:
                entry["kll"] = put(col.sketch.serialize())
            if col.tails is not None:
                entry["tail_low"], entry["tail_high"] = (put(t.serialize()) for t in col.tails)
            if col.edges is not None and col.bins is not None:
                entry["edges"] = array(col.edges, "<f8")
                entry["counts"] = array(col.bins.counts, "<i8")
                entry["low"] = array(col.bins.low, "<f8")
                entry["high"] = array(col.bins.high, "<f8")
        elif isinstance(col, CategoricalProfile):
            entry = {"type": "categorical", "name": col.name, "n_rows": col.n_rows,
                     "n_missing": col.n_missing, "count": col.count}
            if col.counts is not None:
                entry["counts"] = [[label, k] for label, k in col.counts.items()]
            else:
                entry["frequent"] = put(col.frequent.serialize())
                entry["hll"] = put(col.hll.serialize_compact())
        else:
            entry = {"type": "other", **dataclasses.asdict(col)}
        columns.append(entry)
    header = json.dumps({"n_rows": profile.n_rows,
                         "settings": dataclasses.asdict(profile.settings),
                         "columns": columns}, allow_nan=False).encode()
    checksum = zlib.crc32(header)
    for blob in blobs:
        checksum = zlib.crc32(blob, checksum)
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), checksum), header, blobs


def profile_from_bytes(data: bytes, source: str = "profile") -> Profile:
    """The profile in ``.sgprofile`` bytes (see the module docstring for the errors)."""
    if len(data) < _PREFIX.size or data[:len(MAGIC)] != MAGIC:
        raise StateError(f"{source} is not a shiftguard profile (no SGPROFILE header)")
    _, version, length, checksum = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise StateError(f"{source} is a profile of format version {version}; this shiftguard "
                         f"reads version {FORMAT_VERSION}")
    header = data[_PREFIX.size:_PREFIX.size + length]
    blobs = memoryview(data)[_PREFIX.size + length:]
    if len(header) != length or zlib.crc32(blobs, zlib.crc32(header)) != checksum:
        raise StateError(f"{source} is corrupted (checksum mismatch or truncated)")
    try:
        meta = json.loads(header)
        settings = ProfileSettings(**meta["settings"])
        columns = tuple(_column(entry, blobs) for entry in meta["columns"])
        return Profile(columns=columns, n_rows=int(meta["n_rows"]), settings=settings)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise StateError(f"{source} holds an invalid profile ({type(exc).__name__}: "
                         f"{exc})") from None


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _column(entry: dict[str, Any], blobs: memoryview) -> Any:
    def blob(key: str) -> bytes:
        start, size = entry[key]
        if start < 0 or start + size > len(blobs):
            raise ValueError(f"blob {key!r} lies outside the file")
        return bytes(blobs[start:start + size])

    def array(key: str, dtype: str) -> np.ndarray:
        return np.frombuffer(blob(key), dtype=dtype).astype(dtype[1:])

    kind = entry["type"]
    if kind == "numeric":
        from datasketches import kll_doubles_sketch, req_floats_sketch

        scalars = {k: entry[k] for k in _NUMERIC_SCALARS}
        for k in ("minimum", "maximum", "mean", "m2"):
            scalars[k] = _float(scalars[k])
        bins = None
        if "edges" in entry:
            bins = Bins(array("counts", "<i8"), array("low", "<f8"), array("high", "<f8"))
        return NumericProfile(
            **scalars,
            values=array("values", "<f8") if "values" in entry else None,
            sketch=kll_doubles_sketch.deserialize(blob("kll")) if "kll" in entry else None,
            edges=array("edges", "<f8") if "edges" in entry else None, bins=bins,
            tails=(tuple(req_floats_sketch.deserialize(blob(k))
                         for k in ("tail_low", "tail_high")) if "tail_low" in entry else None),
        )
    if kind == "categorical":
        common = {k: entry[k] for k in ("name", "n_rows", "n_missing", "count")}
        if "counts" in entry:
            return CategoricalProfile(**common, counts={str(k): int(v)
                                                        for k, v in entry["counts"]})
        from datasketches import frequent_strings_sketch, hll_sketch

        return CategoricalProfile(**common,
                                  frequent=frequent_strings_sketch.deserialize(blob("frequent")),
                                  hll=hll_sketch.deserialize(blob("hll")))
    if kind == "other":
        return OtherProfile(**{k: v for k, v in entry.items() if k != "type"})
    raise ValueError(f"unknown column type {kind!r}")

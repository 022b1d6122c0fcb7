"""Dask DataFrames: profiles built per partition and merged in a tree reduction.

Each partition is read by :func:`~shiftguard.io.read_table` with column kinds fixed on the
first partition, profiled (or binned, or searched for the values of a few bins) on the
workers, and the partial results are merged pairwise in a balanced tree of
``dask.delayed`` tasks, so that the client only ever holds one profile. Requires the
``dask`` extra (``pip install shiftguard[dask]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shiftguard.errors import InputError
from shiftguard.io import Table, read_table

#: pandas' names for object columns holding values of several Python types.
_MIXED = ("mixed", "mixed-integer", "mixed-integer-float")
_KIND_ROWS = 65_536


class DaskSource:
    """A Dask DataFrame as a :class:`~shiftguard.profile._sources.Source`.

    Parameters
    ----------
    frame
        A ``dask.dataframe.DataFrame``.
    kinds, columns, exclude, label
        As in :func:`~shiftguard.io.read_table`; kinds not given are inferred on the first
        partition and fixed for every partition.
    check_divisions
        Refuse a frame with unknown divisions (default). Unknown divisions are what
        concatenating or re-reading overlapping pieces leaves, and a profile is merged by
        adding counts, so rows present twice would be counted twice without a trace.

    Raises
    ------
    InputError
        Not a Dask DataFrame, unknown divisions, or (while running) an object column
        holding values of mixed Python types in some partition.
    """

    def __init__(self, frame: Any, *, kinds: Mapping[str, str] | None = None,
                 columns: Sequence[str] | None = None, exclude: Sequence[str] = (),
                 label: str = "data", check_divisions: bool = True) -> None:
        import dask.dataframe as dd

        if not isinstance(frame, dd.DataFrame):
            raise InputError(f"{label} must be a dask.dataframe.DataFrame, got "
                             f"{type(frame).__name__}")
        if check_divisions and not frame.known_divisions:
            raise InputError(
                f"{label} is a Dask DataFrame with unknown divisions: rows of overlapping "
                "partitions would be counted twice without a trace; set a sorted index "
                "(frame.set_index(...)) or pass check_divisions=False if the partitions are "
                "known to be disjoint")
        if frame.npartitions == 0:
            raise InputError(f"{label} has no partitions")
        names = [str(c) for c in frame.columns]
        keep = [c for c in (columns if columns is not None else names) if c not in set(exclude)]
        unknown = [c for c in keep if c not in names]
        if unknown:
            raise InputError(f"{label} has no column(s) {', '.join(map(repr, unknown))}")
        self.frame = frame[keep]
        self.label = label
        # kinds from the first rows (as the first batch of a Parquet dataset)
        first = _read(self.frame.head(_KIND_ROWS, npartitions=-1), kinds, label)
        self.kinds = first.kinds

    def run(self, op: Any, combine: Any) -> Any:
        from dask import delayed

        kinds, label = self.kinds, self.label
        level = [delayed(_apply)(part, op, kinds, label) for part in self.frame.to_delayed()]
        while len(level) > 1:
            level = [delayed(_combine)(combine, *level[i:i + 2]) if i + 1 < len(level)
                     else level[i] for i in range(0, len(level), 2)]
        result = level[0].compute()
        if result is None:
            raise InputError(f"{self.label} is empty (0 rows)")
        return result


def _read(frame: Any, kinds: Mapping[str, str] | None, label: str) -> Table:
    """One partition as a Table, after refusing object columns of mixed Python types."""
    import pandas as pd

    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _MIXED:
            raise InputError(f"in {label} holds values of mixed Python types (e.g. numbers "
                             "and strings); convert the column to one type first", str(name))
    return read_table(frame, kinds=kinds, label=label)


def _apply(frame: Any, op: Any, kinds: Mapping[str, str], label: str) -> Any:
    """``op`` of one partition; ``None`` for an empty one."""
    return op(_read(frame, kinds, label)) if len(frame) else None


def _combine(combine: Any, a: Any, b: Any) -> Any:
    return a if b is None else b if a is None else combine(a, b)

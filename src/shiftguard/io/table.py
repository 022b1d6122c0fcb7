"""The validated table: :class:`Column`, :class:`Table` and schema comparison."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard.errors import SchemaError

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("numeric", "categorical", "text", "datetime", "identifier")


@dataclasses.dataclass(frozen=True, eq=False)
class Column:
    """One validated column.

    Attributes
    ----------
    name
        Column name.
    kind
        One of :data:`KINDS`: ``"numeric"``, ``"categorical"``, ``"text"``, ``"datetime"``
        or ``"identifier"``.
    values
        numeric: float64 array with NaN for missing; datetime: float64 seconds since the
        epoch (UTC; times of day: seconds since midnight) with NaN for missing;
        categorical: int32 codes into ``categories`` with -1 for missing; text and
        identifier: object array of ``str`` with ``None`` for missing.
    categories
        Labels of a categorical column (empty for the other kinds).
    n_missing
        Number of missing values.
    inferred
        How the kind was decided, in a few words for the report (``"user"`` when set
        through ``kinds=``).
    n_non_numeric, non_numeric_tokens
        Numeric and datetime columns read from strings: values that are neither numbers
        (dates) nor missing tokens (they are NaN in ``values`` but not counted in
        ``n_missing``), and the distinct such tokens, most frequent first (at most 20).
    raw
        Numeric and datetime columns read from strings: those strings (missing tokens as
        null), so that re-typing the column (``kinds=`` on a :class:`Table`) starts from
        what was written, tokens included; ``None`` for other columns.
    """

    name: str
    kind: str
    values: np.ndarray
    categories: tuple[str, ...]
    n_missing: int
    inferred: str = ""
    n_non_numeric: int = 0
    non_numeric_tokens: tuple[str, ...] = ()
    raw: pa.ChunkedArray | None = dataclasses.field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def observed(self) -> np.ndarray:
        """The non-missing values (floats, categorical codes, or strings by kind).

        Non-numeric tokens of numeric and datetime columns are not observed values.
        """
        if self.kind in ("numeric", "datetime"):
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

    # Computed once per table (cached in the instance dict, which a frozen dataclass
    # allows): wide tables look columns up by name tens of thousands of times.
    @functools.cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @functools.cached_property
    def _by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        return {c.name: j for j, c in enumerate(self.columns)}

    @property
    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def position(self, name: str) -> int:
        """Position of the column ``name`` (``KeyError`` if there is none)."""
        return self._positions[name]

    def __getitem__(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(name) from None


@dataclasses.dataclass(frozen=True)
class SchemaDiff(ResultMixin):
    """How two tables' columns differ (empty tuples mean they agree)."""

    missing: tuple[str, ...]
    extra: tuple[str, ...]
    kind_mismatch: tuple[tuple[str, str, str], ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.kind_mismatch)


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

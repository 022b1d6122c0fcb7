"""Tables in: files and data frames become validated, typed columns.

Every input -- a CSV/TSV (also ``.gz``, ``.bz2``, ``.zst``), Parquet, Arrow IPC/Feather or
JSON Lines file, a pandas or polars DataFrame, a PyArrow table, a NumPy array or a mapping
of column name to values -- is first turned into a PyArrow table, and from there into a
:class:`Table` of :class:`Column` objects of one of five kinds:

``numeric``
    float64 values, missing values as NaN (integers, floats, decimals, durations, and
    strings that are numbers -- possibly with a few tokens such as ``"unknown"``, which
    are NaN too but counted in ``n_non_numeric``, not as missing).
``datetime``
    float64 seconds since the epoch (UTC), NaN for missing: native timestamps and dates,
    and strings in ISO-8601 form (``2013-01-01``, ``2013-01-01 06:00:00``,
    ``2012-12-23T17:38:18Z``, with zones converted); times of day as seconds since
    midnight.
``categorical``
    integer codes into a tuple of category labels, ``-1`` for missing (strings, booleans,
    dictionary-encoded columns).
``text``
    free text, a NumPy object array of ``str`` with ``None`` for missing (string columns
    whose values are long and mostly distinct).
``identifier``
    the same object array, for columns that cannot be tested as distributions: short
    near-unique strings (IDs, license numbers), integers beyond 2^53 (tweet ids, exact as
    strings) and consecutive runs of integers (row numbers).

How each column's kind was decided is in ``Column.inferred``; the rules and thresholds are
in :mod:`shiftguard.io.kinds`. The usual missing-value tokens (:data:`DEFAULT_MISSING_VALUES`)
are missing in every format, so a CSV and a Parquet copy of one table read the same.

Missing values are counted per column and never dropped silently: the drift code tests
their rate for change, and a column without any observed value is returned (its kind from
its type) for the drift code to report. Infinite values, an empty table and a table
without columns raise :class:`~shiftguard.errors.InputError` naming the table and column.
"""

from shiftguard.io.kinds import (
    DEFAULT_MISSING_VALUES,
    IDENTIFIER_MIN_COUNT,
    IDENTIFIER_MIN_DISTINCT_SHARE,
    MAX_TOKENS,
    PARSED_MIN_SHARE,
    SAMPLE_SIZE,
    TEXT_MIN_DISTINCT_SHARE,
    TEXT_MIN_MEAN_LENGTH,
)
from shiftguard.io.read import read_table
from shiftguard.io.table import KINDS, Column, SchemaDiff, Table, check_schema, compare_schemas

__all__ = [
    "DEFAULT_MISSING_VALUES",
    "IDENTIFIER_MIN_COUNT",
    "IDENTIFIER_MIN_DISTINCT_SHARE",
    "KINDS",
    "MAX_TOKENS",
    "PARSED_MIN_SHARE",
    "SAMPLE_SIZE",
    "TEXT_MIN_DISTINCT_SHARE",
    "TEXT_MIN_MEAN_LENGTH",
    "Column",
    "SchemaDiff",
    "Table",
    "check_schema",
    "compare_schemas",
    "read_table",
]

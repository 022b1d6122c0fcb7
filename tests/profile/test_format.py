"""The .sgprofile file: round trips, and typed errors for anything else."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pandas as pd
import pytest

import shiftguard as sg
from shiftguard.profile import FORMAT_VERSION, ProfileSettings, load_profile, profile_table
from shiftguard.profile.format import MAGIC, profile_from_bytes, profile_to_bytes


@pytest.fixture
def profile(rng):
    n = 2000
    data = pd.DataFrame({
        "small": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "big": rng.exponential(size=n),
        "cat": rng.choice(["a", "b", "c"], n),
        "many": rng.choice([f"id{i}" for i in range(100)], n),
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
    })
    settings = ProfileSettings(exact_threshold=1900, max_categories=20, kll_k=64)
    return profile_table(data, settings=settings)


def test_round_trip_keeps_every_part(profile, tmp_path):
    path = tmp_path / "ref.sgprofile"
    sg.save_profile(profile, path)
    again = load_profile(path)
    assert again.settings == profile.settings and again.n_rows == profile.n_rows
    assert again.kinds == profile.kinds
    small, big = again["small"], again["big"]
    assert np.array_equal(small.values, profile["small"].values)
    assert small.n_missing == profile["small"].n_missing
    assert big.sketch.n == 2000 and not big.exact
    assert np.array_equal(big.sketch.get_quantiles([0.1, 0.5, 0.9]),
                          profile["big"].sketch.get_quantiles([0.1, 0.5, 0.9]))
    assert np.array_equal(big.edges, profile["big"].edges)
    assert np.array_equal(big.bins.counts, profile["big"].bins.counts)
    assert big.tails is None  # binned: the edges are fixed, the tail sketches dropped
    assert again["cat"].counts == profile["cat"].counts
    assert list(again["cat"].counts) == list(profile["cat"].counts)
    many = again["many"]
    assert not many.exact and many.frequent.total_weight == 2000
    assert many.hll.get_estimate() == profile["many"].hll.get_estimate()
    for label in ("id0", "id7", "id99", "absent"):
        assert many.frequent.get_estimate(label) == profile["many"].frequent.get_estimate(label)
        assert many.frequent.get_upper_bound(label) == profile["many"].frequent.get_upper_bound(
            label)
    assert again["when"].kind == "datetime"


def test_an_unbinned_sketched_column_keeps_its_tail_sketches(rng):
    from shiftguard.io import read_table
    from shiftguard.profile.profile import profile_batch, quantile_edges

    settings = ProfileSettings(exact_threshold=100, kll_k=32)
    col = profile_batch(read_table({"x": rng.standard_t(3, 5000)}), settings)["x"]
    again = profile_from_bytes(profile_to_bytes(profile_table({"x": [0.0]})))["x"]
    assert again.tails is None and col.tails is not None and col.bins is None
    again = profile_from_bytes(profile_to_bytes(dataclasses.replace(
        profile_table({"x": [0.0]}), columns=(col,))))["x"]
    for mine, theirs in zip(again.tails, col.tails, strict=True):
        assert (mine.n, mine.is_hra()) == (theirs.n, theirs.is_hra()) and mine.n > 0
        assert mine.get_quantiles([0.01, 0.99]) == theirs.get_quantiles([0.01, 0.99])
    assert np.array_equal(quantile_edges(again, 64), quantile_edges(col, 64))


def test_the_header_names_magic_and_version(profile):
    data = profile_to_bytes(profile)
    assert data.startswith(MAGIC)
    assert struct.unpack_from("<I", data, len(MAGIC))[0] == FORMAT_VERSION


def test_corrupted_truncated_foreign_and_other_version_files_raise_state_error(profile):
    data = bytearray(profile_to_bytes(profile))
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    with pytest.raises(sg.StateError, match="corrupted"):
        profile_from_bytes(bytes(flipped))
    with pytest.raises(sg.StateError, match="corrupted"):
        profile_from_bytes(bytes(data[:-10]))
    with pytest.raises(sg.StateError, match="not a shiftguard profile"):
        profile_from_bytes(b"PAR1" + bytes(data[4:]))
    for version in (1, FORMAT_VERSION + 1):  # 1: no tail sketches
        other = bytearray(data)
        struct.pack_into("<I", other, len(MAGIC), version)
        with pytest.raises(sg.StateError, match=f"format version {version}"):
            profile_from_bytes(bytes(other))


def test_a_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(sg.ReadError, match="cannot read profile"):
        load_profile(tmp_path / "nothing.sgprofile")

"""Parquet datasets streamed batch by batch give the in-memory profile and report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shiftguard as sg
from shiftguard.profile import ProfileSettings, profile_table
from shiftguard.profile.stream import DatasetSource, is_dataset_path


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "a": rng.normal(shift, 1.0, n),
        "b": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 9, n)),
        "c": rng.choice(["x", "y", "z"], n),
        "d": pd.date_range("2020-01-01", periods=n, freq="min"),
    })


def _write(frame: pd.DataFrame, folder, n_files: int) -> None:
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), n_files)):
        frame.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)


def _state(profile) -> list:
    out = []
    for col in profile.columns:
        values = col.counts if col.kind == "categorical" else (
            col.values.tolist() if col.exact else (col.sketch.n, col.bins.counts.tolist()))
        out.append((col.name, col.kind, col.n_rows, col.n_missing, values))
    return out


def test_a_multi_file_dataset_in_small_batches_gives_the_in_memory_profile(rng, tmp_path):
    data = _frame(rng, 5000)
    _write(data, tmp_path / "ref", 4)
    for settings in (ProfileSettings(), ProfileSettings(exact_threshold=1000, kll_k=64)):
        streamed = profile_table(tmp_path / "ref", batch_size=700, settings=settings)
        globbed = profile_table(str(tmp_path / "ref" / "*.parquet"), batch_size=700,
                                settings=settings)
        in_memory = profile_table(data, settings=settings)
        assert streamed.n_rows == 5000
        if settings.exact_threshold > 5000:
            assert _state(streamed) == _state(globbed) == _state(in_memory)
        else:  # edges come from KLL sketches (randomised): compare what is exact
            assert [s[:4] for s in _state(streamed)] == [s[:4] for s in _state(in_memory)]
            assert streamed["a"].bins.counts.sum() == 5000


def test_compare_streams_both_sides_with_the_in_memory_verdicts(rng, tmp_path):
    ref, cur = _frame(rng, 4000), _frame(rng, 3000, 0.1)
    _write(ref, tmp_path / "ref", 3)
    _write(cur, tmp_path / "cur", 2)
    got = sg.compare(tmp_path / "ref", str(tmp_path / "cur" / "*.parquet"), batch_size=512)
    expected = sg.compare(ref, cur, multivariate="none")
    for a, b in zip(got.columns, expected.columns, strict=True):
        assert (a.name, a.pvalue, a.pvalue_adjusted, a.drifted) == (
            b.name, b.pvalue, b.pvalue_adjusted, b.drifted)


def test_refinement_reads_the_dataset_again(rng, tmp_path):
    ref, cur = _frame(rng, 6000), _frame(rng, 5000, 0.05)
    _write(ref, tmp_path / "ref", 3)
    _write(cur, tmp_path / "cur", 2)
    from shiftguard.profile.compare import compare_profiles

    report = compare_profiles(tmp_path / "ref", tmp_path / "cur", batch_size=1000,
                              settings=ProfileSettings(exact_threshold=500, n_bins=8))
    exact = sg.ks_test(ref["a"], cur["a"])
    col = report.column("a")
    assert col.notes[0].startswith(("refined", "bounded"))
    assert col.drifted == sg.compare(ref, cur, multivariate="none").column("a").drifted
    if col.notes[0].startswith("refined"):
        assert col.statistic == pytest.approx(exact.statistic, abs=1e-12)


def test_kinds_are_fixed_on_the_first_batch_and_the_bar_stays_off_the_pipe(rng, tmp_path,
                                                                             capsys):
    data = pd.DataFrame({"z": [str(i) for i in range(300)]})
    _write(data, tmp_path / "ref", 2)
    source = DatasetSource(tmp_path / "ref", kinds={"z": "categorical"}, batch_size=50)
    assert source.kinds == {"z": "categorical"} and source.n_rows == 300
    assert sum(t.n_rows for t in source.tables()) == 300
    assert capsys.readouterr().err == ""
    assert is_dataset_path(tmp_path / "ref") and not is_dataset_path(tmp_path / "nothing")


def test_a_single_parquet_file_is_streamed_too(rng, tmp_path):
    data = _frame(rng, 3000)
    data.to_parquet(tmp_path / "one.parquet", index=False)
    streamed = profile_table(tmp_path / "one.parquet", batch_size=500)
    assert _state(streamed) == _state(profile_table(data))


def test_an_empty_glob_is_a_read_error(tmp_path):
    with pytest.raises(sg.ReadError, match="no Parquet files"):
        profile_table(str(tmp_path / "*.parquet"))

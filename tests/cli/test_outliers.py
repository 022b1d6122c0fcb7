"""``shiftguard outliers REFERENCE NEW``: exit codes and JSON on real data, one-line input
errors (exit 2)."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers import one_error_line
from shiftguard.cli import main


@pytest.fixture
def cardio_files(tmp_path):
    """Real ADBench cardio: two thirds of the inliers as the reference (Parquet); the rest
    of the inliers alone, and with every anomaly appended (CSV)."""
    from helpers import load_adbench

    X, y = load_adbench("6_cardio")
    inliers = np.random.default_rng(0).permutation(np.flatnonzero(y == 0))
    cut = inliers.size * 2 // 3
    cols = [f"f{i}" for i in range(X.shape[1])]
    paths = {"ref": tmp_path / "ref.parquet", "pure": tmp_path / "pure.csv",
             "mixed": tmp_path / "mixed.csv"}
    pd.DataFrame(X[inliers[:cut]], columns=cols).to_parquet(paths["ref"])
    pd.DataFrame(X[inliers[cut:]], columns=cols).to_csv(paths["pure"], index=False)
    pd.DataFrame(np.vstack([X[inliers[cut:]], X[y == 1]]), columns=cols).to_csv(
        paths["mixed"], index=False)
    return {k: str(v) for k, v in paths.items()}, inliers.size - cut


def test_outliers_exit_1_and_the_anomalies_dominate_on_real_cardio(cardio_files, tmp_path,
                                                                   capsys):
    paths, n_inliers = cardio_files
    report = tmp_path / "out.html"
    code = main(["outliers", paths["ref"], paths["mixed"], "--format", "json",
                 "--report", str(report)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["method"] == "bh" and out["fdr"] == 0.1
    rows = np.array([r["row"] for r in out["flagged"]])
    assert rows.size >= 60 and np.mean(rows >= n_inliers) >= 0.8
    assert len(out["flagged"][0]["top_features"]) == 3
    assert "<svg" in report.read_text(encoding="utf-8")
    assert main(["outliers", paths["ref"], paths["mixed"], "--alpha", "0.01",
                 "--detector", "mahalanobis", "--top-features", "2"]) == 1
    text = capsys.readouterr().out
    assert "OUTLIERS: " in text and "alpha 0.01" in text and "score >" in text


def test_outliers_exit_0_on_pure_inliers(cardio_files, capsys):
    paths, n_inliers = cardio_files
    assert main(["outliers", paths["ref"], paths["pure"]]) == 0
    assert f"NO OUTLIERS: 0 of {n_inliers} new rows flagged" in capsys.readouterr().out
    code = main(["outliers", paths["ref"], paths["pure"], "--alpha", "0.05", "--format",
                 "json"])
    flagged = json.loads(capsys.readouterr().out)["n_flagged"]
    assert code == (1 if flagged else 0)
    assert flagged / n_inliers <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n_inliers)


@pytest.mark.parametrize(("make_new", "extra", "message"), [
    (lambda df: df.drop(columns="b"), [], "lacks reference column(s) 'b'"),
    (lambda df: df, ["--alpha", "0.001"], "at least 999 are needed"),
    (lambda df: df, ["--alpha", "0.01", "--calibration-size", "20"], "at least 99 are needed"),
    (lambda df: df, ["--alpha", "0.1", "--fdr", "0.1"], "not allowed with argument"),
    (lambda df: df, ["--detector", "lof"], "invalid choice"),
])
def test_outliers_bad_inputs_exit_2_with_one_line(tmp_path, capsys, rng, make_new, extra,
                                                  message):
    ref = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    make_new(ref.head(20)).to_csv(tmp_path / "new.csv", index=False)
    try:
        code = main(["outliers", str(tmp_path / "ref.csv"), str(tmp_path / "new.csv"), *extra])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    assert code == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_outliers_nan_only_table_exits_2(tmp_path, capsys):
    (tmp_path / "ref.csv").write_text("a,b\n" + "NA,\n" * 100)
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    assert main(["outliers", str(tmp_path / "ref.csv"), str(tmp_path / "new.csv")]) == 2
    assert "no column can be scored" in one_error_line(capsys.readouterr().err)


"""outliers(): tables -> calibrated outlier decisions with per-feature explanations."""

import numpy as np
import pandas as pd
import pytest

from helpers import load_adbench
from shiftguard.errors import InputError, ParameterError, SchemaError
from shiftguard.ood.calibrate import conformal_pvalues
from shiftguard.ood.ecod import ECOD
from shiftguard.ood.tables import DETECTORS, OutlierReport, outliers


def _cardio_split(seed: int = 0):
    """Two thirds of cardio's inliers as the reference; the rest, then every anomaly."""
    X, y = load_adbench("6_cardio")
    inliers = np.random.default_rng(seed).permutation(np.flatnonzero(y == 0))
    cut = inliers.size * 2 // 3
    cols = [f"f{i}" for i in range(X.shape[1])]
    ref = pd.DataFrame(X[inliers[:cut]], columns=cols)
    new = pd.DataFrame(np.vstack([X[inliers[cut:]], X[y == 1]]), columns=cols)
    return ref, new, inliers.size - cut


@pytest.mark.parametrize("detector", ["ecod", "mahalanobis", "iforest"])
def test_anomalies_dominate_the_flagged_rows_on_real_cardio(detector):
    ref, new, n_inliers = _cardio_split()
    report = outliers(ref, new, detector=detector, alpha=0.01)
    rows = np.array([r.row for r in report.flagged])
    # cardio: 176 anomalies among 728 new rows; each inlier flagged with prob <= 1%.
    assert report.n_flagged >= 25
    assert np.mean(rows >= n_inliers) >= 0.8
    assert np.count_nonzero(rows < n_inliers) <= 0.01 * n_inliers + 3 * np.sqrt(0.01 * n_inliers)


def test_default_is_bh_at_fdr_01_and_false_discoveries_stay_near_it():
    ref, new, n_inliers = _cardio_split()
    report = outliers(ref, new)
    rows = np.array([r.row for r in report.flagged])
    assert report.method == "bh" and report.fdr == 0.1
    assert report.n_flagged >= 60 and np.mean(rows < n_inliers) <= 0.2
    assert any("Benjamini-Hochberg across" in n for n in report.notes)


def test_pure_inliers_are_flagged_at_the_stated_rate():
    ref, new, n_inliers = _cardio_split()
    inliers = new.iloc[:n_inliers]
    assert outliers(ref, inliers).n_flagged == 0  # FDR: all flags would be false
    report = outliers(ref, inliers, alpha=0.05)
    # E[flags] <= 5%; binomial 3-SE band over 552 rows (the split adds some dependence)
    assert report.n_flagged / n_inliers <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n_inliers)


def test_pvalues_scores_and_contributions_equal_the_direct_computation(rng):
    ref = rng.normal(size=(300, 3)) * [1.0, 10.0, 100.0]
    new = np.vstack([rng.normal(size=(20, 3)), [[6.0, 0.0, -700.0]]])
    report = outliers(ref, new, alpha=0.05, seed=3, top_features=2)
    # Same split as the report: OutlierDetector's seeded permutation, 30% calibration.
    order = np.random.default_rng(3).permutation(300)
    train, cal = ref[order[90:]], ref[order[:90]]
    mean, sd = train.mean(axis=0), train.std(axis=0)
    det = ECOD().fit((train - mean) / sd)
    scores = det.score((new - mean) / sd)
    np.testing.assert_allclose(report.scores, scores)
    np.testing.assert_allclose(report.pvalues,
                               conformal_pvalues(det.score((cal - mean) / sd), scores))
    assert np.array_equal([r.row for r in report.flagged],
                          np.flatnonzero(report.pvalues <= 0.05)[np.lexsort(
                              (-scores[report.pvalues <= 0.05],
                               report.pvalues[report.pvalues <= 0.05]))])
    last = next(r for r in report.flagged if r.row == 20)
    # both values lie beyond the training range, where ECOD's terms saturate (a tie)
    assert {f.name: f.value for f in last.top_features} == {"x0": 6.0, "x2": -700.0}
    parts = det.contributions((new[20:] - mean) / sd)[0]
    assert [f.contribution for f in last.top_features] == pytest.approx(parts[[0, 2]])
    # score_cutoff restates the p-value rule in scores
    assert np.array_equal(report.scores > report.score_cutoff, report.pvalues <= 0.05)


def test_categorical_one_hot_missing_imputation_and_exclusions(rng):
    n = 400
    ref = pd.DataFrame({
        "x": rng.normal(size=n), "colour": rng.choice(["red", "blue"], size=n),
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        "text": [f"free text number {i} about something" for i in range(n)],
    })
    new = pd.DataFrame({"x": [0.0, np.nan, 0.1], "colour": ["red", "blue", "green"],
                        "when": pd.date_range("2025-01-01", periods=3, freq="h"),
                        "text": ["a long free text here", "another long free text", "x y z"]})
    report = outliers(ref, new, alpha=0.05)
    assert report.features == ("x", "colour=blue", "colour=red", "colour=(other)")
    assert {e.name for e in report.excluded} == {"when", "text"}
    assert any("1 missing value(s) of 'x' in the new table" in n for n in report.notes)
    assert [r.row for r in report.flagged] == [2]  # the unseen colour, nothing else
    assert report.flagged[0].top_features[0].name == "colour=(other)"


def test_bad_inputs_raise_typed_errors_with_what_is_needed(rng):
    ref = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    with pytest.raises(SchemaError, match="'b'"):
        outliers(ref, ref[["a"]])
    with pytest.raises(InputError, match="no column can be scored"):
        outliers(pd.DataFrame({"a": [np.nan] * 50}), pd.DataFrame({"a": [1.0]}))
    with pytest.raises(InputError, match="at least 99 are needed"):
        outliers(ref, ref, alpha=0.01)
    with pytest.raises(ParameterError, match="unknown detector"):
        outliers(ref, ref, detector="lof")


@pytest.mark.parametrize("detector", DETECTORS)
def test_every_named_detector_runs_and_the_report_serialises(rng, detector):
    ref = rng.normal(size=(200, 3))
    report = outliers(ref, np.vstack([ref[:5], [[9.0, -9.0, 9.0]]]), detector=detector,
                      alpha=0.05)
    assert isinstance(report, OutlierReport) and report.detector == detector
    assert 5 in [r.row for r in report.flagged]
    d = report.to_dict()
    assert "scores" not in d and d["n_flagged"] == report.n_flagged
    assert len(report.to_dict(arrays=True)["pvalues"]) == 6

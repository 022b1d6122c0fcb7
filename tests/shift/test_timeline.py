"""performance_over_time: bookkeeping, errors, the realised metrics, the coverage of its
intervals chunk by chunk and simultaneously, and the flights demo on a slice of the data."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from helpers import binomial_band
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift.timeline import performance_over_time, realised_metric

DEMO = Path(__file__).resolve().parents[2] / "examples" / "flights_performance.py"


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(1.5 * x[:, 0] - 1.0 * x[:, 1])))


def _covariate_shift(rng: np.random.Generator, n_ref: int, sizes: list[int],
                     shifts: list[float]):
    """True-probability outputs of a well-specified model; chunk ``j``'s features shifted
    by ``shifts[j]`` in their mean (covariate shift: P(y | x) fixed)."""
    x_ref = rng.normal(size=(n_ref, 2))
    p_ref = _logistic(x_ref)
    y_ref = (rng.random(n_ref) < p_ref).astype(int)
    chunks = {}
    for j, (m, s) in enumerate(zip(sizes, shifts, strict=True)):
        x = rng.normal(s, 1.0, size=(m, 2))
        p = _logistic(x)
        chunks[f"c{j}"] = (x, p, (rng.random(m) < p).astype(int))
    return x_ref, p_ref, y_ref, chunks


def test_rows_skips_and_defaults(rng):
    x_ref, p_ref, y_ref, chunks = _covariate_shift(rng, 600, [300, 300], [0.0, 1.0])
    outputs = {k: v[1] for k, v in chunks.items()}
    tl = performance_over_time(p_ref, y_ref, outputs, metrics=("accuracy", "roc_auc"),
                               n_bootstrap=50)
    assert tl.methods == ("cbpe", "atc")  # no features: importance weighting is not run
    assert tl.chunks == ("c0", "c1")
    # atc has no AUC: 2 chunks x (2 cbpe + 1 atc) rows, and the pair is listed as skipped
    assert len(tl.rows) == 6
    assert tl.skipped == ("atc / roc_auc: atc estimates accuracy only",)
    assert all(np.isnan(r.realised) and r.covered is None for r in tl.rows)
    assert tl.summary() == ()
    assert set(tl.reference_values) == {"accuracy", "roc_auc"}
    assert tl.reference_values["accuracy"] == pytest.approx(
        accuracy_score(y_ref, p_ref > 0.5))
    json.dumps(tl.to_dict())

    with_x = performance_over_time(
        p_ref, y_ref, outputs, {k: v[2] for k, v in chunks.items()}, X_ref=x_ref,
        chunks_X={k: v[0] for k, v in chunks.items()}, metrics=("accuracy",), n_bootstrap=50)
    assert with_x.methods == ("cbpe", "atc", "importance_weighted")
    assert [s["method"] for s in with_x.summary()] == list(with_x.methods)
    assert all(r.covered is not None for r in with_x.rows)


def test_same_seed_same_timeline_and_sequences_are_named(rng):
    _, p_ref, y_ref, chunks = _covariate_shift(rng, 400, [200, 200], [0.0, 0.5])
    outputs = [v[1] for v in chunks.values()]
    a = performance_over_time(p_ref, y_ref, outputs, metrics=("accuracy",), n_bootstrap=30,
                              seed=3)
    b = performance_over_time(p_ref, y_ref, outputs, metrics=("accuracy",), n_bootstrap=30,
                              seed=3)
    assert a.to_dict() == b.to_dict()
    assert a.chunks == ("0", "1")


def test_bad_input_is_named(rng):
    x_ref, p_ref, y_ref, chunks = _covariate_shift(rng, 300, [100, 100], [0.0, 0.5])
    outputs = {k: v[1] for k, v in chunks.items()}
    with pytest.raises(InputError, match="same chunks") as info:
        performance_over_time(p_ref, y_ref, outputs, {"c0": chunks["c0"][2]})
    assert info.value.column == "chunks_y"
    with pytest.raises(ParameterError, match="needs the features"):
        performance_over_time(p_ref, y_ref, outputs, methods=("importance_weighted",))
    with pytest.raises(ParameterError, match="unknown metric"):
        performance_over_time(p_ref, y_ref, outputs, metrics=("brier",))
    with pytest.raises(ParameterError, match="unknown method"):
        performance_over_time(p_ref, y_ref, outputs, methods=("magic",))
    with pytest.raises(InputError, match="no chunks"):
        performance_over_time(p_ref, y_ref, {})
    with pytest.raises(ParameterError, match="list of chunks"):
        performance_over_time(p_ref, y_ref, "c0")
    with pytest.raises(InputError, match="class indices") as info:
        performance_over_time(p_ref, y_ref, outputs, {"c0": chunks["c0"][2] + 5, "c1": None},
                              metrics=("accuracy",), methods=("cbpe",), n_bootstrap=20)
    assert info.value.column == "chunks_y['c0']"


def test_realised_metric_matches_scikit_learn(rng):
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    assert realised_metric("accuracy", p, y) == pytest.approx(accuracy_score(y, p > 0.5))
    assert realised_metric("roc_auc", p, y) == pytest.approx(roc_auc_score(y, p))
    assert realised_metric("f1", p, y) == pytest.approx(f1_score(y, p > 0.5))
    proba = rng.dirichlet(np.ones(3), size=500)
    labels = rng.integers(0, 3, 500)
    assert realised_metric("roc_auc", proba, labels) == pytest.approx(
        roc_auc_score(labels, proba, multi_class="ovr", average="macro"))
    assert np.isnan(realised_metric("roc_auc", p, np.zeros(500, dtype=int)))
    assert realised_metric("mae", np.zeros(4), np.array([1.0, -1.0, 2.0, 0.0])) == 1.0


def test_a_worse_chunk_is_flagged_as_a_drop(rng):
    _, p_ref, y_ref, _ = _covariate_shift(rng, 1000, [10], [0.0])
    # Outputs near 0.5 on the chunk: a model that knows much less there.
    p_cur = np.clip(rng.normal(0.5, 0.05, 800), 0.01, 0.99)
    tl = performance_over_time(p_ref, y_ref, {"good": p_ref[:500], "bad": p_cur},
                               metrics=("accuracy",), methods=("cbpe",), n_bootstrap=100)
    assert [r.chunk for r in tl.drops] == ["bad"]


@pytest.mark.validity
def test_intervals_cover_chunk_by_chunk_and_simultaneously():
    """Under covariate shift with calibrated outputs (CBPE's assumption), each interval
    holds the chunk's realised accuracy in about 95 % of repetitions, and with
    ``simultaneous=True`` all five chunks' intervals hold at once in at least about 95 %."""
    reps, n_chunks, alpha = 150, 5, 0.05
    shifts = [0.0, 0.4, 0.8, 1.2, -0.6]
    single, joint = [], []
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        _, p_ref, y_ref, chunks = _covariate_shift(rng, 1000, [1000] * n_chunks, shifts)
        for simultaneous, store in ((False, single), (True, joint)):
            tl = performance_over_time(
                p_ref, y_ref, {k: v[1] for k, v in chunks.items()},
                {k: v[2] for k, v in chunks.items()}, metrics=("accuracy",),
                methods=("cbpe",), calibration="none", alpha=alpha,
                simultaneous=simultaneous, n_bootstrap=200, seed=rep)
            covered = [r.covered for r in tl.rows]
            store.append(covered if not simultaneous else [all(covered)])
    per_interval = float(np.mean(single))
    lo, hi = binomial_band(1 - alpha, reps * n_chunks)
    assert lo <= per_interval <= hi, per_interval
    all_at_once = float(np.mean(joint))
    assert all_at_once >= binomial_band(1 - alpha, reps)[0], all_at_once


def _demo():
    spec = importlib.util.spec_from_file_location("flights_performance", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flights_demo_runs_on_a_slice():
    demo = _demo()
    flights = demo.load_flights()
    rows = np.random.default_rng(0).permutation(len(flights))[:12_000]
    small = flights.iloc[np.sort(rows)]
    small = small.loc[small["month"].isin([1, 2, 7])]
    timeline, attribution, worst = demo.evaluate(small, months=(2, 7), n_bootstrap=20,
                                                 attribution_bootstrap=0)
    assert timeline.chunks == ("Feb", "Jul")
    assert worst in timeline.chunks
    assert timeline.methods == ("cbpe", "atc", "importance_weighted")
    for r in timeline.rows:
        assert 0.5 < r.realised <= 1.0 and r.lower <= r.estimate <= r.upper
    assert attribution.attributions.sum() == pytest.approx(attribution.change)
    assert len(attribution.players) == 4
    text = demo.format_timeline(timeline) + demo.format_attribution(attribution, worst)
    assert "Jul" in text and "P(late | X)" in text


def test_docstring_examples_run():
    import doctest

    import shiftguard.shift.timeline

    result = doctest.testmod(shiftguard.shift.timeline)
    assert result.attempted >= 3 and result.failed == 0


def test_timeline_is_one_fitted_estimator_per_method(rng):
    """performance_over_time fits each method once and estimates every chunk with it: its
    rows equal a PerformanceEstimator fitted with the same seed, chunk by chunk."""
    from shiftguard.shift import PerformanceEstimator

    _, p_ref, y_ref, chunks = _covariate_shift(rng, 800, [300, 500, 400], [0.0, 0.7, -0.5])
    outputs = {k: np.clip(0.85 * v[1] + 0.05, 0, 1) for k, v in chunks.items()}
    tl = performance_over_time(p_ref, y_ref, outputs, metrics=("accuracy", "roc_auc"),
                               methods=("cbpe",), n_bootstrap=60, seed=4)
    fitted = PerformanceEstimator("cbpe", ("accuracy", "roc_auc"), n_bootstrap=60,
                                  seed=4).fit(p_ref, y_ref)
    for name, out in outputs.items():
        for est in fitted.estimate(out):
            (row,) = [r for r in tl.series(est.metric, "cbpe") if r.chunk == name]
            assert (row.estimate, row.lower, row.upper, row.standard_error) == (
                est.estimate, est.lower, est.upper, est.standard_error)

"""Batch Monitor: spending rule, history, restarts, inputs the io layer reads, bad use."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from shiftguard.errors import BudgetExhaustedError, InputError, ParameterError, StateError
from shiftguard.stream import Monitor


@pytest.fixture
def reference():
    return np.random.default_rng(0).normal(size=(400, 3))


def _batches(seed: int, shifts=(0.0, 0.0, 0.0, 0.8, 0.8)):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(150, 3)) + [0.0, 0.0, s] for s in shifts]


def test_spending_rule_sums_to_alpha(reference):
    monitor = Monitor(reference, alpha=0.1)
    levels = np.array([monitor.alpha_for_batch(t) for t in range(1, 200_001)])
    assert levels[0] == pytest.approx(0.1 * 6 / math.pi**2)
    assert levels.sum() < 0.1
    assert levels.sum() == pytest.approx(0.1, rel=1e-4)
    fixed = Monitor(reference, alpha=0.1, horizon=4)
    assert [fixed.alpha_for_batch(t) for t in (1, 4)] == [0.025, 0.025]
    with pytest.raises(BudgetExhaustedError, match="horizon=4"):
        fixed.alpha_for_batch(5)


def test_alarms_follow_adjusted_pvalues_and_level(reference):
    monitor = Monitor(reference, alpha=0.05)
    for batch in _batches(1):
        step = monitor.update(batch)
        assert step.alarm == (step.min_pvalue_adjusted <= step.alpha_spent)
        assert set(step.drifted_columns) <= {"x0", "x1", "x2"}
    assert [s.batch for s in monitor.history_] == [1, 2, 3, 4, 5]
    assert monitor.alarms == (4, 5)
    assert monitor.history_[3].drifted_columns == ("x2",)
    assert monitor.drift_detected


def test_reads_any_table_input(reference, tmp_path):
    pd = pytest.importorskip("pandas")
    names = ["a", "b", "c"]
    monitor = Monitor(pd.DataFrame(reference, columns=names))
    batch = np.random.default_rng(2).normal(size=(100, 3))
    path = tmp_path / "batch.csv"
    pd.DataFrame(batch, columns=names).to_csv(path, index=False)
    from_frame = monitor.update(pd.DataFrame(batch, columns=names))
    from_file = monitor.update(path)
    assert from_file.pvalues == pytest.approx(from_frame.pvalues, rel=1e-12)


def test_restart_from_json_continues_identically(reference):
    batches = _batches(3)
    straight = Monitor(reference, alpha=0.05)
    for b in batches:
        straight.update(b)
    first = Monitor(reference, alpha=0.05)
    for b in batches[:2]:
        first.update(b)
    saved = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    restored = Monitor.from_dict(saved, reference)
    for b in batches[2:]:
        restored.update(b)
    assert restored.to_dict() == straight.to_dict()


def test_bad_use_raises(reference):
    with pytest.raises(ParameterError):
        Monitor(reference, alpha=1.5)
    with pytest.raises(ParameterError):
        Monitor(reference, horizon=0)
    monitor = Monitor(reference)
    with pytest.raises(InputError):
        monitor.update(np.full((10, 3), np.inf))
    assert monitor.history_ == []
    with pytest.raises(StateError):
        Monitor.from_dict({"monitor": "Other"}, reference)
    state = monitor.to_dict()
    with pytest.raises(StateError):
        Monitor.from_dict({**state, "version": 2}, reference)


def test_last_report_verdict_is_the_step_alarm(rng):
    # A batch whose smallest adjusted p-value lies between the batch's level and the run's
    # alpha: the report must not call drift that the monitor does not alarm on.
    ref = rng.normal(size=(2000, 3))
    monitor = Monitor(ref, alpha=0.05)
    for _ in range(6):
        step = monitor.update(rng.normal(size=(400, 3)) + [0.0, 0.0, 0.12])
        report = monitor.last_report_
        assert report.drifted == step.alarm
        assert tuple(c.name for c in report.columns if c.drifted) == step.drifted_columns
        assert report.alpha == step.alpha_spent


def test_state_without_history_has_constant_size_and_continues_exactly(rng):
    ref = rng.normal(size=(500, 2))
    batches = [rng.normal(size=(200, 2)) + [0.0, 0.4 * (i >= 3)] for i in range(6)]
    full = Monitor(ref, alpha=0.05)
    lean = Monitor(ref, alpha=0.05)
    sizes = []
    for i, batch in enumerate(batches):
        expected = full.update(batch)
        state = json.loads(json.dumps(lean.to_dict(history=False)))
        sizes.append(len(json.dumps(state)))
        assert state["n_batches"] == i and state["history"] == []
        lean = Monitor.from_dict(state, ref)
        got = lean.update(batch)
        assert got.to_dict() == expected.to_dict()
    assert len(set(sizes)) == 1
    assert lean.n_batches_ == full.n_batches_ == 6 and len(lean.history_) == 1
    with pytest.raises(StateError, match="history=False"):
        lean.to_dict()


def test_state_with_inconsistent_batch_count_is_refused(rng):
    ref = rng.normal(size=(300, 2))
    monitor = Monitor(ref)
    monitor.update(rng.normal(size=(100, 2)))
    state = monitor.to_dict()
    with pytest.raises(StateError, match="numbered"):
        Monitor.from_dict({**state, "n_batches": 3}, ref)
    with pytest.raises(StateError, match="n_batches"):
        Monitor.from_dict({**state, "history": [], "n_batches": -1}, ref)

"""Monitor: whole-run false-alarm rate over seeded null runs, for both spending rules."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.stream import Monitor

pytestmark = pytest.mark.validity

ALPHA = 0.2
N_RUNS = 300
N_BATCHES = 5


@pytest.mark.parametrize("horizon", [None, N_BATCHES])
def test_probability_of_any_false_alarm_over_the_run_is_at_most_alpha(horizon):
    # the same reference for all batches of a run: the dependence the rule must survive
    rng = np.random.default_rng(31 if horizon is None else 32)
    runs_with_alarm = 0
    for _ in range(N_RUNS):
        monitor = Monitor(rng.normal(size=(200, 3)), alpha=ALPHA, horizon=horizon)
        for _ in range(N_BATCHES):
            monitor.update(rng.normal(size=(60, 3)))
        runs_with_alarm += bool(monitor.alarms)
    assert runs_with_alarm / N_RUNS <= binomial_band(ALPHA, N_RUNS)[1]


def test_shift_in_one_feature_is_caught():
    rng = np.random.default_rng(33)
    caught = 0
    for _ in range(50):
        monitor = Monitor(rng.normal(size=(200, 3)), alpha=0.05)
        for shift in (0.0, 0.0, 0.7):
            monitor.update(rng.normal(size=(100, 3)) + [0.0, shift, 0.0])
        caught += monitor.alarms == (3,)
    assert caught / 50 >= 0.8

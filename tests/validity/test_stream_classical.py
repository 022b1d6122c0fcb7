"""Null behaviour of the classical stream detectors against what their docstrings state.

Docstring rates were measured by ``bench/stream/null_rates.py`` (seed 2026, 4,000 streams);
here fresh seeds re-measure them, with a 3-standard-error band for the difference of the
two estimates. CUSUM and SPRT are checked against their theory instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.stream import (
    ADWIN,
    CUSUM,
    DDM,
    EDDM,
    HDDMA,
    HDDMW,
    KSWIN,
    BernoulliSPRT,
    GaussianSPRT,
    PageHinkley,
    cusum_average_run_length,
)

pytestmark = pytest.mark.validity

N_STREAMS = 1000
DOC_STREAMS = 4000
# effective sample size for the difference of a 1,000- and a 4,000-stream estimate
N_EFFECTIVE = round(1.0 / (1.0 / N_STREAMS + 1.0 / DOC_STREAMS))

# name -> (factory, null stream kind, length, P(any alarm) stated in the docstring)
STATED = {
    "ADWIN": (ADWIN, "normal", 10_000, 0.0043),
    "PageHinkley": (PageHinkley, "normal", 1_000, 0.3345),
    "KSWIN": (lambda: KSWIN(seed=11), "normal", 1_000, 0.7332),
    "DDM": (DDM, "bernoulli", 10_000, 0.4512),
    "EDDM": (EDDM, "bernoulli", 10_000, 0.9745),
    "HDDMA": (HDDMA, "bernoulli", 10_000, 0.0295),
    "HDDMW": (HDDMW, "bernoulli", 10_000, 0.0008),
}


def _null(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n) if kind == "normal" else (rng.random(n) < 0.1).astype(float)


def _run_lengths(alarms: np.ndarray) -> np.ndarray:
    return np.diff(np.r_[-1, alarms])


@pytest.mark.parametrize("name", list(STATED))
def test_null_false_alarm_rate_matches_docstring(name):
    factory, kind, length, stated = STATED[name]
    rng = np.random.default_rng(7)
    hits = sum(factory().update_many(_null(kind, length, rng)).size > 0 for _ in range(N_STREAMS))
    low, high = binomial_band(stated, N_EFFECTIVE)
    assert low <= hits / N_STREAMS <= max(high, 3.0 / N_STREAMS), (name, hits / N_STREAMS)


def test_page_hinkley_mean_run_length_matches_docstring():
    alarms = PageHinkley().update_many(np.random.default_rng(8).standard_normal(1_000_000))
    run_lengths = _run_lengths(alarms)
    se = math.hypot(run_lengths.std(ddof=1) / math.sqrt(run_lengths.size), 20.0)
    assert abs(run_lengths.mean() - 1600.0) <= 3 * se


@pytest.mark.parametrize("mode", ["both", "up"])
def test_cusum_in_control_run_length_equals_theory(mode):
    alarms = CUSUM(0.0, 1.0, mode=mode).update_many(np.random.default_rng(9).normal(size=1_500_000))
    run_lengths = _run_lengths(alarms)
    expected = cusum_average_run_length(0.5, 5.0, two_sided=mode == "both")
    se = run_lengths.std(ddof=1) / math.sqrt(run_lengths.size)
    assert abs(run_lengths.mean() - expected) <= 3 * se


def test_cusum_detection_delay_equals_theory():
    rng = np.random.default_rng(10)
    chart = CUSUM(0.0, 1.0, mode="up")
    delays = np.empty(3000)
    for i in range(delays.size):
        chart.reset()
        delays[i] = chart.update_many(rng.normal(1.0, 1.0, 200))[0] + 1
    expected = cusum_average_run_length(0.5, 5.0, shift=1.0, two_sided=False)
    assert abs(delays.mean() - expected) <= 3 * delays.std(ddof=1) / math.sqrt(delays.size)


@pytest.mark.parametrize(
    "make, null",
    [
        (lambda: GaussianSPRT(0.0, 0.5, alpha=0.05, beta=0.1), lambda r: r.normal(size=400_000)),
        (lambda: BernoulliSPRT(0.1, 0.2, alpha=0.05, beta=0.1),
         lambda r: (r.random(400_000) < 0.1).astype(float)),
    ],
)
def test_sprt_per_cycle_false_alarm_rate_within_wald_bound(make, null):
    sprt = make()
    n_alarms = sprt.update_many(null(np.random.default_rng(12))).size
    cycles = n_alarms + sprt.n_accepted
    bound = sprt.alpha / (1.0 - sprt.beta)
    assert cycles > 5000
    assert n_alarms / cycles <= binomial_band(bound, cycles)[1]


DELAY_CASES = {
    "ADWIN": (ADWIN, "normal"),
    "PageHinkley": (PageHinkley, "normal"),
    "CUSUM": (lambda: CUSUM(0.0, 1.0), "normal"),
    "KSWIN": (lambda: KSWIN(seed=1), "normal"),
    "GaussianSPRT": (lambda: GaussianSPRT(0.0, 1.0, alpha=1e-4), "normal"),
    "DDM": (DDM, "bernoulli"),
    "EDDM": (EDDM, "bernoulli"),
    "HDDMA": (HDDMA, "bernoulli"),
    "HDDMW": (HDDMW, "bernoulli"),
    "BernoulliSPRT": (lambda: BernoulliSPRT(0.1, 0.3, alpha=1e-4), "bernoulli"),
}


@pytest.mark.parametrize("name", list(DELAY_CASES))
def test_step_change_is_detected_and_delay_reported(name):
    """A 1-sd mean step (or 0.1 -> 0.3 error rate) at value 1,000 is caught; print the delay."""
    factory, kind = DELAY_CASES[name]
    rng = np.random.default_rng(13)
    delays = []
    for _ in range(200):
        if kind == "normal":
            stream = np.r_[rng.normal(0, 1, 1000), rng.normal(1, 1, 2000)]
        else:
            stream = np.r_[rng.random(1000) < 0.1, rng.random(2000) < 0.3].astype(float)
        after = factory().update_many(stream)
        after = after[after >= 1000]
        delays.append(after[0] - 999 if after.size else np.inf)
    delays = np.array(delays)
    detected = np.isfinite(delays)
    print(f"{name}: detected {detected.mean():.2f}, median delay {np.median(delays):.0f}")
    assert detected.mean() >= 0.95

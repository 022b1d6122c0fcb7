"""Measure the false-alarm rates that the classical detectors' docstrings state.

P(any alarm within n values) on seeded null streams (standard normal for the
numeric detectors, Bernoulli(0.1) for the error-rate ones), with defaults. The
validity tests re-check these numbers with other seeds.

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/stream/null_rates.py
"""

from __future__ import annotations

import sys

import numpy as np

from shiftguard.stream import ADWIN, DDM, EDDM, HDDMA, HDDMW, KSWIN, PageHinkley

#: (detector factory, null kind, stream length): shared with tests/validity.
NULL_CASES = {
    "ADWIN": (ADWIN, "normal", 10_000),
    "PageHinkley": (PageHinkley, "normal", 1_000),
    "KSWIN": (lambda: KSWIN(seed=0), "normal", 1_000),
    "DDM": (DDM, "bernoulli", 10_000),
    "EDDM": (EDDM, "bernoulli", 10_000),
    "HDDMA": (HDDMA, "bernoulli", 10_000),
    "HDDMW": (HDDMW, "bernoulli", 10_000),
}


def null_stream(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal(n)
    return (rng.random(n) < 0.1).astype(float)


def any_alarm_rate(name: str, n_streams: int, seed: int) -> float:
    factory, kind, length = NULL_CASES[name]
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_streams):
        detector = factory()
        hits += detector.update_many(null_stream(kind, length, rng)).size > 0
    return hits / n_streams


def mean_run_length(name: str, n_values: int, seed: int) -> tuple[float, float]:
    """Mean and standard error of the run lengths between alarms on one long null stream."""
    factory, kind, _ = NULL_CASES[name]
    alarms = factory().update_many(null_stream(kind, n_values, np.random.default_rng(seed)))
    run_lengths = np.diff(np.r_[-1, alarms])
    return float(run_lengths.mean()), float(run_lengths.std(ddof=1) / np.sqrt(run_lengths.size))


if __name__ == "__main__":
    n_streams = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    for name, (_, kind, length) in NULL_CASES.items():
        rate = any_alarm_rate(name, n_streams, seed=2026)
        print(f"{name:12s} {kind:9s} n={length:6d}  P(any alarm) = {rate:.4f}", n_streams)
    arl, se = mean_run_length("PageHinkley", 4_000_000, seed=2026)
    print(f"PageHinkley  normal    mean run length between alarms = {arl:.0f} (se {se:.0f})")

"""shiftguard side of the drift benchmark (runs in the project venv).

Measured variants, all on the same saved data:

``monitor``
    ``DriftDetector(multivariate="none", localize=False).fit(reference)`` once, then
    ``compare(current)`` timed: the per-feature work the peers do, with the reference
    fitted once as a monitor does.
``monitor_default``
    The same with the defaults (adds the MMD joint test on 2,000 rows and localisation).
``cold`` / ``cold_default``
    ``shiftguard.drift.compare(reference, current, ...)``: validation, sorting of both.
``kernel_warm`` / ``kernel_cold``
    ``stats.ks.presort`` + ``ks_test_many`` alone (reference presorted or not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from _common import (
    MMD_PERMUTATIONS,
    best_time,
    emit,
    load_mmd_data,
    load_table_data,
    measure_peak_rise,
    once_time,
    parse_args,
)

import shiftguard
from shiftguard.drift import DriftDetector, compare
from shiftguard.stats import ks

PER_FEATURE = {"multivariate": "none", "localize": False}


def report_summary(report: object) -> dict[str, object]:
    return {
        "statistics": [c.statistic for c in report.columns],
        "pvalues": [c.pvalue for c in report.columns],
        "pvalues_adjusted": [c.pvalue_adjusted for c in report.columns],
        "flags": [c.drifted for c in report.columns],
        "drifted": report.drifted,
        "multivariate_pvalue": None if report.multivariate is None else report.multivariate.pvalue,
    }


def attempt(func: Callable[[], Any]) -> Any:
    """``func()``, or the error it raised: one unfinished variant must not hide the rest."""
    try:
        return func()
    except Exception as exc:  # noqa: BLE001 - recorded in the results, not swallowed
        return {"error": [f"{type(exc).__name__}: {exc}"]}


def time_task(data: dict[str, np.ndarray]) -> dict[str, object]:
    ref, null, shifted = data["reference"], data["null"], data["shifted"]
    fit_s, monitor = once_time(lambda: DriftDetector(**PER_FEATURE).fit(ref))
    fit_default_s, monitor_default = once_time(lambda: DriftDetector().fit(ref))
    ref_sorted = ks.presort(ref)
    return {
        "library": "shiftguard", "version": shiftguard.__version__,
        "fit_s": fit_s, "fit_default_s": fit_default_s,
        "monitor": best_time(lambda: monitor.compare(shifted)),
        "monitor_default": attempt(
            lambda: best_time(lambda: monitor_default.compare(shifted), repeats=3)),
        "cold": best_time(lambda: compare(ref, shifted, **PER_FEATURE)),
        "cold_default": attempt(lambda: best_time(lambda: compare(ref, shifted), repeats=3)),
        "kernel_warm": best_time(
            lambda: ks.ks_test_many(ref_sorted, ks.presort(shifted))),
        "kernel_cold": best_time(
            lambda: ks.ks_test_many(ks.presort(ref), ks.presort(shifted))),
        "null": report_summary(monitor.compare(null)),
        "shifted": report_summary(monitor.compare(shifted)),
        "null_default": attempt(lambda: report_summary(monitor_default.compare(null))),
        "shifted_default": attempt(lambda: report_summary(monitor_default.compare(shifted))),
    }


def reference_median_sigma(x: np.ndarray) -> float:
    """alibi-detect ``MMDDrift``'s default bandwidth: the median heuristic on ``x`` alone.

    sqrt(lower median of the squared distances over pairs i < j of ``x``, halved).
    """
    from scipy.spatial.distance import pdist

    pairs = pdist(x, "sqeuclidean")
    k = (pairs.size - 1) // 2
    return float(np.sqrt(0.5 * np.partition(pairs, k)[k]))


def mmd_task(data_dir: object) -> dict[str, object]:
    from shiftguard.stats.multivariate import mmd_test

    x, y = load_mmd_data(data_dir)
    result = mmd_test(x, y, n_permutations=MMD_PERMUTATIONS, seed=0)
    at_reference_sigma = mmd_test(x, y, bandwidth=reference_median_sigma(x),
                                  n_permutations=MMD_PERMUTATIONS, seed=0)
    return {
        "statistic_at_reference_sigma": float(at_reference_sigma.statistic),
        "pvalue_at_reference_sigma": float(at_reference_sigma.pvalue),
        "reference_sigma": float(at_reference_sigma.bandwidth),
        "library": "shiftguard",
        "mmd": best_time(lambda: mmd_test(x, y, n_permutations=MMD_PERMUTATIONS, seed=0),
                         repeats=3),
        "statistic": float(result.statistic), "pvalue": float(result.pvalue),
        "result": result.to_dict(),
    }


def main() -> None:
    task, data_dir = parse_args()
    if task == "mmd":
        emit(mmd_task(data_dir))
        return
    data = load_table_data(data_dir)
    if task == "memory":
        emit({"library": "shiftguard", "memory": measure_peak_rise(
            lambda r, c: DriftDetector(**PER_FEATURE).fit(r).compare(c),
            data["reference"], data["shifted"])})
    elif task == "memory_default":
        emit({"library": "shiftguard", "memory": attempt(lambda: measure_peak_rise(
            lambda r, c: DriftDetector().fit(r).compare(c), data["reference"],
            data["shifted"]))})
    else:
        emit(time_task(data))


if __name__ == "__main__":
    main()

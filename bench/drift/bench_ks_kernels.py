"""Time the fitted-reference KS fast path against SciPy and against plain sorting.

Run (one benchmark at a time on the shared machine)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/bench_ks_kernels.py

Data: seeded N(0, 1) reference and current matrices of 100,000 x 50 float64; the current
one either from the same law ("null") or with every column shifted by 0.02 sd ("shifted",
which puts SciPy's p-value in its slow exact-Smirnov branch). Figures (best of repeats):

- warm: ``ks_test_many(presorted_reference, current_array)`` (sorts the current array)
  versus a loop of ``scipy.stats.ks_2samp`` over the columns; target >= 5x faster.
- cold: ``presort(reference)`` + the warm call versus ``np.sort(reference, axis=0);
  np.sort(current, axis=0)``; target <= 1.5x.
- memory: peak of NumPy allocations (tracemalloc) during the warm call, as a multiple of
  the current array's size; target < 2.
- the same warm comparison for ``mannwhitney_test_many`` and ``cvm_test_many`` (null data).
Also checks that every statistic and p-value equals SciPy's to relative 1e-9.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import scipy.stats as st

from shiftguard.stats import (
    cvm_test_many,
    ks_test_many,
    mannwhitney_test_many,
    presort,
)

N_ROWS, N_COLUMNS = 100_000, 50
REPEATS = 3


def best_time(func: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def scipy_loop(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    results = [st.ks_2samp(reference[:, j], current[:, j]) for j in range(reference.shape[1])]
    return (np.array([r.statistic for r in results]), np.array([r.pvalue for r in results]))


def main() -> None:
    rng = np.random.default_rng(20261123)
    reference = rng.normal(size=(N_ROWS, N_COLUMNS))
    currents = {
        "null": rng.normal(size=(N_ROWS, N_COLUMNS)),
        "shifted": rng.normal(0.02, size=(N_ROWS, N_COLUMNS)),
    }
    fitted = presort(reference)
    ks_test_many(fitted, currents["null"][:1000])  # compile / load the numba kernels
    report: dict[str, object] = {"rows": N_ROWS, "columns": N_COLUMNS, "repeats": REPEATS}
    for name, current in currents.items():
        ours = ks_test_many(fitted, current)
        theirs = scipy_loop(reference, current)
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=0)
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9, atol=1e-300)
        warm = best_time(lambda c=current: ks_test_many(fitted, c))
        scipy_seconds = best_time(lambda c=current: scipy_loop(reference, c))
        cold = best_time(lambda c=current: ks_test_many(presort(reference), c))
        sort_only = best_time(lambda c=current: (np.sort(reference, axis=0), np.sort(c, axis=0)))
        report[name] = {
            "warm_s": round(warm, 4),
            "scipy_loop_s": round(scipy_seconds, 4),
            "warm_speedup_vs_scipy": round(scipy_seconds / warm, 1),
            "cold_s": round(cold, 4),
            "np_sort_both_s": round(sort_only, 4),
            "cold_over_np_sort": round(cold / sort_only, 2),
        }
    current = currents["null"]
    for name, ours_many, scipy_test in (
        ("mannwhitney", mannwhitney_test_many, st.mannwhitneyu),
        ("cvm", cvm_test_many, st.cramervonmises_2samp),
    ):
        ours = ours_many(fitted, current)
        theirs = [scipy_test(reference[:, j], current[:, j]) for j in range(N_COLUMNS)]
        np.testing.assert_allclose(ours[1], [r.pvalue for r in theirs], rtol=1e-9)
        warm = best_time(lambda f=ours_many: f(fitted, current))
        scipy_seconds = best_time(
            lambda t=scipy_test: [t(reference[:, j], current[:, j]) for j in range(N_COLUMNS)]
        )
        report[f"{name}_null"] = {
            "warm_s": round(warm, 4),
            "scipy_loop_s": round(scipy_seconds, 4),
            "warm_speedup_vs_scipy": round(scipy_seconds / warm, 1),
        }
    tracemalloc.start()
    ks_test_many(fitted, currents["shifted"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report["warm_peak_over_current_size"] = round(peak / currents["shifted"].nbytes, 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

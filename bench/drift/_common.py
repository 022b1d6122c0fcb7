"""Helpers shared by the drift peer scripts; NumPy and the standard library only.

Every peer script runs in its own virtualenv, so this module must import nothing else.
A peer script is called as ``python peer_<name>.py <task> <data_dir>`` and prints one JSON
object on stdout.  Tasks:

``time``
    Fit the reference once, warm up, then time repeated compares on the shifted data;
    also return p-values/flags on the null and the shifted data.
``memory``
    In this fresh process: load the data, then fit and compare once; report the rise of
    the peak resident set size above what the loaded data already used.
``mmd``
    MMD permutation test on the (n = 2,000, d = 32) samples.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N_ROWS = 100_000
N_COLUMNS = 50
SHIFTED_COLUMNS = (0, 1, 2, 3, 4)
SHIFT_IN_SD = 0.05
MMD_N = 2_000
MMD_D = 32
MMD_PERMUTATIONS = 1_000
ALPHA = 0.05
TIME_REPEATS = 5
WARMUP_ROWS = 1_000


def column_names(n_columns: int = N_COLUMNS) -> list[str]:
    return [f"x{j}" for j in range(n_columns)]


def load_table_data(data_dir: Path) -> dict[str, np.ndarray]:
    return {name: np.load(data_dir / f"{name}.npy") for name in ("reference", "null", "shifted")}


def load_mmd_data(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return np.load(data_dir / "mmd_x.npy"), np.load(data_dir / "mmd_y.npy")


def best_time(func: Callable[[], Any], repeats: int = TIME_REPEATS) -> dict[str, float]:
    """Run ``func`` once to warm up, then ``repeats`` timed runs: best and median seconds."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": float(np.median(times)), "repeats": repeats}


def once_time(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = func()
    return time.perf_counter() - start, out


def peak_rss_bytes() -> int:
    """High-water resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_peak_rise(run: Callable[[Any, Any], Any], reference: Any,
                      current: Any) -> dict[str, int]:
    """Peak RSS of ``run(reference, current)`` above the peak before it (fresh process).

    ``run`` first goes once on the first ``WARMUP_ROWS`` rows, so that lazy imports and
    compiled-code caches are loaded before the measured call and are not counted as the
    memory the comparison needs.
    """
    run(reference[:WARMUP_ROWS], current[:WARMUP_ROWS])
    before = peak_rss_bytes()
    run(reference, current)
    after = peak_rss_bytes()
    return {"peak_rss_before_bytes": before, "peak_rss_after_bytes": after,
            "peak_rss_rise_bytes": max(0, after - before)}


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


def parse_args() -> tuple[str, Path]:
    task, data_dir = sys.argv[1], Path(sys.argv[2])
    return task, data_dir

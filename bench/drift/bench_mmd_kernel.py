"""Time shiftguard's MMD and energy permutation tests at the benchmark size (our side only).

n = m = 2,000 rows, d = 32, B = 1,000 permutations, as in ``bench/drift/run.py``'s ``mmd``
task (the peer side, alibi-detect's ``MMDDrift``, runs there in its own virtualenv). Prints
one JSON object: best and median wall time of ``mmd_test`` and ``energy_test`` over
repeated runs (null data: the sequential p-value stops after a few dozen permutations), and
a stage breakdown of ``mmd_test``: the kernel matrix of the distinct pooled rows, and all
``B`` permutations as the plain (non-sequential) test would draw them.

Run (one benchmark at a time on the shared machine)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/bench_mmd_kernel.py \
        [DATA_DIR]

``DATA_DIR`` holds ``mmd_x.npy`` and ``mmd_y.npy`` (as written by ``run.py``); without it,
seeded standard normal samples are generated.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from shiftguard.stats import multivariate as mv

N, D, PERMUTATIONS, REPEATS = 2_000, 32, 1_000, 5


def _load(argv: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if len(argv) > 1:
        data_dir = Path(argv[1])
        return np.load(data_dir / "mmd_x.npy"), np.load(data_dir / "mmd_y.npy")
    rng = np.random.default_rng(20261123)
    return rng.normal(size=(N, D)), rng.normal(size=(N, D))


def _timed(func, repeats: int = REPEATS) -> tuple[dict[str, float], object]:
    out = func()  # warm-up: imports, first-touch of memory
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": float(np.median(times))}, out


def _stages(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Wall time of the kernel-matrix stage and of ``B`` permutations of ``mmd_test``."""
    start = time.perf_counter()
    rows, counts, _ = mv._distinct_rows(x, y)
    sq = mv._squared_distances(rows)
    n_pairs = (x.shape[0] + y.shape[0]) * (x.shape[0] + y.shape[0] - 1) // 2
    sigma = mv._median_bandwidth(mv._positive_pair_values(sq, counts), n_pairs)
    kernel = np.exp(sq * (-0.5 / sigma**2))
    mv._round_to_integer_grid(kernel, int(counts.sum()))
    kernel_s = time.perf_counter() - start
    start = time.perf_counter()
    mv._permuted_quadratic_forms(kernel, counts, x.shape[0], PERMUTATIONS,
                                 np.random.default_rng(0))
    return {"kernel_matrix_s": kernel_s, "all_permutations_s": time.perf_counter() - start}


def main(argv: list[str]) -> None:
    x, y = _load(argv)
    mmd_time, mmd_res = _timed(
        lambda: mv.mmd_test(x, y, n_permutations=PERMUTATIONS, seed=0))
    energy_time, energy_res = _timed(
        lambda: mv.energy_test(x, y, n_permutations=PERMUTATIONS, seed=0))
    print(json.dumps({
        "n": x.shape[0], "m": y.shape[0], "d": x.shape[1], "n_permutations": PERMUTATIONS,
        "mmd_test": {**mmd_time, "statistic": mmd_res.statistic, "pvalue": mmd_res.pvalue,
                     "bandwidth": mmd_res.bandwidth,
                     "permutations_drawn": mmd_res.n_permutations},
        "mmd_stages": _stages(x, y),
        "energy_test": {**energy_time, "statistic": energy_res.statistic,
                        "pvalue": energy_res.pvalue},
    }, indent=2))


if __name__ == "__main__":
    main(sys.argv)

"""Time shiftguard's MMD and energy permutation tests at the benchmark size (our side only).

n = m = 2,000 rows, d = 32, B = 1,000 permutations, as in ``bench/drift/run.py``'s ``mmd``
task (the peer side, alibi-detect's ``MMDDrift``, runs there in its own virtualenv). Prints
one JSON object: best and median wall time of ``mmd_test`` and ``energy_test`` over
repeated runs, a stage breakdown of ``mmd_test`` (pooled kernel matrix vs. batched
permutations), and the p-value difference between float32 and float64 permuted statistics
on the same permutations.

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
    """Wall time of the kernel-matrix stage and of the permutation stage of mmd_test."""
    start = time.perf_counter()
    sq = mv._pooled_squared_distances(x, y)
    sigma = mv._median_heuristic(sq)
    kernel = mv._rbf_in_place(sq, 0.5 / sigma**2)
    mv._unbiased_mmd2(kernel, x.shape[0])
    centred = mv._centre_off_diagonal(kernel)
    kernel_s = time.perf_counter() - start
    start = time.perf_counter()
    mv._permuted_quadratic_forms(centred, x.shape[0], PERMUTATIONS, np.random.default_rng(0))
    return {"kernel_matrix_s": kernel_s, "permutations_s": time.perf_counter() - start}


def _float32_vs_float64(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """p-values from float32 and float64 permuted statistics on identical permutations."""
    n = x.shape[0]
    sq = mv._pooled_squared_distances(x, y)
    sigma = mv._median_heuristic(sq)
    kernel = np.exp(sq * (-0.5 / sigma**2))
    np.fill_diagonal(kernel, 0.0)
    observed = mv._unbiased_mmd2(kernel, n)
    out = {}
    for dtype in (np.float32, np.float64):
        centred = mv._centre_off_diagonal(kernel, dtype=dtype)
        q, r = mv._permuted_quadratic_forms(centred, n, PERMUTATIONS, np.random.default_rng(1))
        permuted = mv._mmd2_from_forms(q, r, float(centred.sum(dtype=np.float64)), n,
                                       y.shape[0])
        out[f"pvalue_{np.dtype(dtype).name}"] = mv._permutation_pvalue(observed, permuted)
    return out


def main(argv: list[str]) -> None:
    x, y = _load(argv)
    mmd_time, mmd_res = _timed(
        lambda: mv.mmd_test(x, y, n_permutations=PERMUTATIONS, seed=0))
    energy_time, energy_res = _timed(
        lambda: mv.energy_test(x, y, n_permutations=PERMUTATIONS, seed=0))
    print(json.dumps({
        "n": x.shape[0], "m": y.shape[0], "d": x.shape[1], "n_permutations": PERMUTATIONS,
        "mmd_test": {**mmd_time, "statistic": mmd_res.statistic, "pvalue": mmd_res.pvalue,
                     "bandwidth": mmd_res.bandwidth},
        "mmd_stages": _stages(x, y),
        "energy_test": {**energy_time, "statistic": energy_res.statistic,
                        "pvalue": energy_res.pvalue},
        "float32_vs_float64": _float32_vs_float64(x, y),
    }, indent=2))


if __name__ == "__main__":
    main(sys.argv)

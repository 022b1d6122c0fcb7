"""Side-by-side batch drift benchmark: shiftguard vs alibi-detect, frouros, Evidently, NannyML.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/run.py

It generates the seeded data once under ``bench/out/drift/`` (gitignored), creates each
peer's venv under ``bench/.venvs/<peer>/`` when missing (see ``peer_envs.py``), runs every
measurement in a fresh subprocess (``peer_<name>.py <task> <data_dir>``, JSON on stdout),
and writes ``bench/out/drift/results.json`` and ``results.md``.

Options: ``--rows N`` (default 100,000) for a quick check at a smaller size,
``--peers a,b`` to run only some (names: shiftguard, scipy, alibi, frouros, evidently,
nannyml), ``--tasks time,memory,mmd``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _common import (  # noqa: E402
    MMD_D,
    MMD_N,
    N_COLUMNS,
    N_ROWS,
    SHIFT_IN_SD,
    SHIFTED_COLUMNS,
)
from peer_envs import ensure_venv  # noqa: E402

OUT_DIR = BENCH_DIR.parent / "out" / "drift"
SEED = 20261123
# Peers measured in the project venv: ours and the plain scipy / np.sort baselines.
PROJECT_SIDE = ("shiftguard", "scipy")
PEERS = ("shiftguard", "scipy", "alibi", "frouros", "evidently", "nannyml")
TASKS_OF = {
    "shiftguard": ("time", "memory", "memory_default", "mmd"),
    "scipy": ("time", "memory"),
    "alibi": ("time", "memory", "mmd"),
    "frouros": ("time", "memory"),
    "evidently": ("time", "memory"),
    "nannyml": ("time", "memory"),
}
TIMEOUT_S = 1800


def generate_table_data(data_dir: Path, n_rows: int) -> None:
    """Reference, null current and shifted current tables, ``n_rows`` x 50, float64.

    Columns cycle through five shapes (normal, lognormal, exponential, Student t with 5
    degrees of freedom, uniform). The null current table is a fresh draw from the same
    distributions; the shifted table equals it except that columns ``SHIFTED_COLUMNS`` (one
    of each shape) move by ``SHIFT_IN_SD`` of their standard deviation.
    """
    rng = np.random.default_rng(SEED)
    sd_of_shape = np.array([1.0, np.sqrt((np.e - 1.0) * np.e), 1.0, np.sqrt(5.0 / 3.0),
                            np.sqrt(1.0 / 12.0)])

    def draw() -> np.ndarray:
        out = np.empty((n_rows, N_COLUMNS))
        for j in range(N_COLUMNS):
            shape = j % 5
            if shape == 0:
                out[:, j] = rng.normal(size=n_rows)
            elif shape == 1:
                out[:, j] = rng.lognormal(size=n_rows)
            elif shape == 2:
                out[:, j] = rng.exponential(size=n_rows)
            elif shape == 3:
                out[:, j] = rng.standard_t(5, size=n_rows)
            else:
                out[:, j] = rng.uniform(size=n_rows)
        return out

    reference, null = draw(), draw()
    shifted = null.copy()
    for j in SHIFTED_COLUMNS:
        shifted[:, j] += SHIFT_IN_SD * sd_of_shape[j % 5]
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, array in (("reference", reference), ("null", null), ("shifted", shifted)):
        np.save(data_dir / f"{name}.npy", array)


def generate_mmd_data(data_dir: Path) -> None:
    """Two samples of ``MMD_N`` x ``MMD_D`` standard normals (the null holds)."""
    rng = np.random.default_rng([SEED, 1])
    np.save(data_dir / "mmd_x.npy", rng.normal(size=(MMD_N, MMD_D)))
    np.save(data_dir / "mmd_y.npy", rng.normal(size=(MMD_N, MMD_D)))


def ensure_data(n_rows: int) -> Path:
    data_dir = OUT_DIR / f"rows{n_rows}"
    if not (data_dir / "shifted.npy").exists():
        generate_table_data(data_dir, n_rows)
    if not (data_dir / "mmd_y.npy").exists():
        generate_mmd_data(data_dir)
    return data_dir


def python_of(peer: str) -> Path:
    return Path(sys.executable) if peer in PROJECT_SIDE else ensure_venv(peer)


def run_task(peer: str, task: str, data_dir: Path) -> dict[str, Any]:
    """One measurement in a fresh subprocess; its JSON, or the error it ended with."""
    cmd = [str(python_of(peer)), str(BENCH_DIR / f"peer_{peer}.py"), task, str(data_dir)]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=BENCH_DIR, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    load = {"wall_s": time.perf_counter() - start,
            "load_1min_before_after": [load_before, os.getloadavg()[0]]}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-20:], **load}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(load)
    return result


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=N_ROWS)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--tasks", default="time,memory,memory_default,mmd")
    args = parser.parse_args()
    data_dir = ensure_data(args.rows)
    tasks = args.tasks.split(",")
    results_path = data_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = machine()
    for peer in args.peers.split(","):
        for task in TASKS_OF[peer]:
            if task not in tasks:
                continue
            print(f"{peer} {task} ...", file=sys.stderr, flush=True)
            results.setdefault(peer, {})[task] = run_task(peer, task, data_dir)
            results_path.write_text(json.dumps(results, indent=1))
    from report import write_report

    print(write_report(results, data_dir))


if __name__ == "__main__":
    main()

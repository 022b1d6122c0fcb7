"""PPI benchmark: shiftguard.inference vs ppi-python 0.2.3 on the same seeded data.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/inference/run.py

Data (seed 20261123): 500 labelled and 10,000 unlabelled rows, 5 regression columns
(intercept + 4 Gaussian covariates), a continuous outcome with biased predictions, and a
binary outcome with 80%-accurate predicted labels; saved under ``bench/out/inference/``.
ppi-python runs in its own venv ``bench/.venvs/ppi`` (created here when missing).

Protocol (issue 16): one long-lived process per side (``measure.py ... serve``), warmed up
with 3 calls of every method; in each of ``--rounds`` rounds every method runs on every
side that has it for ``--block-seconds`` (at least 3 calls), the order of the methods and
of the sides rotating between rounds, and the 1-minute load average is read before every
block. Per side and method: the median and min-max over rounds of the block medians; per
comparison: the ratio of the two block medians of each round, median and min-max. Rows
``*_defaults`` are our functions with their defaults (HC3 and t quantiles: what a user
gets), compared with ppi-python's same function; ``ols_numpy`` is the same plain
NumPy/SciPy OLS in both venvs (the versions' and processes' effect on identical work).
Equal thread settings: ``OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS = --threads`` on both sides
(default 1). ``cold`` runs a fresh process per measurement (our functions with their
defaults): import time plus the first call (data loading excluded), repeated
``--cold-runs`` times (median), and the whole process wall time. Writes
``bench/out/inference/results_threads<k>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent.parent
sys.path.append(str(BENCH_DIR.parent / "conformal"))

from figures import spread  # noqa: E402

OUT_DIR = ROOT / "bench" / "out" / "inference"
DATA_DIR = OUT_DIR / "data"
PPI_VENV = ROOT / "bench" / ".venvs" / "ppi"
PPI_SPEC = "ppi-python==0.2.3"
SEED = 20261123
N_LABELED, N_UNLABELED, N_COLUMNS = 500, 10_000, 5
SIDES = ("shiftguard", "ppi")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
# (our method, ppi-python's method) of every row of the table, the headline rows first
COMPARISONS = (
    ("mean_defaults", "mean"),
    ("ols_defaults", "ols"),
    ("logistic_defaults", "logistic"),
    ("quantile", "quantile"),
    ("mean", "mean"),
    ("ols", "ols"),
    ("logistic", "logistic"),
    ("ols_classical", "ols_classical"),
    ("ols_numpy", "ols_numpy"),
)
# First calls in a fresh process: our defaults against ppi-python's function (rows keyed by
# ppi-python's name).
COLD_COMPARISONS = (
    ("mean_defaults", "mean"),
    ("ols_defaults", "ols"),
    ("logistic_defaults", "logistic"),
)


def generate(data_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    coef = np.linspace(1.0, -1.0, N_COLUMNS)
    logit_coef = np.linspace(-0.5, 0.8, N_COLUMNS)

    def rows(m: int):
        X = np.column_stack([np.ones(m), rng.normal(size=(m, N_COLUMNS - 1))])
        y = X @ coef + rng.normal(size=m)
        yhat = 0.8 * y + 0.3 * X[:, 1] + rng.normal(scale=0.6, size=m)
        yb = (rng.random(m) < 1.0 / (1.0 + np.exp(-X @ logit_coef))).astype(float)
        ybhat = np.where(rng.random(m) < 0.8, yb, 1.0 - yb)
        return X, y, yhat, yb, ybhat

    X, y, yhat, yb, ybhat = rows(N_LABELED)
    Xu, _, yhat_u, _, ybhat_u = rows(N_UNLABELED)
    data_dir.mkdir(parents=True, exist_ok=True)
    arrays = {"X": X, "y": y, "yhat": yhat, "yb": yb, "ybhat": ybhat, "Xu": Xu,
              "yhat_u": yhat_u, "ybhat_u": ybhat_u}
    for name, arr in arrays.items():
        np.save(data_dir / f"{name}.npy", arr)


def ensure_ppi_venv() -> Path:
    python = PPI_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PPI_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", PPI_SPEC], check=True)
    return python


def run(python: Path, args: list[str], env: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), str(BENCH_DIR / "measure.py"), *args],
        capture_output=True, text=True, env=env, check=True,
    )
    wall = time.perf_counter() - t0
    return json.loads(proc.stdout), wall


def rotated(items: list, r: int) -> list:
    return items[r % len(items):] + items[: r % len(items)]


def warm_interleaved(pythons: dict, env: dict, rounds: int, block_seconds: float) -> dict:
    """Warm timings, the two sides in alternation, in rounds (see the module docstring).

    Per side and method: the interval of the warm-up, and per round the median of the
    block's calls and the load average read before the block.
    """
    procs = {
        side: subprocess.Popen(
            [str(python), str(BENCH_DIR / "measure.py"), side, "serve", str(DATA_DIR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        for side, python in pythons.items()
    }

    def ask(side: str, request: str) -> dict:
        procs[side].stdin.write(request + "\n")
        procs[side].stdin.flush()
        return json.loads(procs[side].stdout.readline())

    try:
        versions = {side: ask(side, "versions") for side in procs}
        out = {
            side: {
                method: bounds | {"round_medians": [], "round_calls": [], "round_loads": []}
                for method, bounds in ask(side, "warmup").items()
            }
            for side in procs
        }
        methods = list(dict.fromkeys(m for pair in COMPARISONS for m in pair))
        round_loads = []
        for r in range(rounds):
            start_load = os.getloadavg()[0]
            for method in rotated(methods, r):
                for side in rotated([s for s in SIDES if method in out[s]], r):
                    row = out[side][method]
                    row["round_loads"].append(os.getloadavg()[0])
                    times = ask(side, f"{method} {block_seconds}")["times"]
                    row["round_medians"].append(statistics.median(times))
                    row["round_calls"].append(len(times))
            round_loads.append([start_load, os.getloadavg()[0]])
            print(f"  round {r + 1}/{rounds}: load {start_load:.2f}-{round_loads[-1][1]:.2f}",
                  file=sys.stderr, flush=True)
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    return {"versions": versions, "round_loads": round_loads, "sides": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true",
                        help="only rewrite results_threads<k>.md from its .json")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--block-seconds", type=float, default=0.3)
    args = parser.parse_args()
    stem = OUT_DIR / f"results_threads{args.threads}"
    if args.report:
        report = markdown(json.loads(stem.with_suffix(".json").read_text()))
        stem.with_suffix(".md").write_text(report)
        print(report)
        return
    env = {**os.environ, **{var: str(args.threads) for var in THREAD_VARS}}
    generate(DATA_DIR)
    pythons = {"shiftguard": ROOT / ".venv" / "bin" / "python", "ppi": ensure_ppi_venv()}
    started = datetime.datetime.now(datetime.UTC)
    results: dict = {
        "command": " ".join(["flock /tmp/shiftguard-bench.lock .venv/bin/python",
                             "bench/inference/run.py", *sys.argv[1:]]),
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads,
        "rounds": args.rounds, "block_seconds": args.block_seconds,
        "cold_runs": args.cold_runs,
    }
    results["warm"] = warm_interleaved(pythons, env, args.rounds, args.block_seconds)
    results["cold"] = {}
    cold_loads = [os.getloadavg()[0]]
    for side, python in pythons.items():
        results["cold"][side] = {}
        for ours, peer in COLD_COMPARISONS:
            method = ours if side == "shiftguard" else peer
            runs = [run(python, [side, "cold", method, str(DATA_DIR)], env)
                    for _ in range(args.cold_runs)]
            results["cold"][side][peer] = {
                key: statistics.median(r[0][key] for r in runs) for key in runs[0][0]
            } | {"process_wall_s": statistics.median(r[1] for r in runs)}
            cold_loads.append(os.getloadavg()[0])
    results["cold_loads"] = [min(cold_loads), max(cold_loads)]
    results["wall_s"] = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    report = markdown(results)
    stem.with_suffix(".md").write_text(report)
    print(report)


def markdown(results: dict) -> str:
    warm = results["warm"]
    ours_all, peer_all = warm["sides"]["shiftguard"], warm["sides"]["ppi"]
    lines = [
        f"Run {results['started_utc']}, {results['wall_s']:.0f} s, {results['rounds']} "
        f"rounds, blocks of {results['block_seconds']} s, {results['threads']} BLAS/OpenMP "
        "thread(s) on both sides. 1-minute load average per round (start-end): "
        + ", ".join(f"{a:.1f}-{b:.1f}" for a, b in warm["round_loads"]) + ". Versions: "
        + "; ".join(", ".join(f"{k} {v}" for k, v in vs.items() if not k.startswith("thread"))
                    for vs in warm["versions"].values()) + ".",
        "",
        "| ours | ppi-python | shiftguard ms | ppi-python ms | ppi-python / shiftguard "
        "| mean CI width ratio (ours / ppi) | load (1 min) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for our_method, peer_method in COMPARISONS:
        ours, peer = ours_all[our_method], peer_all[peer_method]
        by_round = np.divide(peer["round_medians"], ours["round_medians"])
        width_ours = np.mean(np.subtract(ours["ci_high"], ours["ci_low"]))
        width_peer = np.mean(np.subtract(peer["ci_high"], peer["ci_low"]))
        loads = ours["round_loads"] + peer["round_loads"]
        lines.append(
            f"| {our_method} | {peer_method} "
            f"| {spread([1e3 * t for t in ours['round_medians']])} "
            f"| {spread([1e3 * t for t in peer['round_medians']])} "
            f"| {spread(list(by_round), 'x')} | {width_ours / width_peer:.3f} "
            f"| {min(loads):.1f}-{max(loads):.1f} |"
        )
    lines += [
        "",
        "| first call in a fresh process | shiftguard import + call | ppi-python import + "
        "call | shiftguard process wall | ppi-python process wall |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, ours in results["cold"]["shiftguard"].items():
        peer = results["cold"]["ppi"][method]
        lines.append(
            f"| {method} | {ours['import_s']:.3f} + {ours['first_call_s']:.3f} s | "
            f"{peer['import_s']:.3f} + {peer['first_call_s']:.3f} s | "
            f"{ours['process_wall_s']:.2f} s | {peer['process_wall_s']:.2f} s |"
        )
    low, high = results["cold_loads"]
    lines.append(f"\nFirst calls (ours with its defaults): median of {results['cold_runs']} "
                 f"fresh processes per side and method; 1-minute load {low:.1f}-{high:.1f}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

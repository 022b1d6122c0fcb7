"""PPI benchmark: shiftguard.inference vs ppi-python 0.2.3 on the same seeded data.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/inference/run.py

Data (seed 20261123): 500 labelled and 10,000 unlabelled rows, 5 regression columns
(intercept + 4 Gaussian covariates), a continuous outcome with biased predictions, and a
binary outcome with 80%-accurate predicted labels; saved under ``bench/out/inference/``.
ppi-python runs in its own venv ``bench/.venvs/ppi`` (created here when missing).
Warm timings come from one long-lived process per side, timed in alternation: each round
times every method for ``--block-seconds`` on one side and then the other (default 7
rounds of 0.3 s), so both see the same load on a shared machine. Reported: the median and
best of all calls after 3 warm-up calls, and the range of the per-round speed-ups.
``cold`` runs a fresh process per measurement: import time plus the first call
(data loading excluded), repeated ``--cold-runs`` times (median), and the whole process
wall time. ``--blas-threads k`` sets ``OPENBLAS_NUM_THREADS`` for both sides.
Writes ``bench/out/inference/results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
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
OUT_DIR = ROOT / "bench" / "out" / "inference"
DATA_DIR = OUT_DIR / "data"
PPI_VENV = ROOT / "bench" / ".venvs" / "ppi"
PPI_SPEC = "ppi-python==0.2.3"
SEED = 20261123
N_LABELED, N_UNLABELED, N_COLUMNS = 500, 10_000, 5
METHODS = ("mean", "ols", "logistic", "quantile", "ols_classical")


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


def warm_interleaved(pythons: dict, env: dict, rounds: int, block_seconds: float) -> dict:
    """Warm timings with the two sides in alternation.

    One long-lived process per side (``measure.py ... serve``). In every round each method
    is timed for ``block_seconds`` on one side, then on the other (the order alternates
    between rounds), so both sides see the same load on this shared machine within about
    a second. Per side and method: the median and best of all calls, and the median of
    each round; the speed-up of a round is the ratio of its two medians.
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
        out = {
            side: {
                method: bounds | {"times": [], "round_medians": []}
                for method, bounds in ask(side, "warmup").items()
            }
            for side in procs
        }
        sides = list(procs)
        for r in range(rounds):
            for method in METHODS:
                for side in sides if r % 2 == 0 else sides[::-1]:
                    times = ask(side, f"{method} {block_seconds}")["times"]
                    out[side][method]["times"] += times
                    out[side][method]["round_medians"].append(statistics.median(times))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    for side_results in out.values():
        for row in side_results.values():
            times = row.pop("times")
            row |= {"median_s": statistics.median(times), "best_s": min(times),
                    "calls": len(times)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--block-seconds", type=float, default=0.3)
    args = parser.parse_args()
    env = dict(os.environ)
    if args.blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    generate(DATA_DIR)
    pythons = {"shiftguard": ROOT / ".venv" / "bin" / "python", "ppi": ensure_ppi_venv()}

    results: dict = {"machine": platform.platform(), "cpus": os.cpu_count(),
                     "blas_threads": args.blas_threads, "warm": {}, "cold": {}}
    results["warm"] = warm_interleaved(pythons, env, args.rounds, args.block_seconds)
    for side, python in pythons.items():
        results["cold"][side] = {}
        for method in ("mean", "ols", "logistic"):
            runs = [run(python, [side, "cold", method, str(DATA_DIR)], env)
                    for _ in range(args.cold_runs)]
            results["cold"][side][method] = {
                key: statistics.median(r[0][key] for r in runs) for key in runs[0][0]
            } | {"process_wall_s": statistics.median(r[1] for r in runs)}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(results: dict) -> str:
    warm_ours, warm_peer = results["warm"]["shiftguard"], results["warm"]["ppi"]
    lines = [
        "| method | shiftguard warm | ppi-python warm | speed-up | speed-up by round "
        "(min-max) | shiftguard best | ppi-python best | speed-up (best) | "
        "mean CI width ratio (ours / ppi) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method in METHODS:
        ours, peer = warm_ours[method], warm_peer[method]
        by_round = np.divide(peer["round_medians"], ours["round_medians"])
        width_ours = np.mean(np.subtract(ours["ci_high"], ours["ci_low"]))
        width_peer = np.mean(np.subtract(peer["ci_high"], peer["ci_low"]))
        lines.append(
            f"| {method} | {ours['median_s'] * 1e3:.2f} ms | {peer['median_s'] * 1e3:.2f} ms | "
            f"{peer['median_s'] / ours['median_s']:.0f}x | "
            f"{min(by_round):.0f}-{max(by_round):.0f}x | {ours['best_s'] * 1e3:.2f} ms | "
            f"{peer['best_s'] * 1e3:.2f} ms | {peer['best_s'] / ours['best_s']:.0f}x | "
            f"{width_ours / width_peer:.3f} |"
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
    return "\n".join(lines)


if __name__ == "__main__":
    main()

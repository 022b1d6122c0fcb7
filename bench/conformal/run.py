"""Conformal prediction: shiftguard vs MAPIE vs crepes, interleaved in one run.

Run from the repository root under the shared benchmark lock (about eight minutes on 2
cores, most of it crepes' set predictors at 10-60 s a call; the first run also builds the
peers' virtualenvs ``bench/.venvs/mapie`` and ``bench/.venvs/crepes``)::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/conformal/run.py

Data and fitted models are written once per run to ``bench/out/conformal/`` (models
pickled: every venv pins scikit-learn 1.9.1 and numpy 2.4.6, so the pickles load
everywhere and every library calls the same model code). Protocol (issue 16): one
long-lived worker process per library (``worker.py``, in the library's venv) loads the
data, warms every method up on the first ``--warmup-rows`` test rows while counting every
``fit``/``predict``/``predict_proba`` call on the models (so each side is seen to make the
same model predictions), and then, in each of ``--rounds`` rounds, every method runs on
every library that has it, the order of the methods and of the libraries within a method
rotating between rounds. A run of a method is a block of ``--block-seconds`` (at least 3
turns, at most 8 s, one turn at least) in which the worker calls the method (calibrate +
predict, model predictions included) in turns with the model predictions that method
makes (``timing.MODEL_WORK``), so both see the same load. Reported per row: the median
and min-max over rounds of the block medians; "overhead", the median over rounds of the
block's median of (method - model predictions) over its turns; the ratio to shiftguard's
row with the same model work in the same round; the "ceiling", the peer's total over its
model predictions (no implementation can be faster in total than that); the 1-minute load
average read before each block. Every worker runs with
``OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS = --threads`` (default 1: the machine is shared, and
one thread is what every side is given).

Writes ``bench/out/conformal/results.json`` and ``results.md`` (the tables of
BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from figures import num, spread

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out" / "conformal"
VENVS = ROOT / "bench" / ".venvs"
HERE = Path(__file__).resolve().parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
PEERS = {
    "mapie": ["mapie==1.6.0", "numpy==2.4.6", "scikit-learn==1.9.1"],
    "crepes": ["crepes==0.9.1", "numpy==2.4.6", "scikit-learn==1.9.1"],
}
LIBRARIES = ("shiftguard", *PEERS)
TARGET_SPEEDUP = 3.0


def ensure_venv(name: str) -> Path:
    python = VENVS / name / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / name)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS[name]], check=True)
    return python


def make_data() -> None:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    n_fit, n_cal, n_test, d = 5_000, 20_000, 100_000, 10
    n = n_fit + n_cal + n_test
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + (0.5 + np.abs(X[:, 0])) * rng.normal(size=n)
    fit, cal, test = np.split(np.arange(n), [n_fit, n_fit + n_cal])
    models = {"ridge": Ridge().fit(X[fit], y[fit])}
    for name, level in (("q_lo", 0.05), ("q_hi", 0.95), ("q_med", 0.5)):
        models[name] = HistGradientBoostingRegressor(
            loss="quantile", quantile=level, max_iter=100, random_state=0
        ).fit(X[fit], y[fit])
    Xc, yc = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=10,
        n_classes=10,
        n_clusters_per_class=1,
        class_sep=0.8,
        random_state=2026,
    )
    models["logreg"] = LogisticRegression(max_iter=2000).fit(Xc[fit], yc[fit])
    arrays = {
        "Xr_cal": X[cal],
        "yr_cal": y[cal],
        "Xr_test": X[test],
        "yr_test": y[test],
        "Xr_cv": X[:2_000],
        "yr_cv": y[:2_000],
        "Xc_cal": Xc[cal],
        "yc_cal": yc[cal],
        "Xc_test": Xc[test],
        "yc_test": yc[test],
    }
    for key, value in arrays.items():
        np.save(OUT / f"{key}.npy", value)
    with open(OUT / "models.pkl", "wb") as fh:
        pickle.dump(models, fh)


class Worker:
    """A ``worker.py`` process: JSON requests in, JSON answers out; stderr to a log file."""

    def __init__(self, library: str, python: Path, env: dict[str, str]) -> None:
        self.log_path = OUT / f"worker_{library}.log"
        self.proc = subprocess.Popen(
            [str(python), str(HERE / "worker.py"), library], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log_path.open("w"), text=True, env=env,
            cwd=HERE)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text().strip().splitlines()[-5:]
            raise RuntimeError(f"worker exited: {' | '.join(tail)}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(" | ".join(answer["error"]))
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def load_average() -> float:
    return os.getloadavg()[0]


def rotated(items: list[str], r: int) -> list[str]:
    return items[r % len(items):] + items[: r % len(items)]


def interleaved_rounds(workers: dict[str, Worker], kinds: dict[str, dict[str, str]],
                       rounds: int, block_seconds: float) -> list[dict[str, Any]]:
    """In each round every method runs on every library that has it, order rotating."""
    methods = list(dict.fromkeys(m for lib in LIBRARIES for m in kinds[lib]))
    out = []
    for r in range(rounds):
        record: dict[str, Any] = {"round": r, "load_1min_start": load_average(), "runs": {}}
        for method in rotated(methods, r):
            for lib in rotated([lib for lib in LIBRARIES if method in kinds[lib]], r):
                load = load_average()
                run = workers[lib].ask(cmd="run", method=method, seconds=block_seconds)
                entry = {"load_1min": load, "seconds": statistics.median(run["times"]),
                         "calls": len(run["times"]), "score": run["score"]}
                if run["model_times"]:
                    entry["model_seconds"] = statistics.median(run["model_times"])
                    entry["overhead_seconds"] = statistics.median(
                        t - m for t, m in zip(run["times"], run["model_times"], strict=True))
                record["runs"][f"{lib}:{method}"] = entry
        record["load_1min_end"] = load_average()
        print(f"  round {r + 1}/{rounds}: load {record['load_1min_start']:.2f}-"
              f"{record['load_1min_end']:.2f}", file=sys.stderr, flush=True)
        out.append(record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true",
                        help="only rewrite results.md from the last results.json")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--block-seconds", type=float, default=0.3)
    parser.add_argument("--warmup-rows", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.report:
        report = markdown(json.loads((OUT / "results.json").read_text()))
        (OUT / "results.md").write_text(report)
        print(report)
        return
    threads = str(args.threads)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **{v: threads for v in THREAD_VARS}}
    started = datetime.datetime.now(datetime.UTC)
    load_start = load_average()
    make_data()
    pythons = {"shiftguard": Path(sys.executable), **{p: ensure_venv(p) for p in PEERS}}
    workers = {lib: Worker(lib, python, env) for lib, python in pythons.items()}
    try:
        info = {lib: w.ask(cmd="load", data_dir=str(OUT), warmup_rows=args.warmup_rows)
                for lib, w in workers.items()}
        warmup = {lib: w.ask(cmd="warmup") for lib, w in workers.items()}
        kinds = {lib: info[lib]["methods"] for lib in LIBRARIES}
        rounds = interleaved_rounds(workers, kinds, args.rounds, args.block_seconds)
    finally:
        for worker in workers.values():
            worker.close()
    results = {
        "command": " ".join(["flock /tmp/shiftguard-bench.lock .venv/bin/python",
                             "bench/conformal/run.py", *sys.argv[1:]]),
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "wall_s": (datetime.datetime.now(datetime.UTC) - started).total_seconds(),
        "load_1min_start_end": [load_start, load_average()],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "threads": args.threads, "block_seconds": args.block_seconds,
        "warmup_rows": args.warmup_rows, "workers": info, "warmup": warmup, "rounds": rounds,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    report = markdown(results)
    (OUT / "results.md").write_text(report)
    print(report)


def per_round(rounds: list[dict], key: str, field: str) -> list[float]:
    return [r["runs"][key][field] for r in rounds if field in r["runs"].get(key, {})]


def model_calls(counts: dict[str, list[int]]) -> str:
    """``{"q_lo.predict": [2, 22000]}`` as ``q_lo: predict 2 (22,000 rows)``."""
    by_owner: dict[str, list[str]] = {}
    for name, (calls, rows) in counts.items():
        owner, attr = name.rsplit(".", 1)
        by_owner.setdefault(owner, []).append(f"{attr} {calls} ({rows:,} rows)")
    return "; ".join(f"{owner}: {', '.join(calls)}" for owner, calls in by_owner.items())


def ms(seconds: float) -> str:
    """Milliseconds; a difference within 0.1 ms of zero is below the timing noise."""
    return num(1e3 * seconds) if abs(seconds) >= 1e-4 else "< 0.1"


def markdown(results: dict[str, Any]) -> str:
    rounds = results["rounds"]
    kinds = {lib: results["workers"][lib]["methods"] for lib in LIBRARIES}
    lines = [
        "| method | library | coverage | mean width / set size | model calls in one run "
        "| total ms | model predictions ms | overhead ms | peer / shiftguard (total) "
        "| ceiling | load (1 min) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary = ["| method | peer | speed-up in total, median (min-max) over rounds | ceiling "
               "| >= 3x possible? |", "|---|---|---:|---:|---|"]
    for method in kinds["shiftguard"]:
        ours = f"shiftguard:{method}"
        for lib in (lib for lib in LIBRARIES if method in kinds[lib]):
            key = f"{lib}:{method}"
            total = per_round(rounds, key, "seconds")
            model = per_round(rounds, key, "model_seconds")
            scores = {json.dumps(r["runs"][key]["score"], sort_keys=True) for r in rounds}
            score = rounds[0]["runs"][key]["score"]
            varies = "" if len(scores) == 1 else " (varies)"
            loads = per_round(rounds, key, "load_1min")
            ratio_cell = ceiling_cell = ""
            overhead_cell = "(fits included)"
            if model:
                overhead_cell = ms(statistics.median(per_round(rounds, key, "overhead_seconds")))
            if lib != "shiftguard":
                base = per_round(rounds, ours, "seconds")
                ratios = [t / o for t, o in zip(total, base, strict=True)]
                ratio_cell = spread(ratios, "x")
                ceiling = (statistics.median(t / m for t, m in zip(total, model, strict=True))
                           if model else None)
                ceiling_cell = "none" if ceiling is None else f"{num(ceiling)}x"
                summary.append(f"| {method} | {lib} | {ratio_cell} | {ceiling_cell} "
                               f"| {verdict(statistics.median(ratios), ceiling)} |")
            lines.append(
                f"| {method} | {lib} | {score['coverage']:.4f}{varies} | {score['size']:.4f} "
                f"| {model_calls(results['warmup'][lib]['model_calls'][method])} "
                f"| {spread([1e3 * t for t in total])} "
                f"| {ms(statistics.median(model)) if model else 'n/a'} | {overhead_cell} "
                f"| {ratio_cell} | {ceiling_cell} | {min(loads):.1f}-{max(loads):.1f} |"
            )
    head = [
        f"Run {results['started_utc']}, {results['wall_s']:.0f} s, {len(rounds)} rounds, "
        f"blocks of {results['block_seconds']} s, {results['threads']} thread(s) per worker. "
        "1-minute load average per round (start-end): "
        + ", ".join(f"{r['load_1min_start']:.1f}-{r['load_1min_end']:.1f}" for r in rounds)
        + ". Versions: "
        + "; ".join(", ".join(f"{k} {v}" for k, v in results["workers"][lib]["versions"].items())
                    for lib in LIBRARIES) + ".",
        "",
    ]
    return "\n".join(head + lines + [""] + summary) + "\n"


def verdict(speedup: float, ceiling: float | None) -> str:
    if speedup >= TARGET_SPEEDUP:
        return "**met**"
    if ceiling is not None and ceiling < TARGET_SPEEDUP:
        return "no: ceiling below 3x"
    return "not met"


if __name__ == "__main__":
    main()

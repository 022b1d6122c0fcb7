"""Performance estimation without labels: shiftguard vs NannyML's CBPE and DLE.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/performance/run.py

The data (``perf_data.py``, saved under ``bench/out/performance/data/``) are a model's outputs on
a labelled reference and on chunks of current rows: the flights demo month by month
(classification of late arrivals, and a regression of the delay) and seeded synthetic
shifts -- covariate shift with a well-specified model (where CBPE's and DLE's assumptions
hold for both libraries) and label shift (where only a label-shift estimate is right; ours
is ``method="label_shift"``, NannyML has none and its CBPE is shown). Each library runs in
a long-lived worker in its own venv (NannyML's is built by ``bench/drift/peer_envs.py``
when missing). A warm-up pass records every side's estimates; then in each of
``--rounds`` rounds every side runs once on every data set, in an order rotated between
rounds, with the 1-minute load average read at the start and end of each round. A run is
one fit on the reference plus the estimates of all chunks.

Accuracy: the mean absolute error of each estimate against the value realised on the
chunk's labels (accuracy at the 0.5 threshold, ROC AUC, MAE), pooled over the chunks of a
group of data sets, and the share of chunks whose interval holds the realised value (ours:
95 % intervals; NannyML: its band of +/- 3 sampling errors).

Writes ``bench/out/performance/results.json`` and ``results.md`` (the tables of
BENCHMARKS.md). ``--rounds`` below 5 or ``--datasets`` mark the run as reduced.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(BENCH_DIR.parent / "drift"))

from peer_envs import ensure_venv  # noqa: E402
from perf_data import ensure_datasets, expected_absolute_error  # noqa: E402

OUT_DIR = BENCH_DIR.parent / "out" / "performance"
FULL_ROUNDS = 5
GROUPS = {
    "flights_late": "flights, late arrival (11 months)",
    "flights_delay": "flights, arrival delay (11 months)",
    "covariate": "covariate shift (3 seeds x 8 chunks)",
    "label": "label shift (3 seeds x 9 chunks)",
    "covariate_reg": "covariate shift, regression (3 seeds x 8 chunks)",
}
LABELS = {
    ("shiftguard", "cbpe"): "shiftguard CBPE",
    ("shiftguard", "label_shift"): "shiftguard label-shift (BBSE)",
    ("shiftguard", "dle"): "shiftguard DLE",
    ("shiftguard", "dle_boosting"): "shiftguard DLE, boosting loss model",
    ("nannyml", "cbpe"): "NannyML CBPE",
    ("nannyml", "dle"): "NannyML DLE",
}


def group_of(name: str) -> str:
    return name.rsplit("_s", 1)[0] if name[-1].isdigit() else name


def sides_for(name: str, kind: str) -> list[tuple[str, str]]:
    if kind == "regression":
        return [("shiftguard", "dle"), ("shiftguard", "dle_boosting"), ("nannyml", "dle")]
    ours = [("shiftguard", "cbpe")]
    if group_of(name) == "label":
        ours.append(("shiftguard", "label_shift"))
    return [*ours, ("nannyml", "cbpe")]


def primary(name: str, kind: str) -> str:
    """Our side that the speed and accuracy targets are judged on for this data set."""
    if kind == "regression":
        return "dle"
    return "label_shift" if group_of(name) == "label" else "cbpe"


class Worker:
    """A ``worker.py`` process: JSON requests in, JSON answers out."""

    def __init__(self, peer: str, python: Path, env: dict[str, str]) -> None:
        self.peer = peer
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        self.log = (OUT_DIR / f"worker_{peer}.log").open("w")
        self.process = subprocess.Popen(
            [str(python), str(BENCH_DIR / "worker.py"), peer], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.peer} worker died; see {self.log.name}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"{self.peer}: {answer['error']}")
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()


def realised(data: dict[str, np.ndarray], metric: str) -> np.ndarray:
    from shiftguard.shift.timeline import realised_metric

    chunk = data["chunk"]
    out = []
    for i in range(len(data["chunk_names"])):
        rows = chunk == i
        out.append(realised_metric(metric, data["out_cur"][rows], data["y_cur"][rows]))
    return np.array(out)


def accuracy_table(estimates: dict[tuple[str, str, str], dict], datasets: dict[str, dict]
                   ) -> list[dict[str, Any]]:
    """Per group, metric and side: MAE of the estimates and interval coverage, and where
    the chunks' expected value is known (synthetic regression), the MAE against it."""
    pooled: dict[tuple[str, str, str, str], dict[str, list]] = {}
    for (name, peer, side), result in estimates.items():
        data = datasets[name]
        for metric, values in result.items():
            truth = realised(data, metric)
            key = (group_of(name), metric, peer, side)
            cell = pooled.setdefault(key, {"err": [], "cov": [], "err_expected": []})
            est = np.array(values["estimate"], dtype=np.float64)
            lo = np.array(values["lower"], dtype=np.float64)
            hi = np.array(values["upper"], dtype=np.float64)
            cell["err"] += np.abs(est - truth).tolist()
            cell["cov"] += ((lo <= truth) & (truth <= hi)).tolist()
            expected = expected_absolute_error(name, data)
            if expected is not None and metric == "mae":
                per_chunk = np.array([expected[data["chunk"] == i].mean()
                                      for i in range(len(data["chunk_names"]))])
                cell["err_expected"] += np.abs(est - per_chunk).tolist()
    return [{"group": g, "metric": m, "peer": p, "side": s,
             "label": LABELS[(p, s)], "n_chunks": len(cell["err"]),
             "mean_absolute_error": float(np.mean(cell["err"])),
             "coverage": float(np.mean(cell["cov"])),
             "mean_absolute_error_vs_expected": (float(np.mean(cell["err_expected"]))
                                                 if cell["err_expected"] else None)}
            for (g, m, p, s), cell in sorted(pooled.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=FULL_ROUNDS)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads of every worker [1: the machine is shared]")
    parser.add_argument("--datasets", nargs="*", help="only these data sets (reduced run)")
    args = parser.parse_args()
    reduced = args.rounds < FULL_ROUNDS or bool(args.datasets)
    paths = ensure_datasets(OUT_DIR / "data")
    if args.datasets:
        paths = {k: v for k, v in paths.items() if k in args.datasets}
    datasets = {}
    for name, path in paths.items():
        with np.load(path) as f:
            datasets[name] = {k: f[k] for k in f.files}
    threads = str(args.threads)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads,
           "NML_DISABLE_USAGE_LOGGING": "1"}
    workers = {"shiftguard": Worker("shiftguard", Path(sys.executable), env),
               "nannyml": Worker("nannyml", ensure_venv("nannyml"), env)}
    tasks = []
    for name, data in datasets.items():
        kind = str(data["kind"])
        for peer, side in sides_for(name, kind):
            tasks.append((name, peer, side))
    for worker in workers.values():
        for name, path in paths.items():
            worker.ask(cmd="load", name=name, path=str(path))
    versions = {p: w.ask(cmd="versions")["versions"] for p, w in workers.items()}

    estimates, warmup_s = {}, {}
    for name, peer, side in tasks:
        answer = workers[peer].ask(cmd="run", side=side, name=name)
        estimates[(name, peer, side)] = answer["estimates"]
        warmup_s[(name, peer, side)] = answer["seconds"]
        print(f"warm-up {name:<18} {peer:<10} {side:<12} {answer['seconds']:8.3f} s",
              flush=True)
    times: dict[tuple[str, str, str], list[float]] = {t: [] for t in tasks}
    cpu_times: dict[tuple[str, str, str], list[float]] = {t: [] for t in tasks}
    loads = []
    for r in range(args.rounds):
        load_start = os.getloadavg()[0]
        order = tasks[r % len(tasks):] + tasks[:r % len(tasks)]
        for name, peer, side in order:
            answer = workers[peer].ask(cmd="run", side=side, name=name)
            times[(name, peer, side)].append(answer["seconds"])
            cpu_times[(name, peer, side)].append(answer["cpu_seconds"])
        loads.append((load_start, os.getloadavg()[0]))
        print(f"round {r + 1}/{args.rounds}: load {load_start:.2f} -> {loads[-1][1]:.2f}",
              flush=True)
    for worker in workers.values():
        worker.close()

    timing = []
    for (name, peer, side), values in times.items():
        arr = np.array(values) if values else np.array([warmup_s[(name, peer, side)]])
        cpu = cpu_times[(name, peer, side)]
        timing.append({"dataset": name, "peer": peer, "side": side,
                       "label": LABELS[(peer, side)], "median_s": float(np.median(arr)),
                       "min_s": float(arr.min()), "max_s": float(arr.max()),
                       "median_cpu_s": float(np.median(cpu)) if cpu else None,
                       "rounds": len(values)})
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "reduced": reduced, "rounds": args.rounds, "threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": versions, "load_average_per_round": loads,
        "accuracy": accuracy_table(estimates, datasets), "timing": timing,
        "primary": {name: primary(name, str(d["kind"])) for name, d in datasets.items()},
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "results.json").write_text(json.dumps(result, indent=2))
    (OUT_DIR / "results.md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict[str, Any]) -> str:
    loads = result["load_average_per_round"]
    load_text = (", ".join(f"{a:.1f}->{b:.1f}" for a, b in loads) if loads else "n/a")
    head = [f"{'**Reduced run** -- ' if result['reduced'] else ''}{result['date']}, "
            f"{result['rounds']} rounds, {result['threads']} thread(s) per library; "
            f"1-minute load average per round (start->end): {load_text}. Versions: "
            + "; ".join(f"{p}: " + ", ".join(f"{k} {v}" for k, v in vs.items())
                        for p, vs in result["versions"].items()) + ".", ""]
    lines = head + ["| data | metric | side | chunks | mean abs. error | interval holds "
                    "realised | mean abs. error vs expected |", "|---|---|---|---:|---:|---:|---:|"]
    for row in result["accuracy"]:
        vs_expected = row["mean_absolute_error_vs_expected"]
        expected = "" if vs_expected is None else f"{vs_expected:.4f}"
        lines.append(f"| {GROUPS.get(row['group'], row['group'])} | {row['metric']} | "
                     f"{row['label']} | {row['n_chunks']} | {row['mean_absolute_error']:.4f}"
                     f" | {row['coverage']:.0%} | {expected} |")
    lines += ["", "| data set | side | median s | min-max s | median CPU s | rounds |",
              "|---|---|---:|---:|---:|---:|"]
    for row in result["timing"]:
        cpu = "" if row["median_cpu_s"] is None else f"{row['median_cpu_s']:.3f}"
        lines.append(f"| {row['dataset']} | {row['label']} | {row['median_s']:.3f} | "
                     f"{row['min_s']:.3f}-{row['max_s']:.3f} | {cpu} | {row['rounds']} |")
    lines += ["", "| data set | ours (primary) | NannyML / ours, median wall s | same, median "
              "CPU s |", "|---|---|---:|---:|"]
    by_key = {(r["dataset"], r["peer"], r["side"]): r for r in result["timing"]}
    for name, side in result["primary"].items():
        ours = by_key[(name, "shiftguard", side)]
        peer = by_key[(name, "nannyml", "dle" if side == "dle" else "cbpe")]
        cpu = ("" if ours["median_cpu_s"] is None else
               f"{peer['median_cpu_s'] / ours['median_cpu_s']:.2f}x")
        lines.append(f"| {name} | {LABELS[('shiftguard', side)]} | "
                     f"{peer['median_s'] / ours['median_s']:.2f}x | {cpu} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Batch drift benchmark: shiftguard vs NannyML, alibi-detect, frouros, Evidently and scipy.

Run from the repository root with the project venv, under the shared benchmark lock::

    flock /tmp/shiftguard-bench.lock .venv/bin/python bench/drift/run.py

One long-lived worker process per peer library (``worker.py``, in the peer's own venv under
``bench/.venvs/``, built by ``peer_envs.py`` when missing) loads the seeded data
(``data.py``, saved under ``bench/out/drift/``), fits each side once, warms up, and then
answers "run this side on this sample" requests. The measurements are interleaved: in
each of ``--rounds`` rounds every side runs once on the null and once on the shifted
sample, in an order rotated between rounds, and the 1-minute load average is read at the
start and the end of every round. Each run starts ``SETTLE_S`` after the previous one
ended, whichever worker ran it, so that the previous side's idle BLAS/OpenMP threads
(OpenBLAS's spin for up to about 0.1 s after a call) have gone to sleep and do not take a
core from the next side. Sides too slow to repeat (Evidently) and sides kept only
for their verdicts run in one extra round, beside shiftguard's defaults. Every worker gets
the same thread settings (``--threads``, default: the machine's cores).

Parts (``--parts``, default all four):

``headline``  100,000 x 50: shiftguard defaults (the headline row) and per-feature path,
              the peers, and the scipy loop in the project venv and in the peers' venvs.
``scale``     our side only: 10^7 x 10 (defaults vs per-feature, interleaved), 10^5 x 1,000
              and 200 x 5,000 (defaults and per-feature, which localisation method ran).
``memory``    peak RSS rise of one fit + compare at 100,000 x 50, in a fresh worker.
``mmd``       ``mmd_test`` vs alibi-detect's ``MMDDrift`` at n = 2,000, d = 32, B = 1,000
              (alibi-detect alone takes 80-300 s, depending on the load).

``--rows N`` shrinks the headline data for a quick check (results then go to
``results_rows<N>.json``), ``--scale-checks 200x5000`` runs only some scale checks,
``--skip evidently`` leaves a peer library's sides out of the headline part. Writes
``bench/out/drift/results.json`` and ``results.md`` (the tables of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from data import ensure_dataset, ensure_mmd_data  # noqa: E402
from peer_envs import ensure_venv  # noqa: E402

OUT_DIR = BENCH_DIR.parent / "out" / "drift"
SAMPLES = ("null", "shifted")
# A request that runs longer than this is stopped and recorded as such: "no default path
# that can run for minutes" is one of the targets, so the bench must not hang on one.
REQUEST_TIMEOUT_S = 600.0
# Pause before every timed run (see the module docstring).
SETTLE_S = 0.3


@dataclasses.dataclass(frozen=True)
class Contender:
    """One timed row: a side of a peer module, run by the worker of ``(peer, venv)``."""

    label: str
    peer: str
    venv: str
    side: str
    once: bool = False  # one round only (slow, or kept for its verdict)
    warmup_rows: int | None = None  # warm up on the first rows only (slow sides)

    @property
    def key(self) -> str:
        return f"{self.peer}@{self.venv}:{self.side}"


HEADLINE = Contender("shiftguard `DriftDetector()` defaults, fitted `compare`",
                     "shiftguard", "project", "defaults")
PER_FEATURE = Contender("shiftguard per-feature path (`multivariate=\"none\", "
                        "localize=False`), fitted", "shiftguard", "project", "per_feature")
NANNYML = Contender("NannyML `UnivariateDriftCalculator` KS, 1 chunk, fitted `calculate`",
                    "nannyml", "nannyml", "ks")
SCIPY = Contender("scipy `ks_2samp` loop, project venv", "scipy", "project", "ks_loop")
HEADLINE_SIDES = (
    HEADLINE,
    Contender("shiftguard defaults, pandas DataFrame input", "shiftguard", "project",
              "defaults_pandas"),
    PER_FEATURE,
    NANNYML,
    SCIPY,
    Contender("scipy `ks_2samp` loop, NannyML's venv", "scipy", "nannyml", "ks_loop"),
    Contender("scipy `ks_2samp` loop, frouros' venv (the NumPy/SciPy of alibi-detect's)",
              "scipy", "frouros", "ks_loop"),
    Contender("alibi-detect `KSDrift.predict`", "alibi", "alibi", "ks"),
    Contender("frouros `KSTest.compare` per column, fitted", "frouros", "frouros", "ks"),
    Contender("NannyML default method (Jensen-Shannon), 1 chunk", "nannyml", "nannyml",
              "default_method", once=True),
    Contender("NannyML KS, default chunking (10 chunks; any chunk alerts)", "nannyml",
              "nannyml", "ks_default_chunks", once=True),
    Contender("Evidently `DataDriftPreset()` (default: normed Wasserstein)", "evidently",
              "evidently", "default", once=True, warmup_rows=1_000),
    Contender("Evidently `DataDriftPreset(method=\"ks\")`", "evidently", "evidently", "ks",
              once=True, warmup_rows=1_000),
)
# (name, rows, columns, shift in sd of the shifted columns, rounds, warm-up rows)
SCALE_CHECKS = (
    ("1e7x10", 10_000_000, 10, 0.05, 3, 100_000),
    ("1e5x1000", 100_000, 1_000, 0.05, 3, 2_000),
    ("200x5000", 200, 5_000, 1.0, 3, None),
)
SCALE_SIDES = (
    Contender("defaults", "shiftguard", "project", "defaults"),
    Contender("per-feature", "shiftguard", "project", "per_feature"),
)


class Worker:
    """A ``worker.py`` process: JSON requests in, JSON answers out, each under a timeout."""

    def __init__(self, peer: str, venv: str, env: dict[str, str], log_dir: Path) -> None:
        python = Path(sys.executable) if venv == "project" else ensure_venv(venv)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{peer}@{venv}.log"
        self.proc = subprocess.Popen(
            [str(python), str(BENCH_DIR / "worker.py"), peer], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log_path.open("w"), text=True, env=env,
            cwd=BENCH_DIR)
        self._read(REQUEST_TIMEOUT_S)

    def ask(self, timeout: float = REQUEST_TIMEOUT_S, **request: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            tail = self.log_path.read_text().strip().splitlines()[-5:]
            raise RuntimeError("worker exited: " + " | ".join(tail))
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(" | ".join(answer["error"]))
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def load_average() -> float:
    return os.getloadavg()[0]


def start_workers(contenders: tuple[Contender, ...], env: dict[str, str], data_dir: Path,
                  log_dir: Path) -> tuple[dict[str, Worker], dict[str, Any]]:
    """One worker per (peer, venv), fitted on ``data_dir`` for its sides; info per worker."""
    workers: dict[str, Worker] = {}
    info: dict[str, Any] = {}
    for peer_venv in dict.fromkeys(f"{c.peer}@{c.venv}" for c in contenders):
        peer, venv = peer_venv.split("@")
        sides = [c.side for c in contenders if (c.peer, c.venv) == (peer, venv)]
        print(f"  start {peer_venv} ({', '.join(sides)})", file=sys.stderr, flush=True)
        try:
            worker = Worker(peer, venv, env, log_dir)
            info[peer_venv] = worker.ask(cmd="load", data_dir=str(data_dir), sides=sides,
                                         samples=list(SAMPLES))
            workers[peer_venv] = worker
        except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
            info[peer_venv] = {"error": str(exc)}
    return workers, info


def interleaved_rounds(contenders: tuple[Contender, ...], workers: dict[str, Worker],
                       rounds: int, first_round: int = 0) -> list[dict[str, Any]]:
    """``rounds`` rounds; in each, every side runs once per sample, order rotated by round.

    A side whose worker failed is skipped; a side that fails in a round is recorded with
    its error and left out of the later rounds.
    """
    failed: dict[str, str] = {}
    out = []
    for r in range(first_round, first_round + rounds):
        live = [c for c in contenders if f"{c.peer}@{c.venv}" in workers]
        shift = r % len(live)
        order = live[shift:] + live[:shift]
        record: dict[str, Any] = {"round": r, "order": [c.key for c in order],
                                  "load_1min_start": load_average(), "runs": {}}
        for sample in SAMPLES:
            for c in order:
                if c.key in failed:
                    continue
                time.sleep(SETTLE_S)
                try:
                    answer = workers[f"{c.peer}@{c.venv}"].ask(cmd="run", side=c.side,
                                                               sample=sample)
                except (RuntimeError, TimeoutError) as exc:
                    failed[c.key] = str(exc)
                    answer = {"error": str(exc)}
                record["runs"].setdefault(c.key, {})[sample] = answer
        record["load_1min_end"] = load_average()
        print(f"  round {r}: load {record['load_1min_start']:.2f}-"
              f"{record['load_1min_end']:.2f}", file=sys.stderr, flush=True)
        out.append(record)
    return out


def warm_up(contenders: tuple[Contender, ...], workers: dict[str, Worker]) -> dict[str, Any]:
    out = {}
    for c in contenders:
        worker = workers.get(f"{c.peer}@{c.venv}")
        if worker is None:
            continue
        try:
            out[c.key] = worker.ask(cmd="warmup", side=c.side, rows=c.warmup_rows)
        except (RuntimeError, TimeoutError) as exc:
            out[c.key] = {"error": str(exc)}
    return out


def close_all(workers: dict[str, Worker]) -> None:
    for worker in workers.values():
        worker.close()


def headline_part(env: dict[str, str], n_rows: int, rounds: int,
                  skip: tuple[str, ...] = ()) -> dict[str, Any]:
    data_dir = ensure_dataset(OUT_DIR / f"headline{n_rows}x50", n_rows, 50, 0.05)
    sides = tuple(c for c in HEADLINE_SIDES if c.peer not in skip)
    workers, info = start_workers(sides, env, data_dir, OUT_DIR / "logs")
    try:
        warmup = warm_up(sides, workers)
        repeated = tuple(c for c in sides if not c.once)
        once = (HEADLINE, *(c for c in sides if c.once))
        result = interleaved_rounds(repeated, workers, rounds)
        result += interleaved_rounds(once, workers, 1, first_round=rounds)
    finally:
        close_all(workers)
    return {"data_dir": str(data_dir), "rows": n_rows, "columns": 50,
            "contenders": [dataclasses.asdict(c) | {"key": c.key} for c in sides],
            "skipped_peers": list(skip),
            "workers": info, "warmup": warmup, "rounds": result, "repeated_rounds": rounds}


def scale_part(env: dict[str, str], names: list[str]) -> dict[str, Any]:
    out = {}
    for name, n_rows, n_columns, shift_sd, rounds, warmup_rows in SCALE_CHECKS:
        if name not in names:
            continue
        print(f"scale {name}: data", file=sys.stderr, flush=True)
        data_dir = ensure_dataset(OUT_DIR / f"scale{name}", n_rows, n_columns, shift_sd)
        sides = tuple(dataclasses.replace(c, warmup_rows=warmup_rows) for c in SCALE_SIDES)
        workers, info = start_workers(sides, env, data_dir, OUT_DIR / "logs")
        try:
            warmup = warm_up(sides, workers)
            result = interleaved_rounds(sides, workers, rounds)
        finally:
            close_all(workers)
        out[name] = {"rows": n_rows, "columns": n_columns, "shift_sd": shift_sd,
                     "data_dir": str(data_dir), "workers": info, "warmup": warmup,
                     "rounds": result}
    return out


def memory_part(env: dict[str, str], n_rows: int) -> dict[str, Any]:
    data_dir = ensure_dataset(OUT_DIR / f"headline{n_rows}x50", n_rows, 50, 0.05)
    out = {}
    for c in (HEADLINE, PER_FEATURE):
        worker = Worker(c.peer, c.venv, env, OUT_DIR / "logs")
        try:
            out[c.key] = worker.ask(cmd="memory", data_dir=str(data_dir), side=c.side,
                                    sample="shifted")
        except (RuntimeError, TimeoutError) as exc:
            out[c.key] = {"error": str(exc)}
        finally:
            worker.close()
    return out


def mmd_part(env: dict[str, str]) -> dict[str, Any]:
    data_dir = ensure_mmd_data(OUT_DIR / "mmd")
    out = {}
    for peer, venv in (("shiftguard", "project"), ("alibi", "alibi")):
        load_start = load_average()
        try:
            worker = Worker(peer, venv, env, OUT_DIR / "logs")
            try:
                out[peer] = worker.ask(cmd="task", name="mmd", data_dir=str(data_dir))
            finally:
                worker.close()
        except (RuntimeError, TimeoutError) as exc:
            out[peer] = {"error": str(exc)}
        out[peer]["load_1min_start_end"] = [load_start, load_average()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--parts", default="headline,scale,memory,mmd")
    parser.add_argument("--scale-checks", default=",".join(c[0] for c in SCALE_CHECKS))
    parser.add_argument("--skip", default="", help="peers left out of the headline part")
    args = parser.parse_args()
    skip = tuple(p for p in args.skip.split(",") if p)
    parts = args.parts.split(",")
    threads = str(args.threads)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": threads,
           "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "NUMBA_NUM_THREADS": threads}
    results_path = OUT_DIR / ("results.json" if args.rows == 100_000
                              else f"results_rows{args.rows}.json")
    results: dict[str, Any] = (json.loads(results_path.read_text())
                               if results_path.exists() else {})
    started = datetime.datetime.now(datetime.UTC)
    results["run"] = {
        "command": " ".join(["flock /tmp/shiftguard-bench.lock .venv/bin/python",
                             "bench/drift/run.py", *sys.argv[1:]]),
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"), "parts": parts,
        "threads_env": {k: env[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                            "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "load_1min_start": load_average(),
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    steps = {"headline": lambda: headline_part(env, args.rows, args.rounds, skip),
             "scale": lambda: scale_part(env, args.scale_checks.split(",")),
             "memory": lambda: memory_part(env, args.rows),
             "mmd": lambda: mmd_part(env)}
    for part in parts:
        print(f"{part} ...", file=sys.stderr, flush=True)
        if part == "scale":  # a run of some scale checks keeps the others' results
            results.setdefault("scale", {}).update(steps[part]())
        else:
            results[part] = steps[part]()
        results_path.write_text(json.dumps(results, indent=1))
    results["run"]["wall_s"] = (datetime.datetime.now(datetime.UTC)
                                - started).total_seconds()
    results["run"]["load_1min_end"] = load_average()
    results_path.write_text(json.dumps(results, indent=1))
    from report import write_report

    print(write_report(results, results_path.with_suffix(".md")))


if __name__ == "__main__":
    main()

"""Long-lived measuring process of one peer library: ``python worker.py <peer>``.

It runs with the peer's own virtualenv, imports ``peer_<peer>.py`` once, and answers
requests from ``run.py``: one JSON object per line on stdin, one JSON line back on stdout,
so rounds can alternate between libraries without re-importing them (the design of
``bench/inference/measure.py``). Requests:

``{"cmd": "load", "data_dir": D, "sides": [...], "samples": [...]}``
    Read ``reference`` and the samples, ``prepare`` them, fit each side once (timed).
``{"cmd": "warmup", "side": S, "rows": k}``
    One untimed compare per sample (on its first ``k`` rows when ``k`` is given), so lazy
    imports and compiled code are loaded before the first timed round.
``{"cmd": "run", "side": S, "sample": X}``
    Time ``compare`` once on sample ``X``: wall seconds and the verdict (read off the clock).
``{"cmd": "memory", "data_dir": D, "side": S, "sample": X}``
    In a fresh worker: the rise of the peak RSS during one fit + compare on the full data,
    after one on the first 1,000 rows (so imports and compiled code are not counted).
``{"cmd": "task", "name": N, "data_dir": D}``
    A peer's extra one-off task (``TASKS[N](data_dir)``), e.g. the MMD comparison.

Peer libraries may print: the answers go to a private duplicate of stdout, and file
descriptor 1 itself is pointed at stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Side, column_names, load_table, peak_rss_bytes, to_json  # noqa: E402

WARMUP_ROWS = 1_000


class Worker:
    def __init__(self, peer: str) -> None:
        self.module = importlib.import_module(f"peer_{peer}")
        self.sides: dict[str, Side] = self.module.SIDES
        self.inputs: dict[str, dict[str, Any]] = {}
        self.fitted: dict[str, Any] = {}

    def load(self, data_dir: str, sides: list[str], samples: list[str]) -> dict[str, Any]:
        self.inputs, self.fitted = {}, {}
        arrays = {name: load_table(Path(data_dir), name) for name in ("reference", *samples)}
        names = column_names(arrays["reference"].shape[1])
        fit_s = {}
        for side in sides:
            spec = self.sides[side]
            self.inputs[side] = {k: spec.prepare(v, names) for k, v in arrays.items()}
            start = time.perf_counter()
            self.fitted[side] = spec.fit(self.inputs[side]["reference"])
            fit_s[side] = time.perf_counter() - start
        return {"fit_s": fit_s, "versions": self.module.versions(), "threads": threads(),
                "pid": os.getpid()}

    def warmup(self, side: str, rows: int | None) -> dict[str, Any]:
        spec, seconds = self.sides[side], {}
        for sample, table in self.inputs[side].items():
            if sample == "reference":
                continue
            current = table if rows is None else table[:rows]
            start = time.perf_counter()
            spec.compare(self.fitted[side], current)
            seconds[sample] = time.perf_counter() - start
        return {"seconds": seconds}

    def run(self, side: str, sample: str) -> dict[str, Any]:
        spec = self.sides[side]
        current = self.inputs[side][sample]
        start = time.perf_counter()
        result = spec.compare(self.fitted[side], current)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "summary": spec.summary(result)}

    def memory(self, data_dir: str, side: str, sample: str) -> dict[str, Any]:
        spec = self.sides[side]
        reference, current = (load_table(Path(data_dir), k) for k in ("reference", sample))
        names = column_names(reference.shape[1])
        reference, current = spec.prepare(reference, names), spec.prepare(current, names)
        spec.compare(spec.fit(reference[:WARMUP_ROWS]), current[:WARMUP_ROWS])
        before = peak_rss_bytes()
        spec.compare(spec.fit(reference), current)
        after = peak_rss_bytes()
        return {"peak_rss_before_bytes": before, "peak_rss_after_bytes": after,
                "peak_rss_rise_bytes": max(0, after - before),
                "input_bytes": int(load_nbytes(Path(data_dir), ("reference", sample)))}

    def task(self, name: str, data_dir: str) -> dict[str, Any]:
        return self.module.TASKS[name](Path(data_dir))

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.pop("cmd")
        return getattr(self, cmd)(**request)


def load_nbytes(data_dir: Path, names: tuple[str, ...]) -> int:
    import numpy as np

    return sum(np.load(data_dir / f"{n}.npy", mmap_mode="r").nbytes for n in names)


def threads() -> dict[str, Any]:
    """Thread pools this process actually has (after the peer library was imported)."""
    out: dict[str, Any] = {k: os.environ.get(k) for k in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    if "numba" in sys.modules:
        out["numba"] = sys.modules["numba"].get_num_threads()
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return out
    out["threadpools"] = sorted({f"{p['internal_api']}:{p['num_threads']}"
                                 for p in threadpool_info()})
    return out


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(sys.argv[1])
    answers.write(to_json({"ready": True, "pid": os.getpid()}) + "\n")
    answers.flush()
    for line in sys.stdin:
        try:
            reply = worker.answer(json.loads(line))
        except Exception:  # noqa: BLE001 - reported to run.py, which records it
            reply = {"error": traceback.format_exc().strip().splitlines()[-6:]}
        answers.write(to_json(reply) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

"""Long-lived measuring process of one library: ``python worker.py <library>``.

Runs in the library's own virtualenv, imports ``peer_<library>.py`` once and answers
requests from ``run.py``, one JSON object per line on stdin and one JSON line back (the
pattern of ``bench/drift/worker.py``), so rounds can alternate between libraries without
re-importing them. Requests:

``{"cmd": "load", "data_dir": D, "warmup_rows": k}``
    Read the data and the pickled models, and keep the first ``k`` test rows apart for the
    warm-up. Answers the methods and their kinds, versions and thread pools.
``{"cmd": "warmup"}``
    Every method once on the first ``k`` test rows (lazy imports, compiled code), with its
    ``fit``/``predict``/``predict_proba`` calls counted; every kind's model work once.
``{"cmd": "run", "method": M, "seconds": s}``
    Time method ``M`` in turns with the model predictions it makes (``timing.MODEL_WORK``;
    ``timing.time_turns``) for ``s`` seconds: the wall times of both, and the coverage
    and size of the method's last output (scored off the clock).

The answers go to a private duplicate of stdout; file descriptor 1 points at stderr, so
whatever a library prints or warns cannot corrupt them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import (  # noqa: E402
    counted_model_calls,
    first_test_rows,
    load,
    model_work,
    time_turns,
)


class Worker:
    def __init__(self, library: str) -> None:
        self.module = importlib.import_module(f"peer_{library}")

    def load(self, data_dir: str, warmup_rows: int) -> dict[str, Any]:
        self.data, self.models = load(Path(data_dir))
        self.small = first_test_rows(self.data, warmup_rows)
        self.methods = self.module.methods(self.models)
        return {"methods": {name: m.kind for name, m in self.methods.items()},
                "versions": self.module.versions(), "threads": threads(), "pid": os.getpid()}

    def warmup(self) -> dict[str, Any]:
        calls = {}
        for name, method in self.methods.items():
            with counted_model_calls(self.models) as counts:
                method.call(self.small)
            calls[name] = dict(sorted(counts.items()))
        for kind in {m.kind for m in self.methods.values()}:
            model_work(self.small, self.models, kind)()
        return {"model_calls": calls}

    def run(self, method: str, seconds: float) -> dict[str, Any]:
        chosen = self.methods[method]
        fns = [lambda: chosen.call(self.data)]
        if chosen.kind != "none":
            fns.append(model_work(self.data, self.models, chosen.kind))
        out, times = time_turns(fns, seconds)
        return {"times": times[0], "model_times": times[1] if len(times) > 1 else [],
                "score": chosen.score(out, self.data)}

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.pop("cmd")
        return getattr(self, cmd)(**request)


def threads() -> dict[str, Any]:
    """Thread settings and the thread pools this process actually has."""
    out: dict[str, Any] = {k: os.environ.get(k) for k in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    from threadpoolctl import threadpool_info

    out["threadpools"] = sorted({f"{p['internal_api']}:{p['num_threads']}"
                                 for p in threadpool_info()})
    return out


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker(sys.argv[1])
    for line in sys.stdin:
        try:
            reply = worker.answer(json.loads(line))
        except Exception:  # noqa: BLE001 - reported to run.py, which stops with it
            reply = {"error": traceback.format_exc().strip().splitlines()[-6:]}
        answers.write(json.dumps(reply) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()

"""Long-lived measuring process of one library: ``python worker.py <peer>``.

Runs in the peer's own virtualenv, imports ``peer_<peer>.py`` once and answers requests
from ``run.py``, one JSON object per line (the pattern of ``bench/drift/worker.py``):

``{"cmd": "load", "name": N, "path": P}``   read a data set and ``prepare`` it (untimed).
``{"cmd": "run", "side": S, "name": N}``    time one fit + estimate of side ``S`` on ``N``
                                            (wall seconds, and the process's CPU seconds,
                                            which other jobs on a busy machine disturb
                                            less) and return its estimates.
``{"cmd": "versions"}``                     library versions.

The answers go to a private duplicate of stdout; file descriptor 1 points at stderr, so
whatever a library prints cannot corrupt them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(peer: str) -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    module = importlib.import_module(f"peer_{peer}")
    prepared = {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["cmd"] == "load":
                with np.load(request["path"]) as f:
                    prepared[request["name"]] = module.prepare({k: f[k] for k in f.files})
                answer = {"ok": True}
            elif request["cmd"] == "run":
                start, start_cpu = time.perf_counter(), time.process_time()
                estimates = module.SIDES[request["side"]](prepared[request["name"]])
                answer = {"ok": True, "seconds": time.perf_counter() - start,
                          "cpu_seconds": time.process_time() - start_cpu,
                          "estimates": estimates}
            else:
                answer = {"ok": True, "versions": module.versions()}
        except Exception:  # report to run.py, which stops with the traceback
            answer = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(answer, default=float) + "\n")
        answers.flush()


if __name__ == "__main__":
    main(sys.argv[1])

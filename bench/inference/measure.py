"""One measurement in a fresh process, JSON on stdout.

    python measure.py <side> cold <method> <data_dir>   # import + first call
    python measure.py <side> serve <data_dir>           # warm timings on request (stdin)

``side`` is ``shiftguard`` (run with the project venv) or ``ppi`` (run with
``bench/.venvs/ppi``, which has ppi-python 0.2.3). Only the standard library is imported
before the clock starts in ``cold`` mode. Both sides also have ``ols_numpy``, the same
plain NumPy/SciPy OLS interval in each venv, so a difference of NumPy/SciPy versions or of
process state between the venvs shows on work that is identical on both sides.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ALPHA = 0.1


def load_library(side: str):
    """Import the side's library and return ``{method: callable(data) -> (lo, hi)}``."""
    if side == "shiftguard":
        from shiftguard.inference import (
            ppi_logistic_ci,
            ppi_mean_ci,
            ppi_ols_ci,
            ppi_quantile_ci,
        )

        def interval(res):
            return res.ci_low, res.ci_high

        # small_sample=False: the same (normal, HC0) interval ppi-python computes, so both
        # sides do the same work; our default (the "_defaults" rows, what a user gets) adds
        # HC3 and t quantiles (issue 10).
        same = {"alpha": ALPHA, "small_sample": False}
        return {
            "mean": lambda d: interval(ppi_mean_ci(d["y"], d["yhat"], d["yhat_u"], **same)),
            "mean_defaults": lambda d: interval(
                ppi_mean_ci(d["y"], d["yhat"], d["yhat_u"], alpha=ALPHA)
            ),
            "ols": lambda d: interval(
                ppi_ols_ci(d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], **same)
            ),
            "ols_defaults": lambda d: interval(
                ppi_ols_ci(d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], alpha=ALPHA)
            ),
            "ols_classical": lambda d: interval(
                ppi_ols_ci(d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], lam=0.0, **same)
            ),
            "logistic": lambda d: interval(
                ppi_logistic_ci(d["X"], d["yb"], d["ybhat"], d["Xu"], d["ybhat_u"], **same)
            ),
            "logistic_defaults": lambda d: interval(
                ppi_logistic_ci(d["X"], d["yb"], d["ybhat"], d["Xu"], d["ybhat_u"], alpha=ALPHA)
            ),
            "quantile": lambda d: interval(
                ppi_quantile_ci(d["y"], d["yhat"], d["yhat_u"], 0.5, alpha=ALPHA)
            ),
            "ols_numpy": numpy_ols_ci,
        }
    import ppi_py

    return {
        "mean": lambda d: ppi_py.ppi_mean_ci(d["y"], d["yhat"], d["yhat_u"], alpha=ALPHA),
        "ols": lambda d: ppi_py.ppi_ols_ci(
            d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], alpha=ALPHA
        ),
        "ols_classical": lambda d: ppi_py.ppi_ols_ci(
            d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], alpha=ALPHA, lam=0
        ),
        "logistic": lambda d: ppi_py.ppi_logistic_ci(
            d["X"], d["yb"], d["ybhat"], d["Xu"], d["ybhat_u"], alpha=ALPHA
        ),
        "quantile": lambda d: ppi_py.ppi_quantile_ci(
            d["y"], d["yhat"], d["yhat_u"], 0.5, alpha=ALPHA
        ),
        "ols_numpy": numpy_ols_ci,
    }


def numpy_ols_ci(d: dict):
    """Classical OLS with an HC0 sandwich and normal quantiles, NumPy/SciPy only.

    On the unlabelled rows' predictions (10,000 x 5): the shared baseline, the same code
    in both venvs.
    """
    import numpy as np
    from scipy.stats import norm

    X, y = d["Xu"], d["yhat_u"]
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ (X.T @ y)
    resid = y - X @ beta
    meat = (X * (resid**2)[:, None]).T @ X
    se = np.sqrt(np.diag(bread @ meat @ bread))
    z = norm.ppf(1 - ALPHA / 2)
    return beta - z * se, beta + z * se


def load_data(data_dir: Path) -> dict:
    import numpy as np

    return {p.stem: np.load(p) for p in sorted(data_dir.glob("*.npy"))}


def cold(side: str, method: str, data_dir: Path) -> dict:
    library = load_library(side)
    imported = time.perf_counter()
    data = load_data(data_dir)
    loaded = time.perf_counter()
    library[method](data)
    done = time.perf_counter()
    return {
        "import_s": imported - START,
        "first_call_s": done - loaded,
        "import_plus_first_call_s": (imported - START) + (done - loaded),
    }


def serve(side: str, data_dir: Path) -> None:
    """Answer timing requests from ``run.py``, one JSON line per request line on stdin.

    ``warmup`` calls every method 3 times and answers with its interval; ``<method>
    <seconds>`` calls the method for about that long (at least 3 calls) and answers with
    the wall time of every call; ``versions`` answers the versions and thread pools. The
    process lives across the whole benchmark, so the two sides can be timed in
    alternation, each block a fraction of a second apart.
    """
    library = load_library(side)
    data = load_data(data_dir)
    for line in sys.stdin:
        request = line.split()
        if request[0] == "versions":
            answer = versions(side)
        elif request[0] == "warmup":
            answer = {}
            for method, call in library.items():
                for _ in range(3):
                    lo, hi = call(data)
                answer[method] = {"ci_low": _floats(lo), "ci_high": _floats(hi)}
        else:
            call, seconds = library[request[0]], float(request[1])
            times = []
            deadline = time.perf_counter() + seconds
            while len(times) < 3 or time.perf_counter() < deadline:
                t0 = time.perf_counter()
                call(data)
                times.append(time.perf_counter() - t0)
            answer = {"times": times}
        print(json.dumps(answer), flush=True)


def versions(side: str) -> dict:
    import os
    from importlib.metadata import version

    import numpy as np
    import scipy
    from threadpoolctl import threadpool_info

    library = "shiftguard" if side == "shiftguard" else "ppi-python"
    out = {library: version(library), "numpy": np.__version__, "scipy": scipy.__version__}
    out["threads"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                      "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    out["threadpools"] = sorted({f"{p['internal_api']}:{p['num_threads']}"
                                 for p in threadpool_info()})
    return out


def _floats(values) -> list:
    import numpy as np

    return np.ravel(values).tolist()


def main() -> None:
    side, mode = sys.argv[1], sys.argv[2]
    if mode == "cold":
        json.dump(cold(side, sys.argv[3], Path(sys.argv[4])), sys.stdout)
    else:
        serve(side, Path(sys.argv[3]))


if __name__ == "__main__":
    main()

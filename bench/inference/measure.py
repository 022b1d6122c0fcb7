"""One measurement in a fresh process, JSON on stdout.

    python measure.py <side> cold <method> <data_dir>   # import + first call
    python measure.py <side> warm <data_dir>            # median warm time and widths

``side`` is ``shiftguard`` (run with the project venv) or ``ppi`` (run with
``bench/.venvs/ppi``, which has ppi-python 0.2.3). Only the standard library is imported
before the clock starts in ``cold`` mode.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ALPHA = 0.1
METHODS = ("mean", "ols", "logistic", "quantile", "ols_classical")


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

        return {
            "mean": lambda d: interval(ppi_mean_ci(d["y"], d["yhat"], d["yhat_u"], alpha=ALPHA)),
            "ols": lambda d: interval(
                ppi_ols_ci(d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], alpha=ALPHA)
            ),
            "ols_classical": lambda d: interval(
                ppi_ols_ci(d["X"], d["y"], d["yhat"], d["Xu"], d["yhat_u"], alpha=ALPHA, lam=0.0)
            ),
            "logistic": lambda d: interval(
                ppi_logistic_ci(d["X"], d["yb"], d["ybhat"], d["Xu"], d["ybhat_u"], alpha=ALPHA)
            ),
            "quantile": lambda d: interval(
                ppi_quantile_ci(d["y"], d["yhat"], d["yhat_u"], 0.5, alpha=ALPHA)
            ),
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
    }


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


def warm(side: str, data_dir: Path) -> dict:
    import numpy as np

    library = load_library(side)
    data = load_data(data_dir)
    out = {}
    for method in METHODS:
        call = library[method]
        for _ in range(3):
            lo, hi = call(data)
        times = []
        deadline = time.perf_counter() + 3.0
        while len(times) < 5 or (len(times) < 200 and time.perf_counter() < deadline):
            t0 = time.perf_counter()
            call(data)
            times.append(time.perf_counter() - t0)
        out[method] = {
            "median_s": float(np.median(times)),
            "best_s": float(np.min(times)),
            "calls": len(times),
            "ci_low": np.ravel(lo).tolist(),
            "ci_high": np.ravel(hi).tolist(),
        }
    return out


def main() -> None:
    side, mode = sys.argv[1], sys.argv[2]
    if mode == "cold":
        result = cold(side, sys.argv[3], Path(sys.argv[4]))
    else:
        result = warm(side, Path(sys.argv[3]))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

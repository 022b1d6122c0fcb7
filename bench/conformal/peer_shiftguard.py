"""shiftguard side of the conformal benchmark (run by run.py in the project venv)."""

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from shiftguard.conformal import (
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    SplitConformalClassifier,
    SplitConformalRegressor,
)

OUT = Path(sys.argv[1])
d = {p.stem: np.load(p) for p in OUT.glob("*.npy")}
models = pickle.loads((OUT / "models.pkl").read_bytes())
ALPHA = 0.1


def best_of(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def interval_row(method, fn, n_test=None):
    (lower, upper), seconds = best_of(fn)
    y = d["yr_test"][:n_test]
    cov = float(np.mean((lower <= y) & (y <= upper)))
    return {
        "method": method,
        "coverage": cov,
        "size": float(np.mean(upper - lower)),
        "seconds": seconds,
    }


def set_row(method, fn):
    sets, seconds = best_of(fn)
    y = d["yc_test"]
    cov = float(sets[np.arange(y.size), y].mean())
    return {
        "method": method,
        "coverage": cov,
        "size": float(sets.sum(axis=1).mean()),
        "seconds": seconds,
    }


rows = [
    interval_row(
        "split-absolute",
        lambda: (
            SplitConformalRegressor(models["ridge"], alpha=ALPHA, prefit=True)
            .calibrate(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    interval_row(
        "cqr",
        lambda: (
            ConformalizedQuantileRegressor(models["q_lo"], models["q_hi"], alpha=ALPHA, prefit=True)
            .calibrate(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    # CV+ is scored on the first 20 000 test points (its work is n x n_test)
    interval_row(
        "cv+ (5 folds, fit included)",
        lambda: (
            JackknifePlusRegressor(models["ridge"], alpha=ALPHA, cv=5, seed=0)
            .fit(d["Xr_cv"], d["yr_cv"])
            .predict_interval(d["Xr_test"][:20_000])
        ),
        n_test=20_000,
    ),
]
for method, kwargs in (
    ("lac", {"method": "lac"}),
    ("aps (non-randomised)", {"method": "aps"}),
    ("mondrian lac", {"method": "lac", "class_conditional": True}),
):
    rows.append(
        set_row(
            method,
            lambda kw=kwargs: (
                SplitConformalClassifier(models["logreg"], alpha=ALPHA, prefit=True, **kw)
                .calibrate(d["Xc_cal"], d["yc_cal"])
                .predict_set(d["Xc_test"])
            ),
        )
    )
print(json.dumps(rows))

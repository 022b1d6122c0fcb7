"""crepes side of the conformal benchmark (run by run.py in bench/.venvs/crepes)."""

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from crepes import WrapClassifier, WrapRegressor

OUT = Path(sys.argv[1])
d = {p.stem: np.load(p) for p in OUT.glob("*.npy")}
models = pickle.loads((OUT / "models.pkl").read_bytes())
LEVEL = 0.9


def best_of(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def split_absolute():
    wrapped = WrapRegressor(models["ridge"])
    wrapped.calibrate(d["Xr_cal"], d["yr_cal"])
    return wrapped.predict_int(d["Xr_test"], confidence=LEVEL)


def sets(class_cond):
    wrapped = WrapClassifier(models["logreg"])
    wrapped.calibrate(d["Xc_cal"], d["yc_cal"], class_cond=class_cond)
    return wrapped.predict_set(d["Xc_test"], labels=False, confidence=LEVEL, smoothing=False)


rows = []
intervals, seconds = best_of(split_absolute)
y = d["yr_test"]
rows.append(
    {
        "method": "split-absolute",
        "coverage": float(np.mean((intervals[:, 0] <= y) & (y <= intervals[:, 1]))),
        "size": float(np.mean(intervals[:, 1] - intervals[:, 0])),
        "seconds": seconds,
    }
)
for method, class_cond in (("lac", False), ("mondrian lac", True)):
    chosen, seconds = best_of(lambda c=class_cond: sets(c))
    yc = d["yc_test"]
    rows.append(
        {
            "method": method,
            "coverage": float(chosen[np.arange(yc.size), yc].mean()),
            "size": float(chosen.sum(axis=1).mean()),
            "seconds": seconds,
        }
    )
print(json.dumps(rows))

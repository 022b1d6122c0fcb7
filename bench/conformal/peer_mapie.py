"""MAPIE 1.x side of the conformal benchmark (run by run.py in bench/.venvs/mapie)."""

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from mapie.classification import SplitConformalClassifier
from mapie.regression import (
    ConformalizedQuantileRegressor,
    CrossConformalRegressor,
    SplitConformalRegressor,
)
from sklearn.model_selection import KFold

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


def interval_row(method, fn, n_test=None):
    (_, pis), seconds = best_of(fn)
    lower, upper = pis[:, 0, 0], pis[:, 1, 0]
    y = d["yr_test"][:n_test]
    cov = float(np.mean((lower <= y) & (y <= upper)))
    return {
        "method": method,
        "coverage": cov,
        "size": float(np.mean(upper - lower)),
        "seconds": seconds,
    }


def set_row(method, fn):
    (_, sets), seconds = best_of(fn)
    sets = sets[:, :, 0]
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
            SplitConformalRegressor(models["ridge"], confidence_level=LEVEL, prefit=True)
            .conformalize(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    interval_row(
        "cqr",
        lambda: (
            ConformalizedQuantileRegressor(
                [models["q_lo"], models["q_hi"], models["q_med"]],
                confidence_level=LEVEL,
                prefit=True,
            )
            .conformalize(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    interval_row(
        "cv+ (5 folds, fit included)",
        lambda: (
            CrossConformalRegressor(
                models["ridge"],
                confidence_level=LEVEL,
                method="plus",
                cv=KFold(5, shuffle=True, random_state=0),
            )
            .fit_conformalize(d["Xr_cv"], d["yr_cv"])
            .predict_interval(d["Xr_test"][:20_000])
        ),
        n_test=20_000,
    ),
]
for method, score in (("lac", "lac"), ("aps (non-randomised)", "aps")):
    rows.append(
        set_row(
            method,
            lambda s=score: (
                SplitConformalClassifier(
                    models["logreg"], confidence_level=LEVEL, conformity_score=s, prefit=True
                )
                .conformalize(d["Xc_cal"], d["yc_cal"])
                .predict_set(d["Xc_test"])
            ),
        )
    )
print(json.dumps(rows))

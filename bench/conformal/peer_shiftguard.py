"""shiftguard side of the conformal benchmark (run by run.py in the project venv)."""

import json
import sys
from pathlib import Path

from timing import best_of, interval_row, load, model_seconds, set_row

from shiftguard.conformal import (
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    SplitConformalClassifier,
    SplitConformalRegressor,
)

d, models = load(Path(sys.argv[1]))
base = model_seconds(d, models)
ALPHA = 0.1
N_CV = 20_000  # CV+ is scored on the first 20 000 test points (its work is n x n_test)

regression = {
    "split-absolute": (
        "regression",
        lambda: (
            SplitConformalRegressor(models["ridge"], alpha=ALPHA, prefit=True)
            .calibrate(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    "cqr": (
        "quantile",
        lambda: (
            ConformalizedQuantileRegressor(models["q_lo"], models["q_hi"], alpha=ALPHA, prefit=True)
            .calibrate(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    "cv+ (5 folds, fit included)": (
        "none",
        lambda: (
            JackknifePlusRegressor(models["ridge"], alpha=ALPHA, cv=5, seed=0)
            .fit(d["Xr_cv"], d["yr_cv"])
            .predict_interval(d["Xr_test"][:N_CV])
        ),
    ),
}
rows = []
for method, (kind, fn) in regression.items():
    result, seconds = best_of(fn)
    y = d["yr_test"][: len(result.lower)]
    rows.append(interval_row(method, result, seconds, y, base[kind]))
for method, kwargs in (
    ("lac", {"method": "lac"}),
    ("aps (non-randomised)", {"method": "aps"}),
    ("mondrian lac", {"method": "lac", "class_conditional": True}),
):
    sets, seconds = best_of(
        lambda kw=kwargs: (
            SplitConformalClassifier(models["logreg"], alpha=ALPHA, prefit=True, **kw)
            .calibrate(d["Xc_cal"], d["yc_cal"])
            .predict_set(d["Xc_test"])
        )
    )
    rows.append(set_row(method, sets, seconds, d["yc_test"], base["classification"]))
print(json.dumps(rows))

"""MAPIE 1.x side of the conformal benchmark (run by run.py in bench/.venvs/mapie)."""

import json
import sys
from pathlib import Path

from mapie.classification import SplitConformalClassifier
from mapie.regression import (
    ConformalizedQuantileRegressor,
    CrossConformalRegressor,
    SplitConformalRegressor,
)
from sklearn.model_selection import KFold
from timing import best_of, interval_row, load, model_seconds, set_row

d, models = load(Path(sys.argv[1]))
base = model_seconds(d, models)
LEVEL = 0.9
N_CV = 20_000

regression = {
    "split-absolute": (
        "regression",
        lambda: (
            SplitConformalRegressor(models["ridge"], confidence_level=LEVEL, prefit=True)
            .conformalize(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        ),
    ),
    # MAPIE's prefit CQR also needs (and predicts with) a median model
    "cqr": (
        "quantile",
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
    "cv+ (5 folds, fit included)": (
        "none",
        lambda: (
            CrossConformalRegressor(
                models["ridge"],
                confidence_level=LEVEL,
                method="plus",
                cv=KFold(5, shuffle=True, random_state=0),
            )
            .fit_conformalize(d["Xr_cv"], d["yr_cv"])
            .predict_interval(d["Xr_test"][:N_CV])
        ),
    ),
}
rows = []
for method, (kind, fn) in regression.items():
    (_, pis), seconds = best_of(fn)
    lower, upper = pis[:, 0, 0], pis[:, 1, 0]
    y = d["yr_test"][: len(lower)]
    rows.append(interval_row(method, (lower, upper), seconds, y, base[kind]))
for method, score in (("lac", "lac"), ("aps (non-randomised)", "aps")):
    (_, sets), seconds = best_of(
        lambda s=score: (
            SplitConformalClassifier(
                models["logreg"], confidence_level=LEVEL, conformity_score=s, prefit=True
            )
            .conformalize(d["Xc_cal"], d["yc_cal"])
            .predict_set(d["Xc_test"])
        )
    )
    rows.append(set_row(method, sets[:, :, 0], seconds, d["yc_test"], base["classification"]))
print(json.dumps(rows))

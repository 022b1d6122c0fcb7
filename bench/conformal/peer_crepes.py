"""crepes side of the conformal benchmark (run by run.py in bench/.venvs/crepes)."""

import json
import sys
from pathlib import Path

from crepes import WrapClassifier, WrapRegressor
from timing import best_of, interval_row, load, model_seconds, set_row

d, models = load(Path(sys.argv[1]))
base = model_seconds(d, models)
LEVEL = 0.9


def split_absolute():
    wrapped = WrapRegressor(models["ridge"])  # a fitted learner: calibrate directly
    wrapped.calibrate(d["Xr_cal"], d["yr_cal"])
    return wrapped.predict_int(d["Xr_test"], confidence=LEVEL)


def sets(class_cond):
    wrapped = WrapClassifier(models["logreg"])
    wrapped.calibrate(d["Xc_cal"], d["yc_cal"], class_cond=class_cond)
    # smoothing=False: deterministic p-values, the same rule as unrandomised LAC
    return wrapped.predict_set(d["Xc_test"], labels=False, confidence=LEVEL, smoothing=False)


intervals, seconds = best_of(split_absolute)
rows = [
    interval_row(
        "split-absolute",
        (intervals[:, 0], intervals[:, 1]),
        seconds,
        d["yr_test"],
        base["regression"],
    )
]
for method, class_cond in (("lac", False), ("mondrian lac", True)):
    chosen, seconds = best_of(lambda c=class_cond: sets(c))
    rows.append(set_row(method, chosen, seconds, d["yc_test"], base["classification"]))
print(json.dumps(rows))

"""crepes side of the conformal benchmark (imported by worker.py in bench/.venvs/crepes)."""

from __future__ import annotations

from typing import Any

import numpy as np
from crepes import WrapClassifier, WrapRegressor
from timing import Method, interval_score, set_score

LEVEL = 0.9


def versions() -> dict[str, str]:
    import crepes
    import scipy
    import sklearn

    return {"crepes": crepes.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


def methods(models: dict[str, Any]) -> dict[str, Method]:
    """Every method as a function of the data dict (``d``), with the prefit ``models``."""

    def split_absolute(d):
        wrapped = WrapRegressor(models["ridge"])  # a fitted learner: calibrate directly
        wrapped.calibrate(d["Xr_cal"], d["yr_cal"])
        return wrapped.predict_int(d["Xr_test"], confidence=LEVEL)

    def classifier(class_cond):
        def call(d):
            wrapped = WrapClassifier(models["logreg"])
            wrapped.calibrate(d["Xc_cal"], d["yc_cal"], class_cond=class_cond)
            # smoothing=False: deterministic p-values, the same rule as unrandomised LAC
            return wrapped.predict_set(
                d["Xc_test"], labels=False, confidence=LEVEL, smoothing=False
            )

        return call

    return {
        "split-absolute": Method(
            "regression",
            split_absolute,
            lambda out, d: interval_score(out[:, 0], out[:, 1], d["yr_test"]),
        ),
        "lac": Method(
            "classification", classifier(False), lambda out, d: set_score(out, d["yc_test"])
        ),
        "mondrian lac": Method(
            "classification", classifier(True), lambda out, d: set_score(out, d["yc_test"])
        ),
    }

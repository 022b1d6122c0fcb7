"""shiftguard side of the conformal benchmark (imported by worker.py in the project venv)."""

from __future__ import annotations

from typing import Any

import numpy as np
from timing import Method, interval_score, set_score

from shiftguard.conformal import (
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    SplitConformalClassifier,
    SplitConformalRegressor,
)

ALPHA = 0.1
N_CV = 20_000  # CV+ is scored on the first 20 000 test points (its work is n x n_test)


def versions() -> dict[str, str]:
    import numba
    import scipy
    import sklearn

    import shiftguard

    return {"shiftguard": shiftguard.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "numba": numba.__version__}


def methods(models: dict[str, Any]) -> dict[str, Method]:
    """Every method as a function of the data dict (``d``), with the prefit ``models``."""

    def cqr(d):
        return (
            ConformalizedQuantileRegressor(models["q_lo"], models["q_hi"], alpha=ALPHA, prefit=True)
            .calibrate(d["Xr_cal"], d["yr_cal"])
            .predict_interval(d["Xr_test"])
        )

    def cqr_with_median(d):
        # the median model's predictions on the rows MAPIE's prefit CQR predicts it on
        models["q_med"].predict(d["Xr_cal"])
        models["q_med"].predict(d["Xr_test"])
        return cqr(d)

    def classifier(**kwargs):
        return lambda d: (
            SplitConformalClassifier(models["logreg"], alpha=ALPHA, prefit=True, **kwargs)
            .calibrate(d["Xc_cal"], d["yc_cal"])
            .predict_set(d["Xc_test"])
        )

    def intervals(result, d):
        return interval_score(result.lower, result.upper, d["yr_test"])

    def sets(result, d):
        return set_score(result, d["yc_test"])

    return {
        "split-absolute": Method(
            "regression",
            lambda d: (
                SplitConformalRegressor(models["ridge"], alpha=ALPHA, prefit=True)
                .calibrate(d["Xr_cal"], d["yr_cal"])
                .predict_interval(d["Xr_test"])
            ),
            intervals,
        ),
        "cqr": Method("quantile", cqr, intervals),
        "cqr, 3 models": Method("quantile3", cqr_with_median, intervals),
        "cv+ (5 folds, fit included)": Method(
            "none",
            lambda d: (
                JackknifePlusRegressor(models["ridge"], alpha=ALPHA, cv=5, seed=0)
                .fit(d["Xr_cv"], d["yr_cv"])
                .predict_interval(d["Xr_test"][:N_CV])
            ),
            intervals,
        ),
        "lac": Method("classification", classifier(method="lac"), sets),
        "aps": Method("classification", classifier(method="aps"), sets),
        "mondrian lac": Method(
            "classification", classifier(method="lac", class_conditional=True), sets
        ),
    }

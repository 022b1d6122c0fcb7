"""MAPIE 1.x side of the conformal benchmark (imported by worker.py in bench/.venvs/mapie)."""

from __future__ import annotations

from typing import Any

import numpy as np
from mapie.classification import SplitConformalClassifier
from mapie.regression import (
    ConformalizedQuantileRegressor,
    CrossConformalRegressor,
    SplitConformalRegressor,
)
from sklearn.model_selection import KFold
from timing import Method, interval_score, set_score

LEVEL = 0.9
N_CV = 20_000


def versions() -> dict[str, str]:
    import mapie
    import scipy
    import sklearn

    return {"mapie": mapie.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__}


def methods(models: dict[str, Any]) -> dict[str, Method]:
    """Every method as a function of the data dict (``d``), with the prefit ``models``."""

    def classifier(score):
        # random_state: MAPIE's APS randomises its calibration scores (and by default puts
        # the last label in every set); seeded, every round gives the same sets
        return lambda d: (
            SplitConformalClassifier(
                models["logreg"], confidence_level=LEVEL, conformity_score=score, prefit=True,
                random_state=0,
            )
            .conformalize(d["Xc_cal"], d["yc_cal"])
            .predict_set(d["Xc_test"])
        )

    def intervals(output, d):
        _, pis = output
        return interval_score(pis[:, 0, 0], pis[:, 1, 0], d["yr_test"])

    def sets(output, d):
        _, chosen = output
        return set_score(chosen[:, :, 0], d["yc_test"])

    return {
        "split-absolute": Method(
            "regression",
            lambda d: (
                SplitConformalRegressor(models["ridge"], confidence_level=LEVEL, prefit=True)
                .conformalize(d["Xr_cal"], d["yr_cal"])
                .predict_interval(d["Xr_test"])
            ),
            intervals,
        ),
        # MAPIE's prefit CQR takes three models (lower, upper, median) and predicts with
        # all three on the calibration and the test rows: compared with our CQR plus the
        # same median-model predictions
        "cqr, 3 models": Method(
            "quantile3",
            lambda d: (
                ConformalizedQuantileRegressor(
                    [models["q_lo"], models["q_hi"], models["q_med"]],
                    confidence_level=LEVEL,
                    prefit=True,
                )
                .conformalize(d["Xr_cal"], d["yr_cal"])
                .predict_interval(d["Xr_test"])
            ),
            intervals,
        ),
        "cv+ (5 folds, fit included)": Method(
            "none",
            lambda d: (
                CrossConformalRegressor(
                    models["ridge"],
                    confidence_level=LEVEL,
                    method="plus",
                    cv=KFold(5, shuffle=True, random_state=0),
                )
                .fit_conformalize(d["Xr_cv"], d["yr_cv"])
                .predict_interval(d["Xr_test"][:N_CV])
            ),
            intervals,
        ),
        "lac": Method("classification", classifier("lac"), sets),
        "aps": Method("classification", classifier("aps"), sets),
    }

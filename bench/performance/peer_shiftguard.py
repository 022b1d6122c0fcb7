"""shiftguard side of the performance benchmark: ``performance_over_time`` with its defaults
(one ``PerformanceEstimator`` per method fitted once on the reference, then every chunk;
CBPE: sigmoid calibration, its error by the sandwich covariance; label shift: 200
bootstrap replicates; DLE: the additive loss model, 10 cross-fitting folds);
``dle_boosting`` is DLE with the loss model it had before, histogram gradient boosting
(30 iterations at learning rate 0.3, no early stopping), refitted per fold.

``cbpe`` estimates accuracy and ROC AUC under covariate shift (calibration transfers),
``label_shift`` the same under label shift (BBSE priors), ``dle`` the mean absolute error
of a regression (a loss model on the features and the prediction).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np

from shiftguard.shift.timeline import performance_over_time


def prepare(data: dict[str, np.ndarray]) -> dict[str, Any]:
    chunk = data["chunk"]
    names = [str(n) for n in data["chunk_names"]]
    rows = [np.flatnonzero(chunk == i) for i in range(len(names))]
    return {"data": data, "names": names, "rows": rows}


def _run(prepared: dict[str, Any], metrics: tuple[str, ...], method: str,
         features: bool, **options: Any) -> dict[str, Any]:
    data, names, rows = prepared["data"], prepared["names"], prepared["rows"]
    outputs = {n: data["out_cur"][r] for n, r in zip(names, rows, strict=True)}
    extra = {}
    if features:
        extra = {"X_ref": data["X_ref"],
                 "chunks_X": {n: data["X_cur"][r] for n, r in zip(names, rows, strict=True)}}
    timeline = performance_over_time(data["out_ref"], data["y_ref"], outputs, metrics=metrics,
                                     methods=(method,), **extra, **options)
    return {m: {key: [getattr(r, key) for r in timeline.series(m, method)]
                for key in ("estimate", "lower", "upper")} for m in metrics}


SIDES = {
    "cbpe": lambda p: _run(p, ("accuracy", "roc_auc"), "cbpe", False),
    "label_shift": lambda p: _run(p, ("accuracy", "roc_auc"), "label_shift", False),
    "dle": lambda p: _run(p, ("mae",), "dle", True),
    "dle_boosting": lambda p: _run(p, ("mae",), "dle", True, loss_model=_boosting()),
}


def _boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=30, learning_rate=0.3, early_stopping=False,
                                         random_state=0)


def versions() -> dict[str, str]:
    return {"shiftguard": version("shiftguard"), "numpy": np.__version__,
            "scikit-learn": version("scikit-learn")}

"""NannyML 0.13 side of the performance benchmark: ``CBPE`` (accuracy and ROC AUC of a
binary classifier) and ``DLE`` (mean absolute error of a regression; LightGBM loss model),
fitted on the reference and run on all chunks at once.

Chunks are days: current chunk ``i`` gets the timestamp 2000-01-01 + ``i`` days and the
reference one earlier day, with ``chunk_period="D"`` (one reference chunk, one current chunk
per data chunk). Its band is ``value +/- 3 sampling errors`` (``lower/upper_confidence_
boundary``), the sampling error estimated from the reference at the chunk's size.
NannyML's usage logging (it phones home) is switched off by ``NML_DISABLE_USAGE_LOGGING``.
DLE's LightGBM model gets ``n_jobs=1`` (its only hyperparameter set; all others are
LightGBM's defaults, as in NannyML's default ``LGBMRegressor()``): LightGBM's default
``n_jobs=None`` means one thread per physical core whatever ``OMP_NUM_THREADS`` says, so
without it NannyML's DLE ran on both cores where every other side has one thread.
"""

from __future__ import annotations

import os

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import warnings  # noqa: E402
from importlib.metadata import version  # noqa: E402
from typing import Any  # noqa: E402

import nannyml  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.simplefilter("ignore")
START = pd.Timestamp("2000-01-01")


def prepare(data: dict[str, np.ndarray]) -> dict[str, Any]:
    classification = str(data["kind"]) == "classification"
    frames = {}
    for side, day in (("ref", np.full(data["y_ref"].shape[0], -1)), ("cur", data["chunk"])):
        out = data[f"out_{side}"]
        df = pd.DataFrame(data[f"X_{side}"],
                          columns=[f"x{j}" for j in range(data["X_ref"].shape[1])])
        df["ts"] = START + pd.to_timedelta(day, unit="D")
        if classification:
            df["proba"] = out
            df["pred"] = (out > 0.5).astype(int)
        else:
            df["pred"] = out
        if side == "ref":
            df["y"] = data["y_ref"]
        frames[side] = df
    features = [c for c in frames["ref"].columns if c.startswith("x")]
    return {"ref": frames["ref"], "cur": frames["cur"], "features": features,
            "n_chunks": len(data["chunk_names"])}


def _read(result: Any, metrics: list[str], n_chunks: int) -> dict[str, Any]:
    frame = result.filter(period="analysis").to_df()
    if len(frame) != n_chunks:
        raise RuntimeError(f"NannyML made {len(frame)} chunks, expected {n_chunks}")
    return {m: {"estimate": frame[(m, "value")].tolist(),
                "lower": frame[(m, "lower_confidence_boundary")].tolist(),
                "upper": frame[(m, "upper_confidence_boundary")].tolist()} for m in metrics}


def cbpe(p: dict[str, Any]) -> dict[str, Any]:
    metrics = ["accuracy", "roc_auc"]
    estimator = nannyml.CBPE(metrics=metrics, y_pred_proba="proba", y_pred="pred",
                             y_true="y", problem_type="classification_binary",
                             timestamp_column_name="ts", chunk_period="D")
    return _read(estimator.fit(p["ref"]).estimate(p["cur"]), metrics, p["n_chunks"])


def dle(p: dict[str, Any]) -> dict[str, Any]:
    estimator = nannyml.DLE(feature_column_names=p["features"], y_pred="pred", y_true="y",
                            metrics=["mae"], timestamp_column_name="ts", chunk_period="D",
                            hyperparameters={"n_jobs": 1})
    return _read(estimator.fit(p["ref"]).estimate(p["cur"]), ["mae"], p["n_chunks"])


SIDES = {"cbpe": cbpe, "dle": dle}


def versions() -> dict[str, str]:
    return {"nannyml": nannyml.__version__, "numpy": np.__version__,
            "pandas": version("pandas"), "lightgbm": version("lightgbm"),
            "scikit-learn": version("scikit-learn")}

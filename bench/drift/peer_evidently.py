"""Evidently 0.7 side of the drift benchmark: ``Report([DataDriftPreset()]).run(cur, ref)``.

Evidently has no fitted state: every run re-reads both tables (``fit`` only keeps the
reference frame). Its default per-column test for more than 1,000 reference rows is the
normed Wasserstein distance with threshold 0.1 (no p-value); ``DataDriftPreset(method="ks")``
gives KS p-values (flag at p <= 0.05, no multiplicity correction). The timed call is the
``run`` plus the ``dict()`` a user reads the verdict from.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np
import scipy
from _common import Side, as_frame
from evidently import Report
from evidently.presets import DataDriftPreset

P_VALUE_METHODS = ("ks", "K-S p_value")


def summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    values, flags, methods = [], [], set()
    count = None
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            value, threshold = float(metric["value"]), float(config["threshold"])
            is_p_value = config["method"] in P_VALUE_METHODS
            values.append(value)
            flags.append(value <= threshold if is_p_value else value >= threshold)
            methods.add(config["method"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count = metric["value"]
    # The preset's dataset verdict: at least half of the columns drifted.
    share = count.get("share", 0.0) if isinstance(count, dict) else 0.0
    out: dict[str, Any] = {"values": values, "flags": flags, "methods": sorted(methods),
                           "drifted": share >= 0.5}
    if methods <= set(P_VALUE_METHODS):
        out["pvalues"] = values
    return out


def _side(method: str | None) -> Side:
    return Side(
        fit=lambda reference: reference,
        compare=lambda reference, current: Report([DataDriftPreset(method=method)]).run(
            current, reference).dict(),
        summary=summary, prepare=as_frame)


SIDES = {"default": _side(None), "ks": _side("ks")}


def versions() -> dict[str, str]:
    return {"evidently": version("evidently"), "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": version("pandas")}

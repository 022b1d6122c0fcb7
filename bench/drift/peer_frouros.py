"""frouros 0.9 side of the drift benchmark: one fitted ``KSTest`` per column (univariate).

frouros has no multiple-testing correction and no decision rule of its own; flags here are
the per-column ``p < 0.05`` a user would write.
"""

from __future__ import annotations

from typing import Any

import frouros
import numpy as np
import scipy
from _common import Side, pvalue_flags
from frouros.detectors.data_drift import KSTest


def fit(reference: np.ndarray) -> list[KSTest]:
    detectors = []
    for j in range(reference.shape[1]):
        detector = KSTest()
        detector.fit(X=reference[:, j])
        detectors.append(detector)
    return detectors


def compare(detectors: list[KSTest], current: np.ndarray) -> list[Any]:
    return [d.compare(X=current[:, j])[0] for j, d in enumerate(detectors)]


def summary(results: list[Any]) -> dict[str, Any]:
    pvalues = [float(r.p_value) for r in results]
    flags = pvalue_flags(pvalues)
    return {"statistics": [float(r.statistic) for r in results], "pvalues": pvalues,
            "flags": flags, "drifted": any(flags)}


SIDES = {"ks": Side(fit=fit, compare=compare, summary=summary)}


def versions() -> dict[str, str]:
    return {"frouros": frouros.__version__, "numpy": np.__version__, "scipy": scipy.__version__}

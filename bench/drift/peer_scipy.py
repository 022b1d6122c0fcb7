"""The shared baseline: one ``scipy.stats.ks_2samp`` per column (``method="auto"``).

Run in the project venv and again in a peer's venv (older NumPy/SciPy), so that the effect
of the versions is seen apart from the library. scipy's p-values are the reference for the
p-value equality check. Flags: ``p < 0.05`` per column, uncorrected (what a bare loop does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy
from _common import Side, pvalue_flags
from scipy.stats import ks_2samp


def ks_loop(reference: np.ndarray, current: np.ndarray) -> dict[str, list[float]]:
    results = [ks_2samp(reference[:, j], current[:, j]) for j in range(reference.shape[1])]
    return {"statistics": [float(r.statistic) for r in results],
            "pvalues": [float(r.pvalue) for r in results]}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    flags = pvalue_flags(result["pvalues"])
    return {**result, "flags": flags, "drifted": any(flags)}


SIDES = {"ks_loop": Side(fit=lambda reference: reference, compare=ks_loop, summary=summary)}


def versions() -> dict[str, str]:
    return {"numpy": np.__version__, "scipy": scipy.__version__}

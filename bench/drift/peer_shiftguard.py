"""shiftguard side of the drift benchmark (runs in the project venv).

Sides (each fitted once per worker; only ``compare`` is timed):

``defaults``
    ``DriftDetector().fit(reference)``, then ``compare(current)``: what a user gets. Adds
    to the per-feature work the MMD joint test on at most 2,000 rows per sample and, when
    the report finds drift, the conditional-shift localisation.
``defaults_pandas``
    The same with both tables as pandas DataFrames (the form most users hold them in).
``per_feature``
    ``DriftDetector(multivariate="none", localize=False)``: one KS test per column with
    Holm's correction, the work the per-feature peers do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import scipy
from _common import MMD_PERMUTATIONS, Side, as_frame, load_mmd_data

import shiftguard
from shiftguard.drift import DriftDetector

PER_FEATURE = {"multivariate": "none", "localize": False}


def report_summary(report: Any) -> dict[str, Any]:
    multi, local = report.multivariate, report.localization
    return {
        "flags": [c.drifted for c in report.columns],
        "drifted": report.drifted,
        "pvalues": [c.pvalue for c in report.columns],
        "multivariate_pvalue": None if multi is None else multi.pvalue,
        "multivariate_rows": None if multi is None else [multi.n_reference, multi.n_current],
        "localization_method": None if local is None else local.method,
        "localization_reason": None if local is None else local.reason,
        "localization_permutations": None if local is None else local.n_permutations,
        "localized": None if local is None else list(local.flagged),
        "notes": list(report.notes),
    }


def _side(prepare: Any = None, **options: Any) -> Side:
    extra = {} if prepare is None else {"prepare": prepare}
    return Side(fit=lambda reference: DriftDetector(**options).fit(reference),
                compare=lambda detector, current: detector.compare(current),
                summary=report_summary, **extra)


SIDES = {
    "defaults": _side(),
    "defaults_pandas": _side(prepare=as_frame),
    "per_feature": _side(**PER_FEATURE),
}


def versions() -> dict[str, str]:
    return {"shiftguard": shiftguard.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__, "pandas": pd.__version__}


def reference_median_sigma(x: np.ndarray) -> float:
    """alibi-detect ``MMDDrift``'s default bandwidth: the median heuristic on ``x`` alone.

    sqrt(lower median of the squared distances over pairs i < j of ``x``, halved).
    """
    from scipy.spatial.distance import pdist

    pairs = pdist(x, "sqeuclidean")
    k = (pairs.size - 1) // 2
    return float(np.sqrt(0.5 * np.partition(pairs, k)[k]))


def mmd_task(data_dir: Path) -> dict[str, Any]:
    """``mmd_test`` at B = 1,000 (timed, after a warm-up), and at alibi-detect's bandwidth."""
    import time

    from shiftguard.stats.multivariate import mmd_test

    x, y = load_mmd_data(data_dir)
    mmd_test(x[:200], y[:200], n_permutations=MMD_PERMUTATIONS, seed=0)
    start = time.perf_counter()
    result = mmd_test(x, y, n_permutations=MMD_PERMUTATIONS, seed=0)
    seconds = time.perf_counter() - start
    at_reference_sigma = mmd_test(x, y, bandwidth=reference_median_sigma(x),
                                  n_permutations=MMD_PERMUTATIONS, seed=0)
    return {
        "seconds": seconds, "statistic": float(result.statistic),
        "pvalue": float(result.pvalue), "bandwidth": float(result.bandwidth),
        "permutations_drawn": int(result.n_permutations),
        "statistic_at_reference_sigma": float(at_reference_sigma.statistic),
        "reference_sigma": float(at_reference_sigma.bandwidth),
    }


TASKS = {"mmd": mmd_task}

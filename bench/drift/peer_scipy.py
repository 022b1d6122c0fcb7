"""Baselines in the project venv: ``scipy.stats.ks_2samp`` per column, and ``np.sort``.

scipy's p-values are the reference for p-value equality (``method="auto"``, which is the
asymptotic distribution at these sizes, as alibi-detect and frouros use). The sort of both
samples (``np.sort(axis=0)`` of each table) is the floor a cold compare is measured against.
"""

from __future__ import annotations

import numpy as np
import scipy
from _common import ALPHA, best_time, emit, load_table_data, measure_peak_rise, parse_args
from scipy.stats import ks_2samp


def compare(reference: np.ndarray, current: np.ndarray) -> dict[str, list[float]]:
    results = [ks_2samp(reference[:, j], current[:, j]) for j in range(reference.shape[1])]
    return {"statistics": [float(r.statistic) for r in results],
            "pvalues": [float(r.pvalue) for r in results]}


def sort_both(reference: np.ndarray, current: np.ndarray) -> None:
    np.sort(reference, axis=0)
    np.sort(current, axis=0)


def verdict(out: dict[str, list[float]]) -> dict[str, object]:
    return {**out, "flags": [p < ALPHA for p in out["pvalues"]]}


def main() -> None:
    task, data_dir = parse_args()
    data = load_table_data(data_dir)
    ref, shifted = data["reference"], data["shifted"]
    if task == "memory":
        emit({"library": "scipy", "memory": measure_peak_rise(compare, ref, shifted)})
        return
    emit({
        "library": "scipy", "version": scipy.__version__,
        "compare": best_time(lambda: compare(ref, shifted)),
        "sort_both": best_time(lambda: sort_both(ref, shifted)),
        "null": verdict(compare(ref, data["null"])),
        "shifted": verdict(compare(ref, shifted)),
    })


if __name__ == "__main__":
    main()

"""frouros 0.9 side of the drift benchmark: one ``KSTest`` per column (it is univariate).

frouros has no multiple-testing correction and no decision rule of its own; flags here are
the per-column ``p < 0.05`` a user would write.
"""

from __future__ import annotations

import frouros
import numpy as np
from _common import ALPHA, best_time, emit, load_table_data, measure_peak_rise, parse_args
from frouros.detectors.data_drift import KSTest


def fit(reference: np.ndarray) -> list[KSTest]:
    detectors = []
    for j in range(reference.shape[1]):
        detector = KSTest()
        detector.fit(X=reference[:, j])
        detectors.append(detector)
    return detectors


def compare(detectors: list[KSTest], current: np.ndarray) -> dict[str, list[float]]:
    results = [d.compare(X=current[:, j])[0] for j, d in enumerate(detectors)]
    return {"statistics": [float(r.statistic) for r in results],
            "pvalues": [float(r.p_value) for r in results]}


def verdict(out: dict[str, list[float]]) -> dict[str, object]:
    flags = [p < ALPHA for p in out["pvalues"]]
    return {**out, "flags": flags}


def main() -> None:
    task, data_dir = parse_args()
    data = load_table_data(data_dir)
    if task == "memory":
        emit({"library": "frouros", "memory": measure_peak_rise(
            lambda r, c: compare(fit(r), c), data["reference"], data["shifted"])})
        return
    detectors = fit(data["reference"])
    emit({
        "library": "frouros", "version": frouros.__version__,
        "fit": best_time(lambda: fit(data["reference"]), repeats=1),
        "compare": best_time(lambda: compare(detectors, data["shifted"])),
        "null": verdict(compare(detectors, data["null"])),
        "shifted": verdict(compare(detectors, data["shifted"])),
    })


if __name__ == "__main__":
    main()

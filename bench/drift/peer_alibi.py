"""alibi-detect 0.13 side of the drift benchmark: ``KSDrift`` and ``MMDDrift`` (PyTorch).

``KSDrift(reference)`` stores the reference; each ``predict`` runs ``scipy.stats.ks_2samp``
per feature (``mode="asymp"``) and stores p-values as float32. Its batch decision applies
Bonferroni (``p_val / n_features``); its per-feature flags (``drift_type="feature"``) are
``p < p_val`` with no multiplicity correction.

``MMDDrift(x, backend="pytorch", n_permutations=1000)``: Gaussian kernel with the bandwidth
from the reference (sigma^2 = median of the reference's squared pairwise distances / 2),
unbiased MMD^2, p-value = share of permuted statistics >= the observed one.
"""

from __future__ import annotations

import alibi_detect
import numpy as np
import torch
from _common import (
    ALPHA,
    MMD_PERMUTATIONS,
    best_time,
    emit,
    load_mmd_data,
    load_table_data,
    measure_peak_rise,
    once_time,
    parse_args,
)
from alibi_detect.cd import KSDrift, MMDDrift


def verdict(detector: KSDrift, current: np.ndarray) -> dict[str, object]:
    features = detector.predict(current, drift_type="feature")["data"]
    batch = detector.predict(current, drift_type="batch")["data"]
    return {
        "statistics": features["distance"].astype(float).tolist(),
        "pvalues": features["p_val"].astype(float).tolist(),
        "flags": np.asarray(features["is_drift"], dtype=bool).tolist(),
        "drifted": bool(batch["is_drift"]),
    }


def time_task(data: dict[str, np.ndarray]) -> dict[str, object]:
    fit_s, detector = once_time(lambda: KSDrift(data["reference"], p_val=ALPHA))
    return {
        "library": "alibi-detect", "version": alibi_detect.__version__,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "fit_s": fit_s,
        "compare": best_time(lambda: detector.predict(data["shifted"]), repeats=3),
        "null": verdict(detector, data["null"]),
        "shifted": verdict(detector, data["shifted"]),
    }


def mmd_task(data_dir: object) -> dict[str, object]:
    x, y = load_mmd_data(data_dir)
    torch.manual_seed(0)
    fit_s, detector = once_time(lambda: MMDDrift(
        x, backend="pytorch", p_val=ALPHA, n_permutations=MMD_PERMUTATIONS))
    predict_s, prediction = once_time(lambda: detector.predict(y))
    out = prediction["data"]
    return {
        "library": "alibi-detect", "version": alibi_detect.__version__,
        "torch_threads": torch.get_num_threads(),
        "fit_s": fit_s, "mmd": {"best_s": predict_s, "median_s": predict_s, "repeats": 1},
        "statistic": float(out["distance"]), "pvalue": float(out["p_val"]),
        "sigma": float(detector._detector.kernel.sigma.detach().cpu().numpy()[0]),
    }


def main() -> None:
    task, data_dir = parse_args()
    if task == "mmd":
        emit(mmd_task(data_dir))
        return
    data = load_table_data(data_dir)
    if task == "memory":
        emit({"library": "alibi-detect", "memory": measure_peak_rise(
            lambda: KSDrift(data["reference"], p_val=ALPHA).predict(data["shifted"]))})
    else:
        emit(time_task(data))


if __name__ == "__main__":
    main()

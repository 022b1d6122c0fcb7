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
    """Time ``MMDDrift`` on float32 input (its documented usage, and twice as fast as float64
    here); its float64 statistics, without permutations, are what the equality check uses.
    """
    x, y = load_mmd_data(data_dir)
    torch.manual_seed(0)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    fit_s, detector = once_time(lambda: MMDDrift(
        x32, backend="pytorch", p_val=ALPHA, n_permutations=MMD_PERMUTATIONS))
    predict_s, prediction = once_time(lambda: detector.predict(y32))
    out = prediction["data"]
    return {
        **_statistics_float64(x, y),
        "library": "alibi-detect", "version": alibi_detect.__version__,
        "torch_threads": torch.get_num_threads(), "input_dtype": "float32",
        "fit_s": fit_s, "mmd": {"best_s": predict_s, "median_s": predict_s, "repeats": 1},
        "statistic_float32": float(out["distance"]), "pvalue": float(out["p_val"]),
        "sigma_float32": float(detector._detector.kernel.sigma.detach().cpu().numpy()[0]),
    }


def _statistics_float64(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """alibi-detect's own float64 MMD^2 at two bandwidths, no permutations.

    ``sigma`` is ``MMDDrift``'s default (median heuristic on the reference alone);
    ``pooled_sigma`` the same heuristic applied to the pooled sample, which is shiftguard's.
    """
    from alibi_detect.utils.pytorch.distance import (
        mmd2_from_kernel_matrix,
        squared_pairwise_distance,
    )
    from alibi_detect.utils.pytorch.kernels import GaussianRBF, sigma_median

    x_t, pooled = torch.from_numpy(x), torch.from_numpy(np.vstack([x, y]))
    out = {}
    for label, sample in (("sigma", x_t), ("pooled_sigma", pooled)):
        sigma = sigma_median(sample, sample, squared_pairwise_distance(sample, sample))
        kernel_mat = GaussianRBF(sigma=sigma)(pooled, pooled)
        out[label] = float(sigma[0])
        out[f"statistic_at_{label}"] = float(
            mmd2_from_kernel_matrix(kernel_mat, y.shape[0], zero_diag=True))
    out["statistic"] = out["statistic_at_sigma"]
    return out


def main() -> None:
    task, data_dir = parse_args()
    if task == "mmd":
        emit(mmd_task(data_dir))
        return
    data = load_table_data(data_dir)
    if task == "memory":
        emit({"library": "alibi-detect", "memory": measure_peak_rise(
            lambda r, c: KSDrift(r, p_val=ALPHA).predict(c), data["reference"],
            data["shifted"])})
    else:
        emit(time_task(data))


if __name__ == "__main__":
    main()

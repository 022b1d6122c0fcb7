"""alibi-detect 0.13 side of the drift benchmark: ``KSDrift`` and ``MMDDrift`` (PyTorch).

``KSDrift(reference)`` stores the reference; each ``predict`` runs ``scipy.stats.ks_2samp``
per feature (``mode="asymp"``) and returns p-values as float32. Its batch decision applies
Bonferroni (``p_val / n_features``); its per-feature flags are ``p < p_val`` with no
multiplicity correction. The timed call is ``predict(current)`` (``drift_type="batch"``,
which computes every feature's p-value too).

``MMDDrift(x, backend="pytorch", n_permutations=1000)`` (the ``mmd`` task): Gaussian kernel
with the bandwidth from the reference (sigma^2 = median of the reference's squared pairwise
distances / 2), unbiased MMD^2, p-value = share of permuted statistics >= the observed one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import alibi_detect
import numpy as np
import scipy
import torch
from _common import ALPHA, MMD_PERMUTATIONS, Side, load_mmd_data, pvalue_flags
from alibi_detect.cd import KSDrift, MMDDrift


def summary(prediction: dict[str, Any]) -> dict[str, Any]:
    data = prediction["data"]
    pvalues = np.asarray(data["p_val"], dtype=float)
    return {"statistics": np.asarray(data["distance"], dtype=float).tolist(),
            "pvalues": pvalues.tolist(), "flags": pvalue_flags(pvalues),
            "drifted": bool(data["is_drift"])}


SIDES = {"ks": Side(fit=lambda reference: KSDrift(reference, p_val=ALPHA),
                    compare=lambda detector, current: detector.predict(current),
                    summary=summary)}


def versions() -> dict[str, str]:
    return {"alibi-detect": alibi_detect.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__}


def mmd_task(data_dir: Path) -> dict[str, Any]:
    """Time ``MMDDrift`` once on float32 input (its documented usage, and twice as fast as
    float64 here); its float64 statistics, without permutations, are what the equality
    check uses.
    """
    x, y = load_mmd_data(data_dir)
    torch.manual_seed(0)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    detector = MMDDrift(x32, backend="pytorch", p_val=ALPHA, n_permutations=MMD_PERMUTATIONS)
    start = time.perf_counter()
    out = detector.predict(y32)["data"]
    seconds = time.perf_counter() - start
    return {
        **_statistics_float64(x, y), "seconds": seconds, "input_dtype": "float32",
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
    return out


TASKS = {"mmd": mmd_task}

"""Detection metrics for outlier / OOD scores, each with a seeded bootstrap interval.

``auroc``, ``aupr`` (average precision) and ``fpr_at_tpr`` take labels (1 = outlier) and
scores (higher = more anomalous). Their point estimates equal scikit-learn's
``roc_auc_score``, ``average_precision_score`` and the ROC curve read at the first point
with ``tpr >= 0.95``. All three are one pass over the rows sorted by score, tied scores
grouped; a bootstrap replicate is the same pass with each row weighted by how often it was
drawn (one sort for all replicates, O(n) per replicate, in a numba kernel).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_alpha,
    check_positive_int,
    check_same_length,
)
from shiftguard.errors import InputError, ParameterError

__all__ = ["MetricResult", "aupr", "auroc", "fpr_at_tpr"]

# Replicates per block: a block's drawn indices and weights hold about this many values each.
_BLOCK_VALUES = 1 << 21
_AUROC, _AUPR, _FPR_AT_TPR = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class MetricResult(ResultMixin):
    """A detection metric with its bootstrap confidence interval.

    Attributes
    ----------
    metric
        ``"auroc"``, ``"aupr"`` or ``"fpr@tpr=0.95"`` (the TPR used).
    estimate
        The metric on the data as given.
    ci_low, ci_high
        Percentile bootstrap interval at level ``1 - alpha`` (NaN when ``n_bootstrap=0``).
    alpha
        One minus the interval's nominal coverage.
    n_bootstrap
        Number of bootstrap replicates.
    """

    metric: str
    estimate: float
    ci_low: float
    ci_high: float
    alpha: float
    n_bootstrap: int


def auroc(
    y_true: Any,
    scores: Any,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> MetricResult:
    """Area under the ROC curve: the probability that an outlier outscores an inlier.

    ``AUROC = (sum of the outliers' mid-ranks - n1 (n1 + 1) / 2) / (n1 n0)`` (the
    Mann-Whitney statistic; ties count one half); 0.5 is chance, 1 a perfect ranking.
    Equal to :func:`sklearn.metrics.roc_auc_score`.

    Parameters
    ----------
    y_true
        ``(n,)`` labels, 1 = outlier, 0 = inlier; both must occur.
    scores
        ``(n,)`` anomaly scores, higher = more anomalous.
    n_bootstrap
        Bootstrap replicates for the interval (0: no interval).
    alpha
        The interval has nominal coverage ``1 - alpha``.
    seed
        Seed of the bootstrap.

    Notes
    -----
    The bootstrap is stratified: each replicate redraws the inliers and the outliers
    separately, with replacement, keeping both counts (so every replicate has both classes).
    The percentile interval is approximate (it has no finite-sample guarantee); for AUROC
    its coverage is close to nominal once both classes have a few dozen rows (Efron and
    Tibshirani 1993, ch. 13).

    References
    ----------
    Hanley, J. A. and McNeil, B. J. (1982). The meaning and use of the area under a
    receiver operating characteristic (ROC) curve. Radiology 143, 29-36.

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], n_bootstrap=0).estimate
    0.75
    """
    return _metric("auroc", _AUROC, 0.0, y_true, scores, n_bootstrap, alpha, seed)


def aupr(
    y_true: Any,
    scores: Any,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> MetricResult:
    """Average precision: the area under the precision-recall curve, outliers positive.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds from high to low,
    ``P_k`` and ``R_k`` the precision and recall of flagging rows scoring ``>=`` the
    ``k``-th threshold (no interpolation). A random ranking scores the outlier share.
    Equal to :func:`sklearn.metrics.average_precision_score`. Parameters, bootstrap and
    interval as in :func:`auroc`.

    References
    ----------
    Davis, J. and Goadrich, M. (2006). The relationship between precision-recall and ROC
    curves. ICML.

    Examples
    --------
    >>> round(aupr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], n_bootstrap=0).estimate, 4)
    0.8333
    """
    return _metric("aupr", _AUPR, 0.0, y_true, scores, n_bootstrap, alpha, seed)


def fpr_at_tpr(
    y_true: Any,
    scores: Any,
    tpr: float = 0.95,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> MetricResult:
    """False-positive rate at the highest score threshold that catches ``tpr`` of outliers.

    The share of inliers scoring ``>=`` the largest threshold ``t`` with
    ``#{outliers >= t} / n1 >= tpr`` ("FPR95" for ``tpr=0.95``, the usual OOD-detection
    summary; lower is better). Equal to ``fpr[i]`` of :func:`sklearn.metrics.roc_curve`
    at the first ``i`` with ``tpr[i] >= tpr``. Parameters, bootstrap and interval as in
    :func:`auroc`.

    Examples
    --------
    >>> fpr_at_tpr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], tpr=0.95, n_bootstrap=0).estimate
    0.5
    """
    level = float(tpr)
    if not 0.0 < level <= 1.0:
        raise ParameterError(f"tpr must lie in (0, 1], got {tpr!r}")
    name = f"fpr@tpr={level:g}"
    return _metric(name, _FPR_AT_TPR, level, y_true, scores, n_bootstrap, alpha, seed)


def _metric(
    name: str,
    code: int,
    level: float,
    y_true: Any,
    scores: Any,
    n_bootstrap: int,
    alpha: float,
    seed: int | np.random.Generator | None,
) -> MetricResult:
    """Metric ``code`` on the data and on stratified bootstrap replicates of it."""
    y, s = _labels_and_scores(y_true, scores)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    alpha = check_alpha(alpha)
    n = s.shape[0]
    order = np.argsort(-s, kind="stable")
    s = s[order]
    positive = y[order] == 1.0
    group_end = np.append(s[1:] != s[:-1], True)
    kernel = _curve_metric_kernel()
    estimate = float(kernel(np.ones((1, n), dtype=np.int64), positive, group_end, code, level)[0])
    if n_bootstrap == 0:
        return MetricResult(name, estimate, np.nan, np.nan, alpha, 0)
    rng = as_rng(seed)
    classes = (np.flatnonzero(positive), np.flatnonzero(~positive))
    block = max(1, _BLOCK_VALUES // n)
    replicates = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, block):
        b = min(block, n_bootstrap - start)
        # stratified: outliers and inliers are redrawn separately, keeping both counts
        drawn = np.concatenate(
            [idx[rng.integers(0, idx.size, size=(b, idx.size))] for idx in classes], axis=1
        )
        drawn += np.arange(b)[:, None] * n
        weights = np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n)
        replicates[start:start + b] = kernel(weights, positive, group_end, code, level)
    # Ends at the (B + 1) alpha / 2-th order statistics (Hall 1986): NumPy's default
    # interpolation loses about 2 (1 - alpha) / (B + 1) of coverage.
    low, high = np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0], method="weibull")
    return MetricResult(name, estimate, float(low), float(high), alpha, n_bootstrap)


def _curve_metric(
    weights: np.ndarray, positive: np.ndarray, group_end: np.ndarray, code: int, level: float
) -> np.ndarray:
    """One metric per row of ``weights`` (how often each score-sorted row counts).

    Walks the rows from the highest score down, accumulating weighted true and false
    positives; at the end of each group of tied scores (one ROC / PR point) it adds the
    trapezoid under the ROC step (AUROC), the recall step times the precision (AP), or
    stops at the first point with ``tp / P >= level`` (FPR at TPR).
    """
    b, n = weights.shape
    out = np.empty(b)
    for r in range(b):
        total_pos = 0.0
        total_neg = 0.0
        for i in range(n):
            if positive[i]:
                total_pos += weights[r, i]
            else:
                total_neg += weights[r, i]
        tp = fp = tp_prev = fp_prev = acc = 0.0
        for i in range(n):
            if positive[i]:
                tp += weights[r, i]
            else:
                fp += weights[r, i]
            if not group_end[i]:
                continue
            if code == 0:
                acc += (fp - fp_prev) * (tp + tp_prev)
            elif code == 1:
                if tp + fp > 0.0:
                    acc += (tp - tp_prev) * (tp / (tp + fp))
            elif tp / total_pos >= level:
                acc = fp
                break
            tp_prev, fp_prev = tp, fp
        if code == 0:
            out[r] = acc / (2.0 * total_pos * total_neg)
        elif code == 1:
            out[r] = acc / total_pos
        else:
            out[r] = acc / total_neg
    return out


@functools.cache
def _curve_metric_kernel():  # type: ignore[no-untyped-def]
    import numba as nb

    return nb.njit(cache=True)(_curve_metric)


def _labels_and_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = as_float_array(y_true, "y_true")
    s = as_float_array(scores, "scores")
    check_same_length(y_true=y, scores=s)
    if not np.all((y == 0.0) | (y == 1.0)):
        raise InputError("labels must be 0 (inlier) or 1 (outlier)", "y_true")
    n_pos = int(np.count_nonzero(y))
    if n_pos == 0 or n_pos == y.shape[0]:
        raise InputError(
            f"needs both inliers (0) and outliers (1); got {n_pos} outlier(s) among "
            f"{y.shape[0]} rows",
            "y_true",
        )
    return y, s

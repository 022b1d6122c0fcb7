"""Label-shift importance weights ``q(y)/p(y)`` by black-box shift estimation, with intervals."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import check_alpha, check_positive_int
from shiftguard.errors import InputError


@dataclasses.dataclass(frozen=True)
class LabelShiftWeights(ResultMixin):
    """Estimated class weights ``w_k = q_target(k) / p_source(k)`` with simultaneous bounds.

    Attributes
    ----------
    weights
        Point estimate (BBSE), clipped at 0.
    lower, upper
        Bounds holding for all classes at once with probability at least ``1 - delta``.
    confusion
        ``confusion[i, j]``: source frequency of (prediction ``i``, label ``j``).
    target_prediction_rates
        Frequency of each predicted class on the target data.
    delta
        Error probability of the bounds.
    """

    weights: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confusion: np.ndarray
    target_prediction_rates: np.ndarray
    delta: float


def _clopper_pearson(counts: np.ndarray, n: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import beta

    lo = np.where(counts > 0, beta.ppf(delta / 2, counts, n - counts + 1), 0.0)
    hi = np.where(counts < n, beta.ppf(1 - delta / 2, counts + 1, n - counts), 1.0)
    return lo, hi


def _interval_mul(
    a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interval product ``[a_lo, a_hi] * [b_lo, b_hi]``, elementwise."""
    products = np.stack([a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi])
    return products.min(axis=0), products.max(axis=0)


def _interval_solve(
    a_lo: np.ndarray, a_hi: np.ndarray, b_lo: np.ndarray, b_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Enclose ``{x : A x = b}`` over all ``A``, ``b`` in the boxes (interval elimination)."""
    a_lo, a_hi, b_lo, b_hi = a_lo.copy(), a_hi.copy(), b_lo.copy(), b_hi.copy()
    k = b_lo.shape[0]
    for i in range(k):
        if a_lo[i, i] <= 0.0 <= a_hi[i, i]:
            raise InputError(
                "the confidence box of the confusion matrix contains singular matrices, so the "
                "label-shift weights cannot be bounded; use more labelled source data, fewer "
                "classes or a more accurate model",
                "y",
            )
        inv_lo, inv_hi = 1.0 / a_hi[i, i], 1.0 / a_lo[i, i]
        for r in range(i + 1, k):
            f_lo, f_hi = _interval_mul(a_lo[r, i], a_hi[r, i], inv_lo, inv_hi)
            p_lo, p_hi = _interval_mul(f_lo, f_hi, a_lo[i, i + 1 :], a_hi[i, i + 1 :])
            a_lo[r, i + 1 :], a_hi[r, i + 1 :] = a_lo[r, i + 1 :] - p_hi, a_hi[r, i + 1 :] - p_lo
            q_lo, q_hi = _interval_mul(f_lo, f_hi, b_lo[i], b_hi[i])
            b_lo[r], b_hi[r] = b_lo[r] - q_hi, b_hi[r] - q_lo
    x_lo, x_hi = np.empty(k), np.empty(k)
    for i in range(k - 1, -1, -1):
        s_lo, s_hi = _interval_mul(a_lo[i, i + 1 :], a_hi[i, i + 1 :], x_lo[i + 1 :], x_hi[i + 1 :])
        r_lo, r_hi = b_lo[i] - s_hi.sum(), b_hi[i] - s_lo.sum()
        x_lo[i], x_hi[i] = _interval_mul(r_lo, r_hi, 1.0 / a_hi[i, i], 1.0 / a_lo[i, i])
    return x_lo, x_hi


def _as_class_index(values: Any, name: str, n_classes: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InputError(
            f"expected a non-empty 1-D array of class indices, got shape {arr.shape}", name
        )
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= n_classes:
        raise InputError(f"expected integer class indices in 0..{n_classes - 1}", name)
    return arr.astype(np.intp)


def bbse_weights(
    y_source: Any,
    pred_source: Any,
    pred_target: Any,
    n_classes: int,
    *,
    delta: float = 0.05,
) -> LabelShiftWeights:
    """Black-box shift estimation of label-shift weights, with simultaneous bounds.

    Under label shift (``p(x | y)`` equal in source and target, only ``p(y)`` changes) the
    hard predictions of any fixed classifier satisfy ``mu = C w``, with ``C[i, j]`` the
    source probability of (prediction ``i``, label ``j``) and ``mu[i]`` the target
    probability of prediction ``i``; BBSE solves it with plug-in estimates (Lipton, Wang
    and Smola, 2018).

    Guarantee
    ---------
    The point estimate is consistent when ``C`` is invertible. The bounds follow Si,
    Park, Bastani, Roth and Lee (2024, "PAC prediction sets under label shift"):
    Clopper–Pearson intervals for every entry of ``C`` and ``mu``, Bonferroni-combined at
    level ``delta``, are propagated through interval Gaussian elimination, so
    ``lower <= w <= upper`` for all classes at once with probability at least
    ``1 - delta`` (finite-sample, given label shift; the enclosure is conservative).

    Parameters
    ----------
    y_source, pred_source
        True labels and hard predictions on labelled source data, as indices ``0..K-1``.
    pred_target
        Hard predictions on unlabelled target data.
    n_classes
        ``K``.
    delta
        Error probability of the simultaneous bounds.
    """
    k = check_positive_int(n_classes, "n_classes", minimum=2)
    delta = check_alpha(delta, "delta")
    ys = _as_class_index(y_source, "y_source", k)
    ps = _as_class_index(pred_source, "pred_source", k)
    pt = _as_class_index(pred_target, "pred_target", k)
    if ys.shape[0] != ps.shape[0]:
        raise InputError(f"lengths differ: y_source={ys.shape[0]}, pred_source={ps.shape[0]}")
    n, m = ys.shape[0], pt.shape[0]
    joint_counts = np.bincount(ps * k + ys, minlength=k * k).reshape(k, k)
    target_counts = np.bincount(pt, minlength=k)
    confusion = joint_counts / n
    rates = target_counts / m
    try:
        point = np.linalg.solve(confusion, rates)
    except np.linalg.LinAlgError:
        raise InputError(
            "the estimated confusion matrix is singular (a class is never predicted or never "
            "seen); label-shift weights are not identified",
            "y_source",
        ) from None
    per_entry = delta / (k * k + k)
    c_lo, c_hi = _clopper_pearson(joint_counts, n, per_entry)
    mu_lo, mu_hi = _clopper_pearson(target_counts, m, per_entry)
    w_lo, w_hi = _interval_solve(c_lo, c_hi, mu_lo, mu_hi)
    return LabelShiftWeights(
        weights=np.maximum(point, 0.0),
        lower=np.maximum(w_lo, 0.0),
        upper=np.maximum(w_hi, 0.0),
        confusion=confusion,
        target_prediction_rates=rates,
        delta=delta,
    )

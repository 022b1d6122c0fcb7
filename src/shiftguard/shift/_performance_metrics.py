"""Building blocks of performance estimation: metrics of (expected) confusion matrices,
the soft ROC AUC, and the one-vs-rest probability calibrators fitted on reference rows.

Everything is vectorised over a leading batch axis, so bootstrap replicates are computed
in one call.
"""

from __future__ import annotations

import numpy as np

CONFUSION_METRICS = ("accuracy", "precision", "recall", "f1")


def confusion_metric(joint: np.ndarray, metric: str) -> np.ndarray:
    """Metric of confusion matrices ``joint[..., true, predicted]`` (counts or probabilities).

    Binary (``K = 2``): precision, recall and F1 of class 1. Multiclass: their macro
    average. A metric whose denominator is 0 is NaN.
    """
    diag = np.diagonal(joint, axis1=-2, axis2=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return diag.sum(-1) / joint.sum((-2, -1))
        true_tot, pred_tot = joint.sum(-1), joint.sum(-2)
        if metric == "precision":
            per_class = diag / pred_tot
        elif metric == "recall":
            per_class = diag / true_tot
        else:
            per_class = 2.0 * diag / (true_tot + pred_tot)
    return per_class[..., 1] if joint.shape[-1] == 2 else per_class.mean(-1)


def midranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks of ``scores`` with ties given their average rank."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks = np.empty(scores.shape[0])
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def soft_auc(ranks: np.ndarray, p: np.ndarray) -> np.ndarray:
    """ROC AUC when row ``i`` is positive with probability ``p[..., i]``, in closed form.

    The expected number of correctly ordered (positive, negative) pairs, ties counting
    1/2, over the expected number of such pairs:
    ``[p'(r - 1) - (P^2 - |p|^2) / 2] / [P N - sum p (1 - p)]`` with ``r`` the midranks of
    the scores, ``P = sum p`` and ``N = sum (1 - p)``. With 0/1 ``p`` it is the usual
    Mann–Whitney AUC; with calibrated probabilities it is the "expected pairwise ordering"
    AUC of confidence-based performance estimation.
    """
    total_p = p.sum(-1)
    num = p @ (ranks - 1.0) - 0.5 * (total_p**2 - np.square(p).sum(-1))
    den = total_p * (p.shape[-1] - total_p) - (p * (1.0 - p)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def multiclass_soft_auc(scores: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binary AUC of class 1, or the macro one-vs-rest AUC, from ``(..., n, K)`` ``p``."""
    if scores.shape[1] == 2:
        return soft_auc(midranks(scores[:, 1]), p[..., 1])
    aucs = [soft_auc(midranks(scores[:, k]), p[..., k]) for k in range(scores.shape[1])]
    return np.mean(aucs, axis=0)


def _isotonic_map(x: np.ndarray, y: np.ndarray, w: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The increasing least-squares fit of ``y`` on ``x`` (weights ``w``, ties in ``x``
    pooled), evaluated at ``at`` by linear interpolation between its knots."""
    from scipy.optimize import isotonic_regression

    knots, inverse = np.unique(x, return_inverse=True)
    total = np.bincount(inverse, weights=w)
    keep = total > 0
    means = np.bincount(inverse, weights=w * y)[keep] / total[keep]
    fitted = isotonic_regression(means, weights=total[keep]).x
    return np.interp(at, knots[keep], fitted)


def _platt(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logistic regressions of ``y`` on ``z``, one per row of ``w`` (``(B, n)``),
    by Newton's method: ``(B, 2)`` slopes and intercepts. Platt's (1999) smoothed targets
    keep the coefficients finite on separable data."""
    n_pos = w @ y
    n_neg = w.sum(axis=1) - n_pos
    t = np.where(y[None] > 0, ((n_pos + 1.0) / (n_pos + 2.0))[:, None],
                 (1.0 / (n_neg + 2.0))[:, None])
    design = np.column_stack([z, np.ones_like(z)])
    coef = np.zeros((w.shape[0], 2))
    for _ in range(50):
        q = 1.0 / (1.0 + np.exp(-(coef @ design.T)))
        a = w * q * (1.0 - q)
        h_zz, h_z, h_1 = a @ np.square(z), a @ z, a.sum(axis=1) + 1e-9
        g = (w * (t - q)) @ design
        det = h_zz * h_1 - h_z**2 + 1e-12
        step = np.column_stack([h_1 * g[:, 0] - h_z * g[:, 1],
                                h_zz * g[:, 1] - h_z * g[:, 0]]) / det[:, None]
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    return coef


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(q / (1.0 - q))


def calibrate(proba_fit: np.ndarray, y: np.ndarray, proba: np.ndarray, method: str,
              counts: np.ndarray | None = None) -> np.ndarray:
    """Calibrate ``proba`` by one-vs-rest maps fitted on ``(proba_fit, y)``.

    ``method`` is ``"isotonic"`` or ``"sigmoid"`` (Platt scaling of the logit). With
    ``counts`` (``(B, n)`` bootstrap multiplicities of the fitting rows) one calibration
    per row of ``counts`` is fitted and ``(B, m, K)`` probabilities are returned, else
    ``(m, K)``. Multiclass columns are renormalised to sum to one.
    """
    k = proba.shape[1]
    w = np.ones((1, y.shape[0])) if counts is None else counts.astype(np.float64)
    classes = [1] if k == 2 else list(range(k))
    cols = []
    for c in classes:
        target = (y == c).astype(np.float64)
        if method == "isotonic":
            cols.append(np.stack([_isotonic_map(proba_fit[:, c], target, wb, proba[:, c])
                                  for wb in w]))
        else:
            coef = _platt(_logit(proba_fit[:, c]), target, w)
            cols.append(1.0 / (1.0 + np.exp(-(coef[:, :1] * _logit(proba[:, c])[None]
                                              + coef[:, 1:]))))
    if k == 2:
        out = np.stack([1.0 - cols[0], cols[0]], axis=-1)
    else:
        out = np.stack(cols, axis=-1)
        total = out.sum(axis=-1, keepdims=True)
        out = np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / k)
    return out[0] if counts is None else out


def draw_labels(q: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` independent label vectors, row ``i`` drawn from ``q[i]``: ``(size, n)``."""
    u = rng.random((size, q.shape[0], 1))
    return np.minimum((u > np.cumsum(q, axis=1)[None]).sum(-1), q.shape[1] - 1)


def weighted_auc(scores: np.ndarray, y: np.ndarray, w: np.ndarray, m: int,
                  share_pos: float | None = None) -> tuple[float, float]:
    """Weighted Mann–Whitney AUC and a weighted DeLong standard error, plus the label
    sampling of ``m`` current rows (of which ``share_pos``, default the weighted share of
    positives, are positive)."""
    pos, neg = y == 1, y == 0
    wp, wn = w[pos], w[neg]
    sp, sn = scores[pos], scores[neg]
    order = np.argsort(sn)
    sn_sorted, cum = sn[order], np.r_[0.0, np.cumsum(wn[order])]
    lo, hi = np.searchsorted(sn_sorted, sp, "left"), np.searchsorted(sn_sorted, sp, "right")
    v_pos = (cum[lo] + 0.5 * (cum[hi] - cum[lo])) / cum[-1]
    order = np.argsort(sp)
    sp_sorted, cum_p = sp[order], np.r_[0.0, np.cumsum(wp[order])]
    lo, hi = np.searchsorted(sp_sorted, sn, "left"), np.searchsorted(sp_sorted, sn, "right")
    v_neg = (cum_p[-1] - cum_p[hi] + 0.5 * (cum_p[hi] - cum_p[lo])) / cum_p[-1]
    auc = float(wp @ v_pos / wp.sum())
    var_est = (np.square(wp * (v_pos - auc)).sum() / wp.sum() ** 2
               + np.square(wn * (v_neg - auc)).sum() / wn.sum() ** 2)
    share_pos = wp.sum() / w.sum() if share_pos is None else share_pos
    var_cur = ((wp @ np.square(v_pos - auc)) / wp.sum() / max(share_pos * m, 1.0)
               + (wn @ np.square(v_neg - auc)) / wn.sum() / max((1 - share_pos) * m, 1.0))
    return auc, float(np.sqrt(var_est + var_cur))

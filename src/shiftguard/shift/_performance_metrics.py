"""Building blocks of performance estimation: metrics of (expected) confusion matrices,
the soft ROC AUC, and the one-vs-rest probability calibrators fitted on reference rows.

Everything is vectorised over a leading batch axis, so bootstrap replicates are computed
in one call.
"""

from __future__ import annotations

import dataclasses

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
    order = np.argsort(scores)
    sorted_scores = scores[order]
    first = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    counts = np.diff(np.r_[first, scores.shape[0]])
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


def _grid(knots: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left knot index ``j`` and weight ``t`` of ``at`` on ``knots`` (clamped at the ends),
    so a piecewise-linear map with values ``v`` at the knots is ``v[j] (1 - t) + v[j+1] t``."""
    if knots.shape[0] == 1:
        return np.zeros(at.shape[0], dtype=np.intp), np.zeros(at.shape[0])
    j = np.clip(np.searchsorted(knots, at, side="right") - 1, 0, knots.shape[0] - 2)
    t = np.clip((at - knots[j]) / (knots[j + 1] - knots[j]), 0.0, 1.0)
    return j, t


def isotonic_grid(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increasing least-squares fits of ``y`` on ``x``, one per row of weights ``w``
    (``(B, n)``; ties in ``x`` pooled), as their values at the distinct ``x`` (the knots):
    ``(knots, (B, U) values)``. A replicate that leaves a knot out is interpolated there,
    so interpolating its values on all knots is its own piecewise-linear map."""
    from scipy.optimize import isotonic_regression

    knots, inverse = np.unique(x, return_inverse=True)
    values = np.empty((w.shape[0], knots.shape[0]))
    for b, wb in enumerate(w):  # one pool-adjacent-violators pass per replicate
        total = np.bincount(inverse, weights=wb, minlength=knots.shape[0])
        keep = total > 0
        means = np.bincount(inverse, weights=wb * y, minlength=knots.shape[0])[keep]
        fitted = isotonic_regression(means / total[keep], weights=total[keep]).x
        values[b] = np.interp(knots, knots[keep], fitted)
    return knots, values


def _platt_targets(n_pos: np.ndarray, n_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Platt's (1999) smoothed targets of the positives and the negatives, from their
    (weighted) numbers; they keep the coefficients finite on separable data."""
    return (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)


def _newton_step(h_zz, h_z, h_1, g_z, g_1) -> np.ndarray:
    det = h_zz * h_1 - h_z**2 + 1e-12
    return np.column_stack([h_1 * g_z - h_z * g_1, h_zz * g_1 - h_z * g_z]) / det[:, None]


def _platt(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted logistic regressions of ``y`` on ``z`` with Platt's smoothed targets, one
    per row of ``w`` (``(B, n)``), by Newton's method: ``(B, 2)`` slopes and intercepts.
    Several rows (resamples, cross-fitting folds) start from the fit of their mean
    weights, near all of them, so that they need fewer Newton steps over all B rows."""
    start = np.zeros(2) if w.shape[0] == 1 else _platt(z, y, w.mean(axis=0)[None])[0]
    n_pos = w @ y
    pos, neg = _platt_targets(n_pos, w.sum(axis=1) - n_pos)
    t = np.where(y[None] > 0, pos[:, None], neg[:, None])
    design = np.column_stack([z, np.ones_like(z)])
    coef = np.tile(start, (w.shape[0], 1))
    for _ in range(50):
        q = 1.0 / (1.0 + np.exp(-(coef @ design.T)))
        a = w * q * (1.0 - q)
        g = (w * (t - q)) @ design
        step = _newton_step(a @ np.square(z), a @ z, a.sum(axis=1) + 1e-9, g[:, 0], g[:, 1])
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    return coef


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1.0 - 1e-12)
    return np.log(q / (1.0 - q))


@dataclasses.dataclass(frozen=True)
class Calibrator:
    """One-vs-rest calibration maps fitted on reference rows, ``B`` of them (one per
    bootstrap replicate, or ``B = 1``).

    ``classes`` are the calibrated columns (``[1]`` for a binary model, all ``K`` columns
    otherwise). ``params[c]`` are class ``c``'s parameters: sigmoid, ``(B, 2)`` slope and
    intercept of the logit; isotonic, ``(B, U)`` values at ``knots[c]``, the distinct
    reference probabilities of the class (the map interpolates linearly between them).
    """

    method: str
    n_classes: int
    classes: tuple[int, ...]
    params: tuple[np.ndarray, ...]
    knots: tuple[np.ndarray, ...] = ()

    def replicate(self, b: int) -> Calibrator:
        """Replicate ``b`` alone, as a calibrator with ``B = 1``."""
        return dataclasses.replace(self, params=tuple(p[b:b + 1] for p in self.params))

    def flat_params(self) -> np.ndarray:
        """All parameters of each replicate in one row: ``(B, P)``."""
        return np.concatenate(self.params, axis=1)

    def raw(self, proba: np.ndarray) -> np.ndarray:
        """Each calibrated column before renormalisation: ``(B, m, len(classes))``."""
        cols = []
        for i, c in enumerate(self.classes):
            if self.method == "isotonic":
                j, t = _grid(self.knots[i], proba[:, c])
                v = self.params[i]
                upper = v[:, np.minimum(j + 1, v.shape[1] - 1)]
                cols.append(v[:, j] * (1.0 - t) + upper * t)
            else:
                coef = self.params[i]
                cols.append(1.0 / (1.0 + np.exp(-(coef[:, :1] * _logit(proba[:, c])[None]
                                                  + coef[:, 1:]))))
        return np.stack(cols, axis=-1)

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities ``(..., m, K)`` from :meth:`raw` columns."""
        if self.n_classes == 2:
            return np.concatenate([1.0 - raw, raw], axis=-1)
        total = raw.sum(axis=-1, keepdims=True)
        return np.where(total > 0, raw / np.where(total > 0, total, 1.0),
                        1.0 / self.n_classes)

    def gradient(self, proba: np.ndarray, raw: np.ndarray, q: np.ndarray,
                 grads: np.ndarray) -> np.ndarray:
        """Gradients over :meth:`flat_params` of ``M`` functions of the calibrated
        probabilities ``q = probabilities(raw)`` (one replicate, ``raw`` ``(m, C)``), given
        their gradients ``grads`` (``(M, m, K)``) with respect to ``q``: the chain rule
        through the renormalisation and the maps. Returns ``(M, P)``."""
        if self.n_classes == 2:
            h = (grads[..., 1] - grads[..., 0])[..., None]
        else:
            total = raw.sum(axis=1, keepdims=True)
            inner = (grads * q).sum(axis=-1, keepdims=True)
            h = np.where(total > 0, (grads - inner) / np.where(total > 0, total, 1.0), 0.0)
        out = []
        for i, c in enumerate(self.classes):
            if self.method == "isotonic":
                size = self.knots[i].shape[0]
                j, t = _grid(self.knots[i], proba[:, c])
                upper = np.minimum(j + 1, size - 1)
                out.append(np.stack([
                    np.bincount(j, weights=hm * (1.0 - t), minlength=size)
                    + np.bincount(upper, weights=hm * t, minlength=size) for hm in h[..., i]]))
            else:  # one logit for all M; each function's sums alone, so that they do
                # not depend on which other functions are computed with it
                z = _logit(proba[:, c])
                slope = h[..., i] * (raw[:, i] * (1.0 - raw[:, i]))
                out.append(np.array([[sm @ z, sm.sum()] for sm in slope]))
        return np.concatenate(out, axis=-1)


def fit_calibrator(proba_fit: np.ndarray, y: np.ndarray, method: str,
                   counts: np.ndarray | None = None) -> Calibrator:
    """One-vs-rest maps (``"isotonic"``, or ``"sigmoid"``: Platt scaling of the logit)
    fitted on ``(proba_fit, y)``, one per row of ``counts`` (``(B, n)`` bootstrap
    multiplicities of the fitting rows; default one map with unit weights)."""
    k = proba_fit.shape[1]
    w = np.ones((1, y.shape[0])) if counts is None else counts.astype(np.float64)
    classes = (1,) if k == 2 else tuple(range(k))
    params, knots = [], []
    for c in classes:
        target = (y == c).astype(np.float64)
        if method == "isotonic":
            grid, values = isotonic_grid(proba_fit[:, c], target, w)
            knots.append(grid)
            params.append(values)
        else:
            z = _logit(proba_fit[:, c])
            params.append(_platt(z, target, w))
    return Calibrator(method, k, classes, tuple(params), tuple(knots))


def platt_covariance(proba_fit: np.ndarray, y: np.ndarray, cal: Calibrator) -> np.ndarray:
    """Sandwich (robust) covariance of a sigmoid calibrator's :meth:`Calibrator.flat_params`
    fitted on ``(proba_fit, y)``: ``H^-1 (sum_i psi_i psi_i') H^-1`` with ``psi_i`` the
    rows' stacked score vectors ``(t_i - q_i) (z_i, 1)`` of the one-vs-rest logistic fits
    (``t`` Platt's targets) and ``H`` their block-diagonal Fisher information. It is the
    asymptotic covariance of the fitted parameters whether or not the sigmoid family is
    right (Huber 1967; White 1980): what refits on bootstrap resamples estimate."""
    from scipy.linalg import block_diag

    scores, inverses = [], []
    for i, c in enumerate(cal.classes):
        target = (y == c).astype(np.float64)
        n_pos = target.sum()
        pos, neg = _platt_targets(n_pos, target.shape[0] - n_pos)
        design = np.column_stack([_logit(proba_fit[:, c]), np.ones(target.shape[0])])
        q = 1.0 / (1.0 + np.exp(-(design @ cal.params[i][0])))
        scores.append(design * (np.where(target > 0, pos, neg) - q)[:, None])
        inverses.append(np.linalg.inv((design * (q * (1.0 - q))[:, None]).T @ design))
    spread = np.hstack(scores) @ block_diag(*inverses)
    return spread.T @ spread


def bootstrap_counts(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``(size, n)`` multiplicities of ``size`` nonparametric bootstrap resamples of ``n``
    rows (each row of the result sums to ``n``)."""
    draws = rng.integers(0, n, (size, n))
    draws += n * np.arange(size)[:, None]
    return np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)


def metric_gradient(metric: str, q: np.ndarray, pred: np.ndarray, scores: np.ndarray
                    ) -> tuple[float, np.ndarray]:
    """The metric expected from label probabilities ``q`` (``(m, K)``) and its gradient
    with respect to ``q`` (``(m, K)``).

    Confusion metrics are functions of the expected confusion matrix
    ``J = sum_i q_i onehot(pred_i)'``, so ``d/dq_ik = dmetric/dJ[k, pred_i]``; ROC AUC
    is the soft AUC of :func:`soft_auc`, differentiated in closed form.
    """
    m, k = q.shape
    if metric == "roc_auc":
        grad = np.zeros_like(q)
        classes = [1] if k == 2 else list(range(k))
        values = []
        for c in classes:
            r, p = midranks(scores[:, c]), q[:, c]
            total = p.sum()
            num = p @ (r - 1.0) - 0.5 * (total**2 - np.square(p).sum())
            den = total * (m - total) - (p * (1.0 - p)).sum()
            auc = num / den if den > 0 else np.nan
            grad[:, c] = ((r - 1.0 - total + p) - auc * (m - 2.0 * total - 1.0 + 2.0 * p)
                          ) / den / len(classes) if den > 0 else np.nan
            values.append(auc)
        return float(np.mean(values)), grad
    joint = np.stack([np.bincount(pred, q[:, c], minlength=k) for c in range(k)])
    return float(confusion_metric(joint, metric)), joint_gradient(joint, metric).T[pred]


def joint_gradient(joint: np.ndarray, metric: str) -> np.ndarray:
    """Gradient of :func:`confusion_metric` with respect to the ``(K, K)`` matrix
    ``joint[true, predicted]`` (analytic; NaN where the metric is undefined)."""
    k = joint.shape[0]
    diag = np.diagonal(joint)
    total = joint.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "accuracy":
            return (np.eye(k) - diag.sum() / total) / total
        rows, cols = joint.sum(1), joint.sum(0)
        # per class c: value N_c / D_c with N_c = s J_cc, gradient (s E_cc - value dD_c) / D_c
        row_ind = np.eye(k)[:, :, None] * np.ones((1, 1, k))  # [c, a, b] = 1{a = c}
        col_ind = np.swapaxes(row_ind, 1, 2)                  # [c, a, b] = 1{b = c}
        if metric == "precision":
            scale, den, d_den = 1.0, cols, col_ind
        elif metric == "recall":
            scale, den, d_den = 1.0, rows, row_ind
        else:
            scale, den, d_den = 2.0, rows + cols, row_ind + col_ind
        value = scale * diag / den
        per_class = (scale * row_ind * col_ind - value[:, None, None] * d_den) / den[:, None, None]
    return per_class[1] if k == 2 else per_class.mean(0)


def label_variance(q: np.ndarray, grad: np.ndarray) -> float:
    """Delta-method variance of a metric realised when row ``i``'s label is drawn from
    ``q[i]`` independently: ``sum_i Var_{y ~ q_i}(grad[i, y])``."""
    first = (q * grad).sum(axis=1)
    return float(max((q * np.square(grad)).sum() - np.square(first).sum(), 0.0))


def auc_parts(scores: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Weighted Mann–Whitney AUC of ``scores`` for ``y == 1`` against ``y == 0``, its
    weighted DeLong variance, and what :func:`auc_standard_error` needs for the label
    sampling of current rows (the weighted variances of the placement values and the
    weighted share of positives)."""
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
    return {"auc": auc,
            "var_estimate": float(np.square(wp * (v_pos - auc)).sum() / wp.sum() ** 2
                                  + np.square(wn * (v_neg - auc)).sum() / wn.sum() ** 2),
            "spread_pos": float((wp @ np.square(v_pos - auc)) / wp.sum()),
            "spread_neg": float((wn @ np.square(v_neg - auc)) / wn.sum()),
            "share_pos": float(wp.sum() / w.sum())}


def auc_standard_error(parts: dict[str, float], m: int, share_pos: float | None = None
                       ) -> float:
    """Standard error of :func:`auc_parts`' AUC as an estimate of the AUC realised on
    ``m`` current rows, of which ``share_pos`` (default the weighted share of the
    reference) are positive: its DeLong variance plus the current rows' label sampling."""
    share = parts["share_pos"] if share_pos is None else share_pos
    var_cur = (parts["spread_pos"] / max(share * m, 1.0)
               + parts["spread_neg"] / max((1 - share) * m, 1.0))
    return float(np.sqrt(parts["var_estimate"] + var_cur))


def weighted_auc(scores: np.ndarray, y: np.ndarray, w: np.ndarray, m: int,
                 share_pos: float | None = None) -> tuple[float, float]:
    """Weighted Mann–Whitney AUC and a weighted DeLong standard error, plus the label
    sampling of ``m`` current rows (of which ``share_pos``, default the weighted share of
    positives, are positive)."""
    parts = auc_parts(scores, y, w)
    return parts["auc"], auc_standard_error(parts, m, share_pos)

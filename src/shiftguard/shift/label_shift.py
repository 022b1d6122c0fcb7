"""Label-shift importance weights ``q(y)/p(y)`` by black-box shift estimation, with intervals."""

from __future__ import annotations

import dataclasses
from statistics import NormalDist
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_alpha,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import InputError
from shiftguard.stats.binomial import clopper_pearson


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


def _hard_prediction_inputs(y_source: Any, pred_source: Any, pred_target: Any,
                            k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked class indices of the source labels and predictions and the target
    predictions, the source pair of equal length."""
    ys = _as_class_index(y_source, "y_source", k)
    ps = _as_class_index(pred_source, "pred_source", k)
    pt = _as_class_index(pred_target, "pred_target", k)
    if ys.shape[0] != ps.shape[0]:
        raise InputError(f"lengths differ: y_source={ys.shape[0]}, pred_source={ps.shape[0]}")
    return ys, ps, pt


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
    ys, ps, pt = _hard_prediction_inputs(y_source, pred_source, pred_target, k)
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
    c_lo, c_hi = clopper_pearson(joint_counts, n, per_entry)
    mu_lo, mu_hi = clopper_pearson(target_counts, m, per_entry)
    w_lo, w_hi = _interval_solve(c_lo, c_hi, mu_lo, mu_hi)
    return LabelShiftWeights(
        weights=np.maximum(point, 0.0),
        lower=np.maximum(w_lo, 0.0),
        upper=np.maximum(w_hi, 0.0),
        confusion=confusion,
        target_prediction_rates=rates,
        delta=delta,
    )


LABEL_SHIFT_ASSUMPTION = (
    "label shift: p(x | y) is the same in source and target, only the class priors change; "
    "every class of the target occurs in the source"
)


@dataclasses.dataclass(frozen=True)
class LabelShiftEstimate(ResultMixin):
    """Estimated target class priors and weights ``q(k) / p(k)`` with intervals.

    Attributes
    ----------
    method
        ``"em"`` or ``"rlls"``.
    target_prior, prior_lower, prior_upper
        Estimated target priors and simultaneous ``1 - alpha`` bounds.
    weights, weights_lower, weights_upper
        ``target_prior / source_prior`` and its bounds.
    source_prior
        Source class priors used.
    alpha
        Error probability of the bounds (all classes at once).
    n_source, n_target
        Sample sizes (``n_source`` is 0 when only the source priors were given).
    assumption
        Condition under which the estimate is consistent.
    """

    method: str
    target_prior: np.ndarray
    prior_lower: np.ndarray
    prior_upper: np.ndarray
    weights: np.ndarray
    weights_lower: np.ndarray
    weights_upper: np.ndarray
    source_prior: np.ndarray
    alpha: float
    n_source: int
    n_target: int
    assumption: str


def as_probabilities(proba: Any, name: str, *, tol: float = 1e-6) -> np.ndarray:
    """Return an ``(n, K)`` matrix of class probabilities (a 1-D input is ``P(class 1)``).

    Raises :class:`InputError` naming ``name`` when a value lies outside ``[0, 1]`` or a row
    does not sum to one (within ``tol``).
    """
    p = as_float_array(proba, name, ndim=1 if np.ndim(proba) == 1 else 2)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    if p.shape[1] < 2:
        raise InputError(f"expected at least 2 class columns, got {p.shape[1]}", name)
    if ((p < 0.0) | (p > 1.0)).any():
        raise InputError("probabilities must lie in [0, 1]", name)
    off = np.abs(p.sum(axis=1) - 1.0)
    if (off > tol).any():
        i = int(np.argmax(off))
        raise InputError(f"probabilities must sum to one per row; row {i} sums to "
                         f"{p[i].sum():.6g}", name)
    return p


def em_priors(
    proba: np.ndarray, source_prior: np.ndarray, counts: np.ndarray | None = None,
    *, start: np.ndarray | None = None, max_iter: int = 1000, tol: float = 1e-9,
) -> np.ndarray:
    """Saerens–Latinne–Decaestecker EM for the target priors, for one or many row weightings.

    ``proba`` is ``(m, K)``; ``counts`` is ``None`` or ``(B, m)`` non-negative row weights
    (bootstrap counts). Returns ``(K,)`` or ``(B, K)`` priors. Each step reweights the
    posteriors by ``prior / source_prior``, renormalises them and averages. ``start``
    (default the source priors) is where the iteration begins; bootstrap replicates start
    from the full-sample estimate, which they are close to.
    """
    ratio = proba / source_prior
    single = counts is None
    c = np.ones((1, proba.shape[0])) if single else counts
    totals = c.sum(axis=1, keepdims=True)
    prior = np.tile(source_prior if start is None else start, (c.shape[0], 1))
    for _ in range(max_iter):
        mix = prior @ ratio.T  # (B, m): sum_k prior_k * p_ik / source_k
        new = prior * ((c / mix) @ ratio) / totals
        done = np.abs(new - prior).max() < tol
        prior = new
        if done:
            break
    return prior[0] if single else prior


def em_prior_covariance(proba: np.ndarray, source_prior: np.ndarray,
                        prior: np.ndarray) -> np.ndarray:
    """Asymptotic ``(K, K)`` covariance of the EM (maximum-likelihood) target priors.

    The inverse observed Fisher information of the free priors ``1..K-1`` (for this
    mixture likelihood the Hessian of a row's log-likelihood is minus the outer product of
    its score), mapped to all ``K`` priors through ``prior_K = 1 - sum_k prior_k``.
    """
    ratio = proba / source_prior
    score = (ratio[:, :-1] - ratio[:, -1:]) / (ratio @ prior)[:, None]
    try:
        cov_free = np.linalg.inv(score.T @ score)
    except np.linalg.LinAlgError:
        raise InputError("the Fisher information is singular: some classes have identical "
                         "posteriors, so their priors are not identified", "proba_target") from None
    k = proba.shape[1]
    jac = np.vstack([np.eye(k - 1), -np.ones((1, k - 1))])
    return jac @ cov_free @ jac.T


def em_label_shift(
    proba_target: Any,
    source_prior: Any,
    *,
    alpha: float = 0.05,
    n_source: int = 0,
    max_iter: int = 1000,
) -> LabelShiftEstimate:
    """Maximum-likelihood target priors under label shift by EM (Saerens et al., 2002).

    With calibrated source posteriors ``p(k | x)`` and source priors ``p(k)``, the target
    posteriors are ``q(k | x) ~ p(k | x) q(k) / p(k)``; EM alternates this adjustment and
    ``q(k) = mean_x q(k | x)`` and converges to the maximum-likelihood priors of the
    target sample (Saerens, Latinne and Decaestecker, 2002, "Adjusting the outputs of a
    classifier to new a priori probabilities").

    Guarantee
    ---------
    Under label shift with calibrated posteriors the estimate is the MLE of the target
    priors, consistent and asymptotically normal. The bounds are Wald intervals from the
    observed Fisher information (for this mixture likelihood the Hessian of each row's
    log-likelihood is minus the outer product of its score), Bonferroni-combined over the
    ``K`` classes: all priors are covered at once with probability tending to
    ``1 - alpha`` as the target sample grows (checked in
    ``tests/validity/test_shift_estimation.py``). The source posteriors and priors are
    treated as exact; their estimation error (``O(n_source^-1/2)``) is not in the bounds,
    and miscalibrated posteriors bias the estimate.

    Parameters
    ----------
    proba_target
        ``(m, K)`` calibrated source-model probabilities on the target rows (1-D: the
        probability of class 1 of a binary problem).
    source_prior
        ``(K,)`` source class priors (e.g. the class frequencies of the source sample the
        model was calibrated on), all positive.
    alpha
        Error probability of the simultaneous bounds.
    n_source
        Size of the source sample the priors came from (reported only).
    max_iter
        Largest number of EM steps.
    """
    alpha = check_alpha(alpha)
    p = as_probabilities(proba_target, "proba_target")
    k = p.shape[1]
    prior_s = as_float_array(source_prior, "source_prior")
    if prior_s.shape[0] != k:
        raise InputError(f"expected {k} source priors (one per probability column), got "
                         f"{prior_s.shape[0]}", "source_prior")
    if (prior_s <= 0).any() or abs(prior_s.sum() - 1.0) > 1e-6:
        raise InputError("source priors must be positive and sum to one", "source_prior")
    prior = em_priors(p, prior_s, max_iter=check_positive_int(max_iter, "max_iter"))
    se = np.sqrt(np.maximum(np.diag(em_prior_covariance(p, prior_s, prior)), 0.0))
    z = NormalDist().inv_cdf(1.0 - alpha / (2.0 * k))
    lo, hi = np.clip(prior - z * se, 0.0, 1.0), np.clip(prior + z * se, 0.0, 1.0)
    return LabelShiftEstimate(
        method="em", target_prior=prior, prior_lower=lo, prior_upper=hi,
        weights=prior / prior_s, weights_lower=lo / prior_s, weights_upper=hi / prior_s,
        source_prior=prior_s, alpha=alpha, n_source=int(n_source), n_target=p.shape[0],
        assumption=LABEL_SHIFT_ASSUMPTION + "; the posteriors are calibrated on the source",
    )


def _rlls_penalty(k: int, n: int, delta: float = 0.05) -> float:
    """``3 Delta_C``: the matrix-Bernstein deviation of the estimated confusion matrix."""
    log_term = np.log(2.0 * k / delta)
    return 3.0 * (2.0 * log_term / (3.0 * n) + np.sqrt(2.0 * log_term / n))


def _rlls_theta(confusion: np.ndarray, b: np.ndarray, rho: float) -> np.ndarray:
    """``argmin |C theta - b| + rho |theta|`` over ``theta >= -1`` (L-BFGS-B, smoothed)."""
    from scipy.optimize import minimize

    eps = 1e-12

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r = confusion @ theta - b
        nr, nt = np.sqrt(r @ r + eps), np.sqrt(theta @ theta + eps)
        return nr + rho * nt, confusion.T @ r / nr + rho * theta / nt

    start = np.linalg.lstsq(confusion, b, rcond=None)[0]
    result = minimize(objective, np.maximum(start, -1.0), jac=True, method="L-BFGS-B",
                      bounds=[(-1.0, None)] * b.shape[0])
    return result.x


def rlls_weights(
    y_source: Any,
    pred_source: Any,
    pred_target: Any,
    n_classes: int,
    *,
    alpha: float = 0.05,
    regularization: float = 0.01,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = 0,
) -> LabelShiftEstimate:
    """Regularised black-box shift estimation (RLLS; Azizzadenesheli, Liu, Yang and
    Anandkumar, 2019).

    With ``C`` the source joint frequency of (prediction, label) and ``mu`` the target
    prediction frequencies, ``theta = w - 1`` solves ``C theta = b`` with
    ``b = mu - C 1`` (target minus source prediction rates). RLLS shrinks towards no shift:
    ``theta = argmin |C theta - b|_2 + rho |theta|_2`` subject to ``theta >= -1``, with
    ``rho = regularization * 3 Delta_C`` and
    ``Delta_C = 2 log(2K/0.05) / (3 n) + sqrt(2 log(2K/0.05) / n)`` the high-probability
    deviation of ``C`` (the paper's Theorem 1; the multiplier 0.01 is the authors' code
    default). Compared with BBSE this trades a small bias towards ``w = 1`` for much less
    variance when ``n`` is small or ``C`` is ill-conditioned.

    Guarantee
    ---------
    Under label shift the estimate is consistent (``rho -> 0``) with the error bound of
    Azizzadenesheli et al. (2019, Theorem 1). The bounds are percentile intervals of a
    parametric bootstrap (multinomial redraws of the source joint counts and the target
    prediction counts, re-solved), Bonferroni-combined over classes: approximate, and they
    include the regularisation bias of each redraw, not of the original estimate.

    Parameters
    ----------
    y_source, pred_source, pred_target, n_classes
        As for :func:`bbse_weights`.
    alpha
        Error probability of the simultaneous bounds.
    regularization
        Multiplier ``c`` of ``3 Delta_C``; 0 gives constrained BBSE.
    n_bootstrap
        Bootstrap redraws.
    seed
        Randomness of the bootstrap.
    """
    k = check_positive_int(n_classes, "n_classes", minimum=2)
    alpha = check_alpha(alpha)
    c_reg = check_positive_number(regularization, "regularization", allow_zero=True)
    n_boot = check_positive_int(n_bootstrap, "n_bootstrap", minimum=20)
    ys, ps, pt = _hard_prediction_inputs(y_source, pred_source, pred_target, k)
    n, m = ys.shape[0], pt.shape[0]
    prior_counts = np.bincount(ys, minlength=k)
    if (prior_counts == 0).any():
        raise InputError(f"class {int(np.argmin(prior_counts))} never occurs in the source "
                         "labels, so its weight is not identified", "y_source")
    joint = np.bincount(ps * k + ys, minlength=k * k).reshape(k, k) / n
    rates = np.bincount(pt, minlength=k) / m
    rho = c_reg * _rlls_penalty(k, n)
    weights = 1.0 + _rlls_theta(joint, rates - joint.sum(axis=1), rho)
    rng = as_rng(seed)
    joint_b = rng.multinomial(n, joint.ravel(), size=n_boot).reshape(n_boot, k, k) / n
    rates_b = rng.multinomial(m, rates, size=n_boot) / m
    boot = np.array([1.0 + _rlls_theta(c, r - c.sum(axis=1), rho)
                     for c, r in zip(joint_b, rates_b, strict=True)])
    prior_s = prior_counts / n
    prior_b = boot * joint_b.sum(axis=1)  # w * source prior, each redraw's own priors
    q = alpha / (2.0 * k)
    # Ends at the (B + 1) q-th order statistics (Hall 1986): NumPy's default interpolation
    # loses about 2 (1 - alpha) / (B + 1) of coverage.
    w_lo, w_hi = np.quantile(boot, [q, 1.0 - q], axis=0, method="weibull")
    p_lo, p_hi = np.quantile(prior_b, [q, 1.0 - q], axis=0, method="weibull")
    return LabelShiftEstimate(
        method="rlls", target_prior=weights * prior_s, prior_lower=p_lo, prior_upper=p_hi,
        weights=weights, weights_lower=w_lo, weights_upper=w_hi, source_prior=prior_s,
        alpha=alpha, n_source=n, n_target=m, assumption=LABEL_SHIFT_ASSUMPTION,
    )

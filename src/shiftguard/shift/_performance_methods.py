"""The six estimators behind :func:`shiftguard.shift.performance.estimate_performance`.

Each ``_method(...)`` takes validated arrays and returns ``(estimate, standard_error,
details)``; the public function documents them, checks inputs and builds the result.
"""

from __future__ import annotations

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.shift._performance_metrics import (
    calibrate,
    confusion_metric,
    draw_labels,
    multiclass_soft_auc,
    weighted_auc,
)
from shiftguard.shift.density_ratio import ClassifierDensityRatio
from shiftguard.shift.label_shift import em_prior_covariance, em_priors
from shiftguard.shift.weighted import ratio_terms, weighted_ratio

REGRESSION_METRICS = ("mae", "mse")
#: Fewest reference rows of each class needed to calibrate and to give an interval.
MIN_ROWS_PER_CLASS = 5
_DLE_FOLDS = 10
_BLOCK_ELEMENTS = 2_000_000


def metric_undefined(metric: str, what: str) -> InputError:
    return InputError(f"{metric} is undefined: {what}", "metric")


def _joint(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)


def realised_metric(metric: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> float:
    k = proba.shape[1]
    if metric == "roc_auc":
        return float(multiclass_soft_auc(proba, np.eye(k)[y]))
    return float(confusion_metric(_joint(y, pred, k), metric))


def _expected_metric(metric: str, q: np.ndarray, pred: np.ndarray, scores: np.ndarray
                     ) -> np.ndarray:
    """Metric expected from label probabilities ``q`` (``(..., n, K)``)."""
    k = scores.shape[1]
    if metric == "roc_auc":
        return multiclass_soft_auc(scores, q)
    return confusion_metric(np.swapaxes(q, -1, -2) @ np.eye(k)[pred], metric)


def _blocks(n_boot: int, row_size: int) -> list[int]:
    """Bootstrap block sizes keeping each block's arrays near ``_BLOCK_ELEMENTS`` values."""
    size = max(1, _BLOCK_ELEMENTS // max(row_size, 1))
    return [min(size, n_boot - start) for start in range(0, n_boot, size)]


def cbpe(p_ref, y, p_cur, metric, calibration, n_boot, rng):
    pred_cur = p_cur.argmax(1)
    k = p_ref.shape[1]
    n = y.shape[0]
    q_cur = p_cur if calibration == "none" else calibrate(p_ref, y, p_cur, calibration)
    estimate = float(_expected_metric(metric, q_cur, pred_cur, p_cur))
    if not np.isfinite(estimate):
        raise metric_undefined(metric, "the current rows give it a zero denominator (e.g. no "
                                "positive prediction)")
    # Cross-fitted estimate on the reference: each fold calibrated on the other folds.
    q_ref = p_ref.copy()
    if calibration != "none":
        folds = rng.permutation(n) % 5
        for f in range(5):
            q_ref[folds == f] = calibrate(p_ref[folds != f], y[folds != f], p_ref[folds == f],
                                          calibration)
    reference_estimate = float(_expected_metric(metric, q_ref, p_ref.argmax(1), p_ref))
    # Label sampling of the current rows, and (if calibrating) the calibrator's own error.
    if metric == "accuracy":  # exact: a sum of independent Bernoulli(q_i[yhat_i])
        hit = q_cur[np.arange(pred_cur.shape[0]), pred_cur]
        var = float((hit * (1.0 - hit)).sum() / hit.shape[0] ** 2)
    else:
        realised = np.concatenate([
            _expected_metric(metric, np.eye(k)[draw_labels(q_cur, size, rng)], pred_cur, p_cur)
            for size in _blocks(n_boot, p_cur.size)])
        var = float(np.nanvar(realised, ddof=1))
    if calibration != "none":
        boot = np.concatenate([
            _expected_metric(metric, calibrate(p_ref, y, p_cur, calibration, rng.multinomial(
                n, np.full(n, 1.0 / n), size=size)), pred_cur, p_cur)
            for size in _blocks(n_boot, max(p_ref.size, p_cur.size))])
        var += float(np.nanvar(boot, ddof=1))
    return estimate, float(np.sqrt(var)), {"calibration": calibration,
                                           "reference_estimate": reference_estimate,
                                           "n_bootstrap": n_boot}


def _confidence(p: np.ndarray, score: str) -> np.ndarray:
    if score == "max_proba":
        return p.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def atc(p_ref, y, p_cur, score, n_boot, rng):
    s_ref, s_cur = _confidence(p_ref, score), _confidence(p_cur, score)
    correct = p_ref.argmax(1) == y
    n, m = s_ref.shape[0], s_cur.shape[0]
    cur_sorted = np.sort(s_cur)

    def threshold_and_estimate(s: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Threshold t with the share of reference scores below t equal to the error rate.
        s_sorted = np.sort(s, axis=-1)
        errors = (~c).sum(-1)
        t = np.take_along_axis(s_sorted, np.minimum(errors, n - 1)[..., None], -1)[..., 0]
        t = np.where(errors >= n, np.inf, t)
        return t, 1.0 - np.searchsorted(cur_sorted, t, side="left") / m

    t, est = threshold_and_estimate(s_ref, correct)
    boot = []
    for size in _blocks(n_boot, n):
        idx = rng.integers(0, n, (size, n))
        boot.append(threshold_and_estimate(s_ref[idx], correct[idx])[1])
    boot = np.concatenate(boot)
    estimate = float(est)
    var = float(np.var(boot, ddof=1)) + estimate * (1.0 - estimate) / m
    return estimate, float(np.sqrt(var)), {"score": score, "threshold": float(t),
                                           "n_bootstrap": n_boot}


def doc(p_ref, y, p_cur, score):
    s_ref, s_cur = _confidence(p_ref, score), _confidence(p_cur, score)
    correct = (p_ref.argmax(1) == y).astype(np.float64)
    gap = correct - s_ref
    estimate = float(correct.mean() - s_ref.mean() + s_cur.mean())
    n, m = s_ref.shape[0], s_cur.shape[0]
    se = float(np.sqrt(gap.var(ddof=1) * (1.0 / n + 1.0 / m)))
    return estimate, se, {"score": score, "confidence_ref": float(s_ref.mean()),
                          "confidence_cur": float(s_cur.mean())}


def importance_weighted(out_ref, y, out_cur, metric, X_ref, X_cur, density_ratio):
    from sklearn.base import clone

    if X_ref is None or X_cur is None:
        raise ParameterError("method='importance_weighted' needs the features X_ref and X_cur")
    xr = as_float_array(X_ref, "X_ref", ndim=2)
    xc = as_float_array(X_cur, "X_cur", ndim=2)
    if xr.shape[0] != y.shape[0] or xc.shape[0] != out_cur.shape[0]:
        raise InputError(f"X_ref has {xr.shape[0]} rows for {y.shape[0]} labels and X_cur "
                         f"{xc.shape[0]} rows for {out_cur.shape[0]} outputs", "X_ref")
    ratio = ClassifierDensityRatio() if density_ratio is None else clone(density_ratio)
    if not callable(getattr(ratio, "fit", None)) or not callable(getattr(ratio, "weights", None)):
        raise EstimatorError(f"density_ratio ({type(ratio).__name__}) needs fit() and weights()")
    w = ratio.fit(xr, xc).weights(xr)
    m = xc.shape[0]
    if metric == "roc_auc":
        if out_ref.shape[1] != 2:
            raise ParameterError("importance-weighted roc_auc is for binary problems")
        if (y == 1).all() or (y == 0).all():
            raise metric_undefined(metric, "the reference holds one class only")
        estimate, se = weighted_auc(out_ref[:, 1], y, w, m)
    else:
        if metric in REGRESSION_METRICS:
            name = "absolute_error" if metric == "mae" else "squared_error"
            a, b = ratio_terms(name, y.astype(np.float64), out_ref)
        else:
            if metric != "accuracy" and out_ref.shape[1] != 2:
                raise ParameterError(f"importance-weighted {metric} is for binary problems; "
                                     "use accuracy or method='cbpe' for multiclass")
            a, b = ratio_terms(metric, y, out_ref.argmax(1))
        estimate, se_est = weighted_ratio(a, b, w, metric)
        mean_b = (w @ b) / w.sum()
        var_cur = (w @ np.square(a - estimate * b)) / w.sum() / mean_b**2 / m
        se = float(np.sqrt(se_est**2 + var_cur))
    ess = float(w.sum() ** 2 / np.square(w).sum())
    return estimate, se, {"density_ratio": type(ratio).__name__, "effective_sample_size": ess,
                          "max_weight": float(w.max() / w.mean())}


def label_shift(p_ref, y, p_cur, metric, prior_method, calibration, n_boot, rng):
    k = p_ref.shape[1]
    n, m = y.shape[0], p_cur.shape[0]
    pred_ref, pred_cur = p_ref.argmax(1), p_cur.argmax(1)
    joint_ref = _joint(y, pred_ref, k) / n  # [true, predicted]
    prior_ref = joint_ref.sum(1)
    rates = np.bincount(pred_cur, minlength=k) / m
    if metric == "roc_auc" and k != 2:
        raise ParameterError("label-shift roc_auc is for binary problems (its binary AUC does "
                             "not depend on the priors)")
    # Bootstrap redraws: reference joint (multinomial) and current rows.
    joint_b = rng.multinomial(n, joint_ref.ravel(), size=n_boot).reshape(n_boot, k, k) / n
    if prior_method == "bbse":
        def priors(joint: np.ndarray, mu: np.ndarray) -> np.ndarray:
            # BBSE: mu = C w with C[predicted, true]; pinv copes with singular redraws
            w = (np.linalg.pinv(np.swapaxes(joint, -1, -2)) @ mu[..., None])[..., 0]
            return np.maximum(w, 0.0) * joint.sum(-1)

        if np.linalg.matrix_rank(joint_ref) < k:
            raise InputError("the reference confusion matrix is singular (a class is never "
                             "predicted), so BBSE priors are not identified", "y_ref")
        prior_cur = priors(joint_ref, rates)
        prior_b = priors(joint_b, rng.multinomial(m, rates, size=n_boot) / m)
    else:
        q_cur = p_cur if calibration == "none" else calibrate(p_ref, y, p_cur, calibration)
        prior_cur = em_priors(q_cur, prior_ref)
        # Redraws of the priors from their asymptotic (Fisher) normal law, on the simplex.
        cov = em_prior_covariance(q_cur, prior_ref, prior_cur)
        prior_b = np.maximum(rng.multivariate_normal(prior_cur, cov, size=n_boot,
                                                     method="eigh"), 0.0)
        prior_b /= prior_b.sum(axis=1, keepdims=True)

    def joint_cur(joint: np.ndarray, prior: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            rates_given_class = joint / joint.sum(-1, keepdims=True)
        out = np.nan_to_num(rates_given_class) * prior[..., :, None]
        return out / out.sum((-2, -1), keepdims=True)

    if metric == "roc_auc":
        share = float(prior_cur[1] / prior_cur.sum())
        estimate, se = weighted_auc(p_ref[:, 1], y, np.ones(n), m, share)
        return estimate, se, {"prior_method": prior_method,
                              "target_prior": prior_cur / prior_cur.sum()}
    target = joint_cur(joint_ref, prior_cur)
    estimate = float(confusion_metric(target, metric))
    if not np.isfinite(estimate):
        raise metric_undefined(metric, "under the estimated priors its denominator is zero")
    redraw = joint_cur(joint_b, prior_b)
    realised = confusion_metric(
        rng.multinomial(m, redraw.reshape(n_boot, k * k)).reshape(n_boot, k, k), metric)
    se = float(np.nanstd(realised, ddof=1))
    return estimate, se, {"prior_method": prior_method,
                          "target_prior": prior_cur / prior_cur.sum(), "n_bootstrap": n_boot}


def direct_loss(pred_ref, y, pred_cur, metric, X_ref, X_cur, loss_model, rng):
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingRegressor

    if X_ref is None or X_cur is None:
        raise ParameterError("method='dle' needs the features X_ref and X_cur")
    xr = np.column_stack([as_float_array(X_ref, "X_ref", ndim=2), pred_ref])
    xc = np.column_stack([as_float_array(X_cur, "X_cur", ndim=2), pred_cur])
    if xr.shape[0] != y.shape[0] or xc.shape[0] != pred_cur.shape[0]:
        raise InputError("X_ref / X_cur must have one row per output", "X_ref")
    if xr.shape[0] < _DLE_FOLDS * MIN_ROWS_PER_CLASS:
        raise InputError(f"too few labelled points for {_DLE_FOLDS}-fold cross-fitting: "
                         f"{xr.shape[0]} < {_DLE_FOLDS * MIN_ROWS_PER_CLASS}", "y_ref")
    err = y - pred_ref
    loss = np.abs(err) if metric == "mae" else np.square(err)
    base = (HistGradientBoostingRegressor(max_iter=100, random_state=0)
            if loss_model is None else loss_model)
    folds = rng.permutation(xr.shape[0]) % _DLE_FOLDS
    oof = np.empty_like(loss)
    fold_estimates = np.empty(_DLE_FOLDS)
    for f in range(_DLE_FOLDS):
        model = clone(base).fit(xr[folds != f], loss[folds != f])
        oof[folds == f] = model.predict(xr[folds == f])
        fold_estimates[f] = np.maximum(model.predict(xc), 0.0).mean()
    estimate = float(np.maximum(clone(base).fit(xr, loss).predict(xc), 0.0).mean())
    # Loss-model error: delete-a-group jackknife over the cross-fitting folds.
    var_model = (_DLE_FOLDS - 1) / _DLE_FOLDS * np.square(
        fold_estimates - fold_estimates.mean()).sum()
    # Label noise of the current rows: the conditional variance of the loss, modelled from
    # the cross-fitted squared residuals and averaged over the current rows.
    resid_sq = np.square(loss - oof)
    var_rows = np.maximum(clone(base).fit(xr, resid_sq).predict(xc), 0.0).mean()
    var_rows = var_rows / xc.shape[0]
    se = float(np.sqrt(var_model + var_rows))
    # Satterthwaite: the jackknife part has (folds - 1) degrees of freedom.
    df = (_DLE_FOLDS - 1) * (var_model + var_rows) ** 2 / max(var_model**2, 1e-300)
    return estimate, se, {"loss_model": type(base).__name__,
                          "reference_estimate": float(oof.mean()),
                          "degrees_of_freedom": float(df)}

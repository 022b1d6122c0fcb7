"""The six estimators behind :class:`shiftguard.shift.performance.PerformanceEstimator`.

Each method is a pair: ``<method>_fit(...)`` does all the work that needs only the
labelled reference (calibrators and their error, bootstrap thresholds, confusion
matrices, loss models) and returns a state dict; ``<method>_estimate(state, metrics,
...)`` takes one chunk of current rows and returns one ``(estimate, standard_error,
details)`` per metric, sharing the chunk's work between the metrics. The public class
documents them, checks inputs and builds the results.
"""

from __future__ import annotations

import numpy as np

from shiftguard._validation import as_float_array
from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.shift._additive_loss import additive_basis, fit_additive
from shiftguard.shift._performance_metrics import (
    auc_parts,
    auc_standard_error,
    bootstrap_counts,
    confusion_metric,
    fit_calibrator,
    isotonic_grid,
    label_variance,
    metric_gradient,
    multiclass_soft_auc,
    platt_covariance,
    weighted_auc,
)
from shiftguard.shift.density_ratio import ClassifierDensityRatio
from shiftguard.shift.label_shift import em_prior_covariance, em_priors
from shiftguard.shift.weighted import ratio_terms, weighted_ratio

REGRESSION_METRICS = ("mae", "mse")
#: Fewest reference rows of each class needed to calibrate and to give an interval.
MIN_ROWS_PER_CLASS = 5
_DLE_FOLDS = 10
#: Current rows (evenly spaced) on which the fold models' jackknife is evaluated.
_DLE_JACKKNIFE_ROWS = 2_000
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


def cbpe_fit(p_ref, y, metrics, calibration, n_boot, rng):
    n = y.shape[0]
    state = {"calibration": calibration, "calibrator": None}
    q_ref = p_ref.copy()
    if calibration != "none":
        # Cross-fitted estimate on the reference, each fold calibrated on the other folds,
        # and the calibrator of all rows: six weightings of the rows fitted in one pass.
        folds = rng.permutation(n) % 5
        weights = np.vstack([folds[None] != np.arange(5)[:, None], np.ones((1, n), bool)])
        fits = fit_calibrator(p_ref, y, calibration, weights)
        q_all = fits.probabilities(fits.raw(p_ref))
        for f in range(5):
            q_ref[folds == f] = q_all[f, folds == f]
        state["calibrator"] = cal = fits.replicate(5)
        # The calibrator's own error as a factor L of its parameters' covariance L'L:
        # sigmoid, the Cholesky factor of the sandwich covariance; isotonic (no closed
        # form), the deviations of maps refitted on bootstrap resamples of the reference.
        if calibration == "sigmoid":
            state["error_factor"] = np.linalg.cholesky(platt_covariance(p_ref, y, cal)).T
            state["calibrator_error"] = "sandwich"
        else:
            params = np.concatenate([
                fit_calibrator(p_ref, y, calibration, bootstrap_counts(n, size, rng)
                               ).flat_params() for size in _blocks(n_boot, n)])
            state["error_factor"] = (params - params.mean(axis=0)) / np.sqrt(n_boot - 1)
            state["calibrator_error"] = f"bootstrap ({n_boot} replicates)"
    pred_ref = p_ref.argmax(1)
    state["reference_estimate"] = {m: float(_expected_metric(m, q_ref, pred_ref, p_ref))
                                   for m in metrics}
    return state


def cbpe_estimate(state, metrics, p_cur):
    pred_cur = p_cur.argmax(1)
    cal = state["calibrator"]
    if cal is None:
        q_cur = p_cur
    else:
        raw = cal.raw(p_cur)[0]
        q_cur = cal.probabilities(raw)
    details = {"calibration": state["calibration"]}
    if cal is not None:
        details["calibrator_error"] = state["calibrator_error"]
    values = [metric_gradient(metric, q_cur, pred_cur, p_cur) for metric in metrics]
    for metric, (estimate, _) in zip(metrics, values, strict=True):
        if not np.isfinite(estimate):
            raise metric_undefined(metric, "the current rows give it a zero denominator (e.g. "
                                   "no positive prediction)")
    # Label sampling of the current rows and (if calibrating) the calibrator's error,
    # both to first order in the metric's gradient.
    variances = np.array([label_variance(q_cur, grad) for _, grad in values])
    if cal is not None:
        grads = cal.gradient(p_cur, raw, q_cur, np.stack([grad for _, grad in values]))
        for k, grad in enumerate(grads):
            spread = state["error_factor"] @ grad
            variances[k] += spread @ spread
    return [(estimate, float(np.sqrt(var)), {
        **details, "reference_estimate": state["reference_estimate"][metric]})
        for metric, (estimate, _), var in zip(metrics, values, variances, strict=True)]


def _confidence(p: np.ndarray, score: str) -> np.ndarray:
    if score == "max_proba":
        return p.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def _atc_thresholds(s: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Threshold ``t`` with the share of reference scores below ``t`` equal to the error
    rate (``inf`` if every row is an error), for each row of ``(..., n)`` resamples."""
    n = s.shape[-1]
    s_sorted = np.sort(s, axis=-1)
    errors = (~correct).sum(-1)
    t = np.take_along_axis(s_sorted, np.minimum(errors, n - 1)[..., None], -1)[..., 0]
    return np.where(errors >= n, np.inf, t)


def atc_fit(p_ref, y, score, n_boot, rng):
    s_ref = _confidence(p_ref, score)
    correct = p_ref.argmax(1) == y
    n = s_ref.shape[0]
    boot = []
    for size in _blocks(n_boot, n):
        idx = rng.integers(0, n, (size, n))
        boot.append(_atc_thresholds(s_ref[idx], correct[idx]))
    return {"score": score, "n_bootstrap": n_boot, "threshold": _atc_thresholds(s_ref, correct),
            "boot_thresholds": np.concatenate(boot)}


def atc_estimate(state, p_cur):
    cur_sorted = np.sort(_confidence(p_cur, state["score"]))
    m = cur_sorted.shape[0]
    estimate = float(1.0 - np.searchsorted(cur_sorted, state["threshold"], side="left") / m)
    boot = 1.0 - np.searchsorted(cur_sorted, state["boot_thresholds"], side="left") / m
    var = float(np.var(boot, ddof=1)) + estimate * (1.0 - estimate) / m
    return [(estimate, float(np.sqrt(var)), {"score": state["score"],
                                             "threshold": float(state["threshold"]),
                                             "n_bootstrap": state["n_bootstrap"]})]


def doc_fit(p_ref, y, score):
    s_ref = _confidence(p_ref, score)
    correct = (p_ref.argmax(1) == y).astype(np.float64)
    return {"score": score, "accuracy": float(correct.mean()), "confidence": float(s_ref.mean()),
            "gap_variance": float((correct - s_ref).var(ddof=1)), "n": s_ref.shape[0]}


def doc_estimate(state, p_cur):
    s_cur = _confidence(p_cur, state["score"])
    estimate = float(state["accuracy"] - state["confidence"] + s_cur.mean())
    se = float(np.sqrt(state["gap_variance"] * (1.0 / state["n"] + 1.0 / s_cur.shape[0])))
    return [(estimate, se, {"score": state["score"], "confidence_ref": state["confidence"],
                            "confidence_cur": float(s_cur.mean())})]


def importance_weighted_fit(out_ref, y, metrics, X_ref, density_ratio):
    from sklearn.base import clone

    if X_ref is None:
        raise ParameterError("method='importance_weighted' needs the features X_ref and X_cur")
    xr = as_float_array(X_ref, "X_ref", ndim=2)
    if xr.shape[0] != y.shape[0]:
        raise InputError(f"X_ref has {xr.shape[0]} rows for {y.shape[0]} labels", "X_ref")
    ratio = ClassifierDensityRatio() if density_ratio is None else clone(density_ratio)
    if not callable(getattr(ratio, "fit", None)) or not callable(getattr(ratio, "weights", None)):
        raise EstimatorError(f"density_ratio ({type(ratio).__name__}) needs fit() and weights()")
    terms = {}
    for metric in metrics:
        if metric == "roc_auc":
            if out_ref.shape[1] != 2:
                raise ParameterError("importance-weighted roc_auc is for binary problems")
            if (y == 1).all() or (y == 0).all():
                raise metric_undefined(metric, "the reference holds one class only")
        elif metric in REGRESSION_METRICS:
            name = "absolute_error" if metric == "mae" else "squared_error"
            terms[metric] = ratio_terms(name, y.astype(np.float64), out_ref)
        else:
            if metric != "accuracy" and out_ref.shape[1] != 2:
                raise ParameterError(f"importance-weighted {metric} is for binary problems; "
                                     "use accuracy or method='cbpe' for multiclass")
            terms[metric] = ratio_terms(metric, y, out_ref.argmax(1))
    return {"X_ref": xr, "y": y, "out_ref": out_ref, "density_ratio": density_ratio,
            "terms": terms}


def importance_weighted_estimate(state, metrics, out_cur, X_cur):
    from sklearn.base import clone

    if X_cur is None:
        raise ParameterError("method='importance_weighted' needs the features X_ref and X_cur")
    xc = as_float_array(X_cur, "X_cur", ndim=2)
    if xc.shape[0] != out_cur.shape[0]:
        raise InputError(f"X_cur has {xc.shape[0]} rows for {out_cur.shape[0]} outputs",
                         "X_cur")
    # The density ratio needs the current features: one fit per chunk, shared by the metrics.
    ratio = (ClassifierDensityRatio() if state["density_ratio"] is None
             else clone(state["density_ratio"]))
    w = ratio.fit(state["X_ref"], xc).weights(state["X_ref"])
    m = xc.shape[0]
    details = {"density_ratio": type(ratio).__name__,
               "effective_sample_size": float(w.sum() ** 2 / np.square(w).sum()),
               "max_weight": float(w.max() / w.mean())}
    out = []
    for metric in metrics:
        if metric == "roc_auc":
            estimate, se = weighted_auc(state["out_ref"][:, 1], state["y"], w, m)
        else:
            a, b = state["terms"][metric]
            estimate, se_est = weighted_ratio(a, b, w, metric)
            mean_b = (w @ b) / w.sum()
            var_cur = (w @ np.square(a - estimate * b)) / w.sum() / mean_b**2 / m
            se = float(np.sqrt(se_est**2 + var_cur))
        out.append((estimate, se, dict(details)))
    return out


def _bbse_priors(pinv_joint_t: np.ndarray, joint: np.ndarray, mu: np.ndarray) -> np.ndarray:
    # BBSE: mu = C w with C[predicted, true]; pinv copes with singular redraws
    w = (pinv_joint_t @ mu[..., None])[..., 0]
    return np.maximum(w, 0.0) * joint.sum(-1)


def _joint_cur(joint: np.ndarray, prior: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        rates_given_class = joint / joint.sum(-1, keepdims=True)
    out = np.nan_to_num(rates_given_class) * prior[..., :, None]
    return out / out.sum((-2, -1), keepdims=True)


def label_shift_fit(p_ref, y, metrics, prior_method, calibration, n_boot, rng):
    k = p_ref.shape[1]
    n = y.shape[0]
    joint_ref = _joint(y, p_ref.argmax(1), k) / n  # [true, predicted]
    if "roc_auc" in metrics and k != 2:
        raise ParameterError("label-shift roc_auc is for binary problems (its binary AUC does "
                             "not depend on the priors)")
    # Bootstrap redraws of the reference joint (multinomial).
    joint_b = rng.multinomial(n, joint_ref.ravel(), size=n_boot).reshape(n_boot, k, k) / n
    state = {"k": k, "n_bootstrap": n_boot, "prior_method": prior_method,
             "joint_ref": joint_ref, "joint_b": joint_b, "prior_ref": joint_ref.sum(1)}
    if prior_method == "bbse":
        if np.linalg.matrix_rank(joint_ref) < k:
            raise InputError("the reference confusion matrix is singular (a class is never "
                             "predicted), so BBSE priors are not identified", "y_ref")
        state["pinv_ref"] = np.linalg.pinv(joint_ref.T)
        state["pinv_b"] = np.linalg.pinv(np.swapaxes(joint_b, -1, -2))
    else:
        state["calibrator"] = (None if calibration == "none"
                               else fit_calibrator(p_ref, y, calibration))
    if "roc_auc" in metrics:
        state["auc"] = auc_parts(p_ref[:, 1], y, np.ones(n))
    return state


def label_shift_estimate(state, metrics, p_cur, rng):
    k, n_boot = state["k"], state["n_bootstrap"]
    m = p_cur.shape[0]
    rates = np.bincount(p_cur.argmax(1), minlength=k) / m
    joint_ref, joint_b = state["joint_ref"], state["joint_b"]
    if state["prior_method"] == "bbse":
        prior_cur = _bbse_priors(state["pinv_ref"], joint_ref, rates)
        prior_b = _bbse_priors(state["pinv_b"], joint_b,
                               rng.multinomial(m, rates, size=n_boot) / m)
    else:
        cal = state["calibrator"]
        q_cur = p_cur if cal is None else cal.probabilities(cal.raw(p_cur))[0]
        prior_cur = em_priors(q_cur, state["prior_ref"])
        # Redraws of the priors from their asymptotic (Fisher) normal law, on the simplex.
        cov = em_prior_covariance(q_cur, state["prior_ref"], prior_cur)
        prior_b = np.maximum(rng.multivariate_normal(prior_cur, cov, size=n_boot,
                                                     method="eigh"), 0.0)
        prior_b /= prior_b.sum(axis=1, keepdims=True)
    target_prior = prior_cur / prior_cur.sum()
    details = {"prior_method": state["prior_method"], "target_prior": target_prior}
    realised = None
    out = []
    for metric in metrics:
        if metric == "roc_auc":
            parts = state["auc"]
            out.append((parts["auc"], auc_standard_error(parts, m, float(target_prior[1])),
                        dict(details)))
            continue
        estimate = float(confusion_metric(_joint_cur(joint_ref, prior_cur), metric))
        if not np.isfinite(estimate):
            raise metric_undefined(metric, "under the estimated priors its denominator is zero")
        if realised is None:  # the current rows' confusion counts, shared by the metrics
            redraw = _joint_cur(joint_b, prior_b)
            realised = rng.multinomial(m, redraw.reshape(n_boot, k * k)).reshape(n_boot, k, k)
        se = float(np.nanstd(confusion_metric(realised, metric), ddof=1))
        out.append((estimate, se, {**details, "n_bootstrap": n_boot}))
    return out


def _variance_map(out_of_fold: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Conditional variance of the loss as an increasing function of its predicted mean
    (a location-scale error: Var |e| = (pi/2 - 1) E[|e|]^2 for a normal e, and Var e^2 =
    2 E[e^2]^2), fitted to the cross-fitted squared residuals: ``(knots, values)``."""
    knots, values = isotonic_grid(out_of_fold, np.square(loss - out_of_fold),
                                  np.ones((1, out_of_fold.shape[0])))
    # The map is constant on blocks of knots: only the blocks' ends change it, and fewer
    # knots make its evaluation on every current row cheap.
    v = values[0]
    ends = np.r_[True, v[1:] != v[:-1]] | np.r_[v[:-1] != v[1:], True]
    return knots[ends], v[ends]


def dle_fit(pred_ref, y, metrics, X_ref, loss_model, rng):
    from sklearn.base import clone

    if X_ref is None:
        raise ParameterError("method='dle' needs the features X_ref and X_cur")
    features = as_float_array(X_ref, "X_ref", ndim=2)
    if features.shape[0] != y.shape[0]:
        raise InputError(f"has {features.shape[0]} rows for {y.shape[0]} labels", "X_ref")
    xr = np.column_stack([features, pred_ref])
    if xr.shape[0] < _DLE_FOLDS * MIN_ROWS_PER_CLASS:
        raise InputError(f"too few labelled points for {_DLE_FOLDS}-fold cross-fitting: "
                         f"{xr.shape[0]} < {_DLE_FOLDS * MIN_ROWS_PER_CLASS}", "y_ref")
    err = y - pred_ref
    state = {"n_features": xr.shape[1] - 1, "models": {}}
    if loss_model is None:
        state["name"] = "additive"
        basis = state["basis"] = additive_basis(xr)
        positions = basis.positions(xr)
        folds = rng.permutation(xr.shape[0]) % _DLE_FOLDS
    else:
        state["name"] = type(loss_model).__name__
    for metric in metrics:
        loss = np.abs(err) if metric == "mae" else np.square(err)
        if loss_model is None:
            fit = fit_additive(basis, positions, loss, folds, _DLE_FOLDS)
            model = {"coef": fit.coef, "fold_coef": fit.fold_coef, "penalty": fit.penalty}
            oof = fit.out_of_fold
        else:
            folds = rng.permutation(xr.shape[0]) % _DLE_FOLDS
            oof = np.empty_like(loss)
            fold_models = []
            for f in range(_DLE_FOLDS):
                fold_models.append(clone(loss_model).fit(xr[folds != f], loss[folds != f]))
                oof[folds == f] = fold_models[-1].predict(xr[folds == f])
            model = {"folds": fold_models, "final": clone(loss_model).fit(xr, loss)}
        knots, values = _variance_map(oof, loss)
        state["models"][metric] = {**model, "variance_knots": knots, "variance_values": values,
                                   "reference_estimate": float(oof.mean())}
    return state


def _dle_fold_estimates(models: dict, xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A regressor loss model's per-row predictions on the chunk and each fold model's
    mean prediction. On a large chunk the fold models are averaged on evenly spaced rows:
    the noise this adds to the variance is small against the jackknife's own (9 degrees
    of freedom) and in expectation only widens it."""
    m = xc.shape[0]
    sub = xc if m <= _DLE_JACKKNIFE_ROWS else xc[np.linspace(0, m - 1, _DLE_JACKKNIFE_ROWS
                                                            ).round().astype(np.intp)]
    predicted = np.maximum(models["final"].predict(xc), 0.0)
    folds = np.array([np.maximum(model.predict(sub), 0.0).mean() for model in models["folds"]])
    return predicted, folds


def dle_estimate(state, metrics, pred_cur, X_cur):
    if X_cur is None:
        raise ParameterError("method='dle' needs the features X_ref and X_cur")
    features = as_float_array(X_cur, "X_cur", ndim=2)
    if features.shape != (pred_cur.shape[0], state["n_features"]):
        raise InputError(f"must have one row per output and {state['n_features']} columns, "
                         f"got shape {features.shape}", "X_cur")
    xc = np.column_stack([features, pred_cur])
    m = xc.shape[0]
    if "basis" in state:  # the additive model: everything from the chunk's basis rows
        basis = state["basis"]
        positions = basis.positions(xc)
        mean_row = basis.mean(positions)
    out = []
    for metric in metrics:
        models = state["models"][metric]
        if "basis" in state:
            # Linear in the loss, so the chunk's mean is unbiased as it stands (no clipping
            # of the rows' predictions at 0, which would bias it upwards).
            predicted = basis.predict(positions, models["coef"])
            estimate = max(float(mean_row @ models["coef"]), 0.0)
            fold_estimates = models["fold_coef"] @ mean_row
        else:
            predicted, fold_estimates = _dle_fold_estimates(models, xc)
            estimate = float(predicted.mean())
        # Loss-model error: delete-a-group jackknife over the cross-fitting folds.
        var_model = (_DLE_FOLDS - 1) / _DLE_FOLDS * np.square(
            fold_estimates - fold_estimates.mean()).sum()
        # Label noise of the current rows.
        var_rows = np.interp(predicted, models["variance_knots"],
                             models["variance_values"]).mean() / m
        # Satterthwaite: the jackknife part has (folds - 1) degrees of freedom.
        df = (_DLE_FOLDS - 1) * (var_model + var_rows) ** 2 / max(var_model**2, 1e-300)
        details = {"loss_model": state["name"], "reference_estimate": models["reference_estimate"],
                   "degrees_of_freedom": float(df)}
        if "penalty" in models:
            details["penalty"] = models["penalty"]
        out.append((estimate, float(np.sqrt(var_model + var_rows)), details))
    return out

"""How well is the model doing on current data whose labels have not arrived yet?

:func:`estimate_performance` estimates a metric on unlabelled current rows from the
model's outputs there and a labelled reference sample, by one of six methods, each right
under its own assumption (stated in :data:`ASSUMPTIONS` and in every result):

=======================  ========================================================
``cbpe``                 expected confusion matrix from probabilities calibrated on
                         the reference (calibration transfers; covariate shift)
``atc``                  average thresholded confidence (empirical)
``doc``                  difference of confidences (empirical)
``importance_weighted``  reference rows reweighted by a density ratio of the
                         features (covariate shift)
``label_shift``          reference per-class behaviour under BBSE or EM target
                         priors (label shift)
``dle``                  regression: a model of the loss (covariate shift)
=======================  ========================================================

Every interval targets the metric *realised on the current rows* (what will be measured
once their labels arrive): it adds the sampling variation of those rows' labels to the
estimation error of the method.
"""

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
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift._performance_methods import (
    MIN_ROWS_PER_CLASS,
    REGRESSION_METRICS,
    atc,
    cbpe,
    direct_loss,
    doc,
    importance_weighted,
    label_shift,
    metric_undefined,
    realised_metric,
)
from shiftguard.shift._performance_metrics import CONFUSION_METRICS
from shiftguard.shift.label_shift import as_probabilities
from shiftguard.shift.weighted import COVARIATE_SHIFT_ASSUMPTION

CLASSIFICATION_METRICS = (*CONFUSION_METRICS, "roc_auc")
METHODS = ("cbpe", "atc", "doc", "importance_weighted", "label_shift", "dle")
CALIBRATIONS = ("isotonic", "sigmoid", "none")

ASSUMPTIONS = {
    "cbpe": "calibration transfers: P(y | model output) is the same on reference and current "
    "rows (true under covariate shift when the model's probabilities are calibrated given x, "
    "e.g. a well-specified model; not under label shift)",
    "atc": "none guaranteed (empirical, Garg et al. 2022): the share of current rows whose "
    "confidence exceeds the reference-fitted threshold equals the current accuracy",
    "doc": "none guaranteed (empirical, Guillory et al. 2021): the gap between mean "
    "confidence and accuracy is the same on reference and current rows",
    "importance_weighted": COVARIATE_SHIFT_ASSUMPTION,
    "label_shift": "label shift: p(x | y) is unchanged and only the class priors change, so "
    "the per-class confusion rates of the reference hold on the current rows",
    "dle": "covariate shift: the loss model E[loss | x, prediction] fitted on the reference "
    "holds on the current rows",
}


@dataclasses.dataclass(frozen=True)
class PerformanceEstimate(ResultMixin):
    """A metric estimated on unlabelled current rows.

    Attributes
    ----------
    metric, method
        What was estimated and how.
    estimate, lower, upper
        Point estimate and the ``1 - alpha`` interval for the metric realised on the
        current rows.
    alpha
        Miscoverage of the interval.
    standard_error
        Standard deviation behind the (normal) interval.
    assumption
        Condition under which the estimate is right.
    n_ref, n_cur
        Numbers of reference and current rows.
    reference_value
        The metric realised on the labelled reference rows.
    details
        Method-specific values (calibration, threshold, priors, effective sample size, ...).
    """

    metric: str
    method: str
    estimate: float
    lower: float
    upper: float
    alpha: float
    standard_error: float
    assumption: str
    n_ref: int
    n_cur: int
    reference_value: float
    details: dict = dataclasses.field(default_factory=dict)


def _class_labels(y: Any, k: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"expected a non-empty 1-D array of class indices, got shape "
                         f"{arr.shape}", "y_ref")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.intp)
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise InputError("expected integer class indices 0..K-1 (encode labels first)", "y_ref")
    if arr.min() < 0 or arr.max() >= k:
        raise InputError(f"holds class {int(arr.max())} but the model outputs {k} classes "
                         f"(0..{k - 1}): a class the model never saw", "y_ref")
    return arr.astype(np.intp)


def _normal_interval(estimate: float, se: float, alpha: float, bounded: bool,
                     df: float | None = None) -> tuple[float, float]:
    """``estimate +/- q se`` with ``q`` the normal quantile, or Student's t with ``df``
    degrees of freedom when the variance estimate has few."""
    if df is None:
        z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    else:
        from scipy.stats import t as student_t

        z = float(student_t.ppf(1.0 - alpha / 2.0, df))
    lo, hi = estimate - z * se, estimate + z * se
    return (max(lo, 0.0), min(hi, 1.0)) if bounded else (max(lo, 0.0), hi)


def _check_rows_per_class(y: np.ndarray, k: int, metric: str) -> None:
    counts = np.bincount(y, minlength=k)
    c = int(np.argmin(counts))
    if counts[c] == 0:
        raise InputError(f"class {c} never occurs in the reference labels, so {metric} (and the "
                         "calibration) is undefined for it", "y_ref")
    if counts[c] < MIN_ROWS_PER_CLASS:
        raise InputError(f"too few labelled points: class {c} has {int(counts[c])} reference "
                         f"rows, fewer than the {MIN_ROWS_PER_CLASS} needed to calibrate and "
                         "give an interval", "y_ref")


def estimate_performance(
    outputs_ref: Any,
    y_ref: Any,
    outputs_cur: Any,
    metric: str = "accuracy",
    method: str = "cbpe",
    *,
    alpha: float = 0.05,
    X_ref: Any = None,
    X_cur: Any = None,
    calibration: str = "sigmoid",
    score: str = "max_proba",
    density_ratio: Any = None,
    prior_method: str = "bbse",
    loss_model: Any = None,
    n_bootstrap: int = 200,
    seed: int | np.random.Generator | None = 0,
) -> PerformanceEstimate:
    """Estimate a model's performance on current rows without their labels.

    Parameters
    ----------
    outputs_ref, outputs_cur
        Classification: predicted class probabilities, ``(n, K)``, or for a binary model
        the 1-D probability of class 1 (the prediction is the most probable class).
        Regression (``method="dle"`` or ``importance_weighted`` with ``mae``/``mse``): the
        1-D predictions.
    y_ref
        Reference labels: class indices ``0..K-1``, or numbers for regression.
    metric
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` (binary: of class 1;
        multiclass: macro average, one-vs-rest AUC), or ``mae``/``mse`` for regression.
    method
        One of :data:`METHODS`:

        * ``cbpe`` — confidence-based performance estimation (as in NannyML): the
          probabilities are calibrated on the reference (``calibration``: ``"sigmoid"``,
          Platt scaling of the logit, the default; ``"isotonic"``; both one-vs-rest; or
          ``"none"`` if already calibrated) and the metric is
          computed from the expected confusion matrix ``sum_i q_i onehot(yhat_i)'``
          (ROC AUC from the expected pairwise ordering, see
          ``_performance_metrics.soft_auc``). ``details["reference_estimate"]`` is the
          same estimate on the reference rows with 5-fold cross-fitted calibration, so
          that it is not optimistic. Interval: label sampling on the current rows
          (parametric bootstrap from the calibrated probabilities) plus the calibrator's
          error (nonparametric bootstrap of the reference rows, re-calibrating).
        * ``atc`` — average thresholded confidence (Garg, Balakrishnan, Lipton, Neyshabur
          and Sedghi, 2022): the threshold ``t`` on the confidence ``score``
          (``"max_proba"`` or ``"negative_entropy"``) with the reference error rate below
          it; the estimated accuracy is the share of current rows above ``t``. Interval:
          bootstrap of the reference plus binomial sampling of the current rows.
        * ``doc`` — difference of confidences (Guillory, Shankar, Ebrahimi, Darrell and
          Schmidt, 2021): reference accuracy minus the drop in mean confidence.
          Interval: normal, from the variance of (correct - confidence).
        * ``importance_weighted`` — reference rows reweighted by ``density_ratio``
          (an unfitted estimator with ``fit(X_source, X_target)`` and ``weights(X)``,
          default :class:`ClassifierDensityRatio`) fitted on ``X_ref`` vs ``X_cur``
          (:func:`~shiftguard.shift.weighted.weighted_ratio`; binary ROC AUC by the
          weighted Mann–Whitney statistic with a weighted DeLong variance).
        * ``label_shift`` — current class priors by BBSE (``prior_method="bbse"``, hard
          predictions) or EM (``"em"``, calibrated probabilities); the current expected
          confusion matrix is the reference's per-class confusion rates times those
          priors (so accuracy is ``sum_k prior_cur(k) recall_ref(k)``); binary ROC AUC
          does not depend on the priors and is the reference AUC. Interval: parametric
          bootstrap of the reference confusion counts, of the priors (BBSE: redrawn
          current prediction counts; EM: their Fisher normal law) and of the current
          rows' labels.
        * ``dle`` — direct loss estimation (regression): a ``loss_model`` (default
          histogram gradient boosting) of the absolute or squared error on the features
          and the prediction, fitted on the reference; the estimate is its mean
          prediction on the current rows. Interval: the loss model's error by the
          delete-a-group jackknife over 10 cross-fitting folds, plus the current rows'
          label noise, ``mean_cur s^2(x) / n_cur`` with ``s^2`` the same model fitted to
          the cross-fitted squared residuals; Student's t quantile with Satterthwaite's
          degrees of freedom (the jackknife part has 9).
    alpha
        Miscoverage of the interval (normal, ``estimate +/- z se``, clipped to [0, 1] for
        bounded metrics).
    X_ref, X_cur
        Features, for ``importance_weighted`` and ``dle``.
    calibration
        Calibration of the probabilities on the reference for ``cbpe`` and for
        ``label_shift`` with ``prior_method="em"``. Sigmoid is the default because it has
        two parameters per class: isotonic regression's end blocks are small and extreme,
        which biased CBPE upwards (+0.004 accuracy, 3.7 Monte Carlo standard errors) when
        the current rows moved to the edge of the reference range in our covariate-shift
        simulation. Choose isotonic when the miscalibration is not monotone in the logit.
    score
        Confidence score of ``atc`` and ``doc``: ``"max_proba"`` or ``"negative_entropy"``.
    density_ratio
        Unfitted density-ratio estimator for ``importance_weighted``.
    prior_method
        ``"bbse"`` or ``"em"`` for ``label_shift``.
    loss_model
        Unfitted regressor of the loss for ``dle``.
    n_bootstrap, seed
        Bootstrap replicates and their randomness.

    Guarantee
    ---------
    Each method is right under its own assumption (``result.assumption``, see
    :data:`ASSUMPTIONS`) and then its interval covers the metric realised on the current
    rows with probability tending to ``1 - alpha`` as both samples grow (checked for
    ``cbpe``, ``importance_weighted`` and ``label_shift`` in
    ``tests/validity/test_shift_estimation.py``). ``atc`` and ``doc`` have no guarantee:
    they are empirical rules that track accuracy under many natural shifts but can be
    arbitrarily wrong (Garg et al., 2022, Section 3).

    Raises
    ------
    InputError
        Probabilities outside [0, 1] or rows not summing to one; a reference class the
        model does not output; too few reference rows of a class; a metric undefined on
        the data (e.g. AUC with one class).
    """
    check_choice(method, "method", METHODS)
    alpha = check_alpha(alpha)
    n_boot = check_positive_int(n_bootstrap, "n_bootstrap", minimum=20)
    rng = as_rng(seed)
    regression = method == "dle" or metric in REGRESSION_METRICS
    check_choice(metric, "metric", REGRESSION_METRICS if regression else CLASSIFICATION_METRICS)
    if regression:
        if method not in ("dle", "importance_weighted"):
            raise ParameterError(f"method={method!r} is for classification; use 'dle' or "
                                 "'importance_weighted' for mae/mse")
        pred_ref = as_float_array(outputs_ref, "outputs_ref")
        pred_cur = as_float_array(outputs_cur, "outputs_cur")
        y = as_float_array(y_ref, "y_ref")
        if y.shape[0] != pred_ref.shape[0]:
            raise InputError(f"lengths differ: outputs_ref={pred_ref.shape[0]}, "
                             f"y_ref={y.shape[0]}")
        reference_value = float(np.mean(np.abs(y - pred_ref) if metric == "mae"
                                        else np.square(y - pred_ref)))
        if method == "dle":
            estimate, se, details = direct_loss(pred_ref, y, pred_cur, metric, X_ref, X_cur,
                                         loss_model, rng)
        else:
            estimate, se, details = importance_weighted(pred_ref, y, pred_cur, metric, X_ref,
                                                         X_cur, density_ratio)
        lower, upper = _normal_interval(estimate, se, alpha, bounded=False,
                                        df=details.get("degrees_of_freedom"))
        return PerformanceEstimate(metric, method, estimate, lower, upper, alpha, se,
                                   ASSUMPTIONS[method], int(y.shape[0]),
                                   int(pred_cur.shape[0]), reference_value, details)
    check_choice(calibration, "calibration", CALIBRATIONS)
    check_choice(score, "score", ("max_proba", "negative_entropy"))
    check_choice(prior_method, "prior_method", ("bbse", "em"))
    p_ref = as_probabilities(outputs_ref, "outputs_ref")
    p_cur = as_probabilities(outputs_cur, "outputs_cur")
    k = p_ref.shape[1]
    if p_cur.shape[1] != k:
        raise InputError(f"has {p_cur.shape[1]} class columns but outputs_ref has {k}",
                         "outputs_cur")
    y = _class_labels(y_ref, k)
    if y.shape[0] != p_ref.shape[0]:
        raise InputError(f"lengths differ: outputs_ref={p_ref.shape[0]}, y_ref={y.shape[0]}")
    _check_rows_per_class(y, k, metric)
    if method in ("atc", "doc") and metric != "accuracy":
        raise ParameterError(f"method={method!r} estimates accuracy only, not {metric!r}")
    reference_value = realised_metric(metric, y, p_ref.argmax(1), p_ref)
    if not np.isfinite(reference_value):
        raise metric_undefined(metric, "its denominator is zero on the reference rows")
    if method == "cbpe":
        estimate, se, details = cbpe(p_ref, y, p_cur, metric, calibration, n_boot, rng)
    elif method == "atc":
        estimate, se, details = atc(p_ref, y, p_cur, score, n_boot, rng)
    elif method == "doc":
        estimate, se, details = doc(p_ref, y, p_cur, score)
    elif method == "importance_weighted":
        estimate, se, details = importance_weighted(p_ref, y, p_cur, metric, X_ref, X_cur,
                                                     density_ratio)
    else:
        estimate, se, details = label_shift(p_ref, y, p_cur, metric, prior_method,
                                             calibration, n_boot, rng)
    lower, upper = _normal_interval(estimate, se, alpha, bounded=True)
    return PerformanceEstimate(metric, method, estimate, lower, upper, alpha, se,
                               ASSUMPTIONS[method], int(y.shape[0]), int(p_cur.shape[0]),
                               reference_value, details)



def estimate_performance_chunks(
    outputs_ref: Any,
    y_ref: Any,
    outputs_cur: Any,
    chunks: Any,
    metric: str = "accuracy",
    method: str = "cbpe",
    *,
    X_cur: Any = None,
    **options: Any,
) -> dict[Any, PerformanceEstimate]:
    """One :func:`estimate_performance` per chunk (month, batch) of the current rows.

    ``chunks`` gives each current row's chunk label; the result maps every label, in
    sorted order, to its estimate. ``X_cur`` (if given) is split the same way; every other
    keyword is passed on unchanged (the same ``seed`` for every chunk). Each chunk is
    estimated on its own, so each interval has the guarantee of its method; they are not
    simultaneous over chunks.
    """
    labels = np.asarray(chunks)
    n_cur = np.shape(outputs_cur)[0]
    if labels.ndim != 1 or labels.shape[0] != n_cur:
        raise InputError(f"expected one chunk label per current row ({n_cur}), got shape "
                         f"{labels.shape}", "chunks")
    outputs = np.asarray(outputs_cur)
    features = None if X_cur is None else np.asarray(X_cur)
    result = {}
    for label in np.unique(labels):
        rows = labels == label
        result[label.item() if isinstance(label, np.generic) else label] = estimate_performance(
            outputs_ref, y_ref, outputs[rows], metric, method,
            X_cur=None if features is None else features[rows], **options)
    return result

"""Importance-weighted estimate of a metric on the target distribution, with an interval."""

from __future__ import annotations

import dataclasses
from statistics import NormalDist
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, check_alpha, check_choice, check_same_length
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift.density_ratio import as_weights

#: Per-row metrics (mean of a value) and ratio metrics of binary predictions (class 1 is
#: the positive class).
WEIGHTED_METRICS = ("mean", "accuracy", "error_rate", "absolute_error", "squared_error",
                    "precision", "recall", "f1")

COVARIATE_SHIFT_ASSUMPTION = (
    "covariate shift: P(y | x) is the same in reference and current data and the weights "
    "are proportional to dP_current/dP_reference(x); the interval ignores the error of "
    "estimated weights and is asymptotic in the effective sample size"
)


@dataclasses.dataclass(frozen=True)
class WeightedEstimate(ResultMixin):
    """A self-normalised importance-weighted estimate with its normal interval.

    Attributes
    ----------
    metric
        What was estimated.
    estimate, lower, upper
        Point estimate and the ``1 - alpha`` interval.
    alpha
        Miscoverage of the interval.
    standard_error
        Delta-method standard error.
    effective_sample_size
        Kish's ``(sum w)^2 / sum w^2`` of the weights used.
    n
        Number of rows.
    assumption
        The condition under which the estimate is consistent.
    """

    metric: str
    estimate: float
    lower: float
    upper: float
    alpha: float
    standard_error: float
    effective_sample_size: float
    n: int
    assumption: str


def ratio_terms(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Per-row numerator ``a`` and denominator ``b`` with ``metric = sum a / sum b``.

    Every metric here is such a ratio of row sums (accuracy: ``a = [y = yhat]``, ``b = 1``;
    precision: ``a = [y = yhat = 1]``, ``b = [yhat = 1]``; F1: ``a = 2 TP``,
    ``b = 2 TP + FP + FN``), so one delta-method formula covers them all.
    """
    if metric in ("accuracy", "error_rate"):
        correct = (y_true == y_pred).astype(np.float64)
        return (correct if metric == "accuracy" else 1.0 - correct), np.ones_like(correct)
    if metric in ("absolute_error", "squared_error"):
        err = y_true - y_pred
        loss = np.abs(err) if metric == "absolute_error" else np.square(err)
        return loss, np.ones_like(loss)
    pos, pred_pos = y_true == 1, y_pred == 1
    tp = (pos & pred_pos).astype(np.float64)
    if metric == "precision":
        return tp, pred_pos.astype(np.float64)
    if metric == "recall":
        return tp, pos.astype(np.float64)
    return 2.0 * tp, (pos.astype(np.float64) + pred_pos)


def weighted_ratio(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, metric: str = "metric"
) -> tuple[float, float]:
    """``R = sum w a / sum w b`` and its delta-method standard error.

    ``se^2 = sum w^2 (a - R b)^2 / (sum w b)^2`` (the linearisation of a ratio of weighted
    sums; with ``b = 1`` the self-normalised importance-sampling variance, Hesterberg,
    1995; Owen, 2013, ch. 9). Raises :class:`InputError` when ``sum w b`` is 0, i.e. the
    metric is undefined (no weighted positive, say).
    """
    denom = float(w @ b)
    if not denom > 0.0:
        raise InputError(f"{metric} is undefined here: its denominator (e.g. the weighted "
                         "number of positives or of positive predictions) is zero", metric)
    ratio = float(w @ a) / denom
    resid = w * (a - ratio * b)
    return ratio, float(np.sqrt(resid @ resid) / denom)


def weighted_metric(
    weights: Any,
    values: Any = None,
    *,
    y_true: Any = None,
    y_pred: Any = None,
    metric: str = "mean",
    alpha: float = 0.05,
    min_ess: float = 10.0,
) -> WeightedEstimate:
    """Importance-weighted estimate of a metric on the target, with a confidence interval.

    Labelled source rows are reweighted by ``w(x) ~ dP_target/dP_source(x)`` (e.g. from
    :class:`~shiftguard.shift.ClassifierDensityRatio`, :class:`KLIEPDensityRatio` or
    :class:`ULSIFDensityRatio`). The estimate is self-normalised:
    ``sum w a / sum w b`` (see :func:`ratio_terms`), so the weights need only be right up
    to a constant. The interval is ``estimate +/- z_{1-alpha/2} se`` with the delta-method
    standard error of :func:`weighted_ratio`.

    Guarantee
    ---------
    Under covariate shift (``P(y | x)`` the same in source and target) with weights
    proportional to the true density ratio, the estimate is consistent and the interval
    covers the target metric with probability tending to ``1 - alpha`` as the effective
    sample size grows (self-normalised importance sampling, Owen, 2013, ch. 9; coverage
    checked in ``tests/validity/test_shift_estimation.py``). With estimated weights the
    estimate inherits their error, which the interval does not include.

    Parameters
    ----------
    weights
        One non-negative finite weight per row, not all zero.
    values
        Per-row values for ``metric="mean"`` (a loss, a 0/1 correctness, ...).
    y_true, y_pred
        Labels and predictions for the other metrics (class 1 is positive for precision,
        recall and F1).
    metric
        One of :data:`WEIGHTED_METRICS`.
    alpha
        Miscoverage of the interval.
    min_ess
        Smallest effective sample size for which an interval is returned; below it an
        :class:`~shiftguard.errors.InputError` says there are too few points.

    Examples
    --------
    >>> import numpy as np
    >>> est = weighted_metric(np.array([1.0, 1, 2, 2] * 10), np.array([0.0, 1, 1, 1] * 10))
    >>> round(est.estimate, 4)
    0.8333
    """
    check_choice(metric, "metric", WEIGHTED_METRICS)
    alpha = check_alpha(alpha)
    if metric == "mean":
        if values is None:
            raise ParameterError("metric='mean' needs values")
        v = as_float_array(values, "values")
        a, b = v, np.ones_like(v)
    else:
        if y_true is None or y_pred is None:
            raise ParameterError(f"metric={metric!r} needs y_true and y_pred")
        yt, yp = as_float_array(y_true, "y_true"), as_float_array(y_pred, "y_pred")
        check_same_length(y_true=yt, y_pred=yp)
        a, b = ratio_terms(metric, yt, yp)
    w = as_weights(weights, "weights", a.shape[0])
    ess = float(w.sum() ** 2 / np.square(w).sum())
    if ess < min_ess:
        raise InputError(f"too few points for the interval: the effective sample size is "
                         f"{ess:.1f} < min_ess={min_ess:g}", "weights")
    estimate, se = weighted_ratio(a, b, w, metric)
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    return WeightedEstimate(
        metric=metric,
        estimate=estimate,
        lower=estimate - z * se,
        upper=estimate + z * se,
        alpha=alpha,
        standard_error=se,
        effective_sample_size=ess,
        n=int(a.shape[0]),
        assumption=COVARIATE_SHIFT_ASSUMPTION,
    )

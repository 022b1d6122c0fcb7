"""How well is the model doing on current data whose labels have not arrived yet?

:class:`PerformanceEstimator` is fitted once on a labelled reference sample and then
estimates metrics on any number of unlabelled chunks of current rows from the model's
outputs there (:func:`estimate_performance` does both for one chunk and one metric), by
one of six methods, each right under its own assumption (stated in :data:`ASSUMPTIONS`
and in every result):

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

import copy
import dataclasses
from collections.abc import Sequence
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
from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.shift import _performance_methods as methods
from shiftguard.shift._performance_methods import (
    MIN_ROWS_PER_CLASS,
    REGRESSION_METRICS,
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


class PerformanceEstimator:
    """Estimate a model's performance on chunks of current rows without their labels.

    Fitted once on labelled reference rows (held out from the model's training), then
    :meth:`estimate` takes one chunk of current rows at a time. All the work that needs
    only the reference is done in :meth:`fit` — the calibrator and its error
    (CBPE), the bootstrap thresholds (ATC), the reference confusion matrices
    and their redraws (label shift), the cross-fitted loss models (DLE) — so estimating
    many chunks costs little more than one. The importance weights need the current
    features, so their density ratio is fitted per chunk (once for all metrics).

    Parameters
    ----------
    method
        One of :data:`METHODS`:

        * ``cbpe`` — confidence-based performance estimation (as in NannyML): the
          probabilities are calibrated on the reference (``calibration``: ``"sigmoid"``,
          Platt scaling of the logit, the default; ``"isotonic"``; both one-vs-rest; or
          ``"none"`` if already calibrated) and the metric is computed from the expected
          confusion matrix ``sum_i q_i onehot(yhat_i)'`` (ROC AUC from the expected
          pairwise ordering, see ``_performance_metrics.soft_auc``).
          ``details["reference_estimate"]`` is the same estimate on the reference rows
          with 5-fold cross-fitted calibration, so that it is not optimistic. Interval:
          the variance of the metric realised when the current labels are drawn from the
          calibrated probabilities, plus the calibrator's own error, both to first order
          in the metric's gradient (the delta method; exact for accuracy's label part).
          The calibrator's error is, for sigmoid, the sandwich covariance of its
          parameters (two per calibrated class, fitted on the reference; Huber 1967,
          White 1980) — no resampling; for isotonic, which has no closed form, the spread
          of maps refitted on ``n_bootstrap`` bootstrap resamples of the reference
          (refitted once, in :meth:`fit`; isotonic accuracy is linear in the map).
          ``details["calibrator_error"]`` says which.
        * ``atc`` — average thresholded confidence (Garg, Balakrishnan, Lipton, Neyshabur
          and Sedghi, 2022): the threshold ``t`` on the confidence ``score``
          (``"max_proba"`` or ``"negative_entropy"``) with the reference error rate below
          it; the estimated accuracy is the share of current rows above ``t``. Interval:
          bootstrap of the reference threshold plus binomial sampling of the current rows.
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
        * ``dle`` — direct loss estimation (regression): a model of the absolute or
          squared error on the features and the prediction, fitted on the reference; the
          estimate is its mean prediction on the current rows. The default loss model is
          additive: a piecewise-linear function of each column on knots at its reference
          quantiles, smoothed by a difference penalty chosen by 10-fold cross-validation
          (a P-spline, Eilers and Marx 1996), fitted by penalised least squares in closed
          form, so the fold models are downdates of one fit and a chunk costs one pass
          over its rows (``details["penalty"]``); ``loss_model`` may be any regressor
          instead (e.g. ``HistGradientBoostingRegressor`` when the loss has
          interactions), refitted per fold. Interval: the loss model's error by the
          delete-a-group jackknife over the 10 cross-fitting folds, plus the current
          rows' label noise, ``mean_cur s^2(x) / n_cur`` with ``s^2`` an increasing
          function of the predicted loss fitted to the cross-fitted squared residuals;
          Student's t quantile with Satterthwaite's degrees of freedom (the jackknife
          part has 9).
    metrics
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` (binary: of class 1;
        multiclass: macro average, one-vs-rest AUC), or ``mae``/``mse`` for regression;
        :meth:`estimate` returns one estimate per metric, in this order.
    alpha
        Miscoverage of each interval (normal, ``estimate +/- z se``, clipped to [0, 1] for
        bounded metrics).
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
        Unfitted regressor of the loss for ``dle``; ``None``: the additive model above.
    n_bootstrap, seed
        Bootstrap replicates (ATC, label shift, isotonic CBPE) and the randomness of
        them and of the cross-fitting folds. The reference-side replicates are
        drawn in :meth:`fit`; the current-side ones (label shift) from a copy of the
        generator as :meth:`fit` left it, so every :meth:`estimate` call is reproducible
        and equals :func:`estimate_performance` with the same ``seed`` on that chunk.

    Attributes
    ----------
    n_ref_
        Number of reference rows.
    n_classes_
        Number of classes (``None`` for regression).
    reference_values_
        Each metric realised on the reference rows.

    Guarantee
    ---------
    Each method is right under its own assumption (``result.assumption``, see
    :data:`ASSUMPTIONS`) and then each interval covers the metric realised on its chunk's
    rows with probability tending to ``1 - alpha`` as both samples grow (checked for
    ``cbpe``, ``importance_weighted``, ``label_shift`` and ``dle`` in
    ``tests/validity/test_shift_estimation.py``). ``atc`` and ``doc`` have no guarantee:
    they are empirical rules that track accuracy under many natural shifts but can be
    arbitrarily wrong (Garg et al., 2022, Section 3). Intervals of different chunks are
    not simultaneous (see ``performance_over_time(simultaneous=True)``).

    References
    ----------
    Garg, Balakrishnan, Lipton, Neyshabur and Sedghi (2022), *Leveraging unlabeled data to
    predict out-of-distribution performance*, ICLR. Guillory et al. (2021), *Predicting
    with confidence on unseen distributions*, ICCV. Lipton, Wang and Smola (2018),
    *Detecting and correcting for label shift with black box predictors*, ICML. Huber
    (1967), *The behavior of maximum likelihood estimates under nonstandard conditions*;
    White (1980), *A heteroskedasticity-consistent covariance matrix estimator*,
    Econometrica. Eilers and Marx (1996), *Flexible smoothing with B-splines and
    penalties*, Statistical Science. NannyML's CBPE and DLE
    (https://nannyml.readthedocs.io).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p_ref = rng.uniform(size=500); y_ref = (rng.uniform(size=500) < p_ref).astype(int)
    >>> est = PerformanceEstimator(metrics=("accuracy", "roc_auc")).fit(p_ref, y_ref)
    >>> acc, auc = est.estimate(rng.uniform(0.3, 1.0, size=300))
    >>> acc.metric, bool(acc.lower < acc.estimate < acc.upper)
    ('accuracy', True)
    """

    def __init__(
        self,
        method: str = "cbpe",
        metrics: Sequence[str] = ("accuracy",),
        *,
        alpha: float = 0.05,
        calibration: str = "sigmoid",
        score: str = "max_proba",
        density_ratio: Any = None,
        prior_method: str = "bbse",
        loss_model: Any = None,
        n_bootstrap: int = 200,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        self.method = method
        self.metrics = metrics
        self.alpha = alpha
        self.calibration = calibration
        self.score = score
        self.density_ratio = density_ratio
        self.prior_method = prior_method
        self.loss_model = loss_model
        self.n_bootstrap = n_bootstrap
        self.seed = seed

    def _check_parameters(self) -> tuple[str, ...]:
        check_choice(self.method, "method", METHODS)
        check_alpha(self.alpha)
        check_positive_int(self.n_bootstrap, "n_bootstrap", minimum=20)
        metrics = ((self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics))
        if not metrics:
            raise ParameterError("metrics: give at least one metric")
        regression = self.method == "dle" or any(m in REGRESSION_METRICS for m in metrics)
        for metric in metrics:
            check_choice(metric, "metric",
                         REGRESSION_METRICS if regression else CLASSIFICATION_METRICS)
        if regression and self.method not in ("dle", "importance_weighted"):
            raise ParameterError(f"method={self.method!r} is for classification; use 'dle' "
                                 "or 'importance_weighted' for mae/mse")
        if not regression:
            check_choice(self.calibration, "calibration", CALIBRATIONS)
            check_choice(self.score, "score", ("max_proba", "negative_entropy"))
            check_choice(self.prior_method, "prior_method", ("bbse", "em"))
            if self.method in ("atc", "doc") and metrics != ("accuracy",):
                other = next(m for m in metrics if m != "accuracy")
                raise ParameterError(f"method={self.method!r} estimates accuracy only, not "
                                     f"{other!r}")
        return metrics

    def fit(self, outputs_ref: Any, y_ref: Any, X_ref: Any = None) -> PerformanceEstimator:
        """Learn everything that needs only the labelled reference rows.

        ``outputs_ref``: the model's outputs (see :func:`estimate_performance`);
        ``y_ref``: their labels; ``X_ref``: their features (``importance_weighted`` and
        ``dle``). Returns ``self``.
        """
        metrics = self._check_parameters()
        rng = as_rng(self.seed)
        method, n_boot = self.method, int(self.n_bootstrap)
        if self.method == "dle" or metrics[0] in REGRESSION_METRICS:
            out = as_float_array(outputs_ref, "outputs_ref")
            y = as_float_array(y_ref, "y_ref")
            if y.shape[0] != out.shape[0]:
                raise InputError(f"lengths differ: outputs_ref={out.shape[0]}, "
                                 f"y_ref={y.shape[0]}")
            self.n_classes_ = None
            self.reference_values_ = {
                m: float(np.mean(np.abs(y - out) if m == "mae" else np.square(y - out)))
                for m in metrics}
        else:
            out = as_probabilities(outputs_ref, "outputs_ref")
            k = out.shape[1]
            y = _class_labels(y_ref, k)
            if y.shape[0] != out.shape[0]:
                raise InputError(f"lengths differ: outputs_ref={out.shape[0]}, "
                                 f"y_ref={y.shape[0]}")
            for metric in metrics:
                _check_rows_per_class(y, k, metric)
            self.n_classes_ = k
            self.reference_values_ = {}
            for metric in metrics:
                value = realised_metric(metric, y, out.argmax(1), out)
                if not np.isfinite(value):
                    raise metric_undefined(metric, "its denominator is zero on the reference "
                                           "rows")
                self.reference_values_[metric] = value
        if method == "cbpe":
            state = methods.cbpe_fit(out, y, metrics, self.calibration, n_boot, rng)
        elif method == "atc":
            state = methods.atc_fit(out, y, self.score, n_boot, rng)
        elif method == "doc":
            state = methods.doc_fit(out, y, self.score)
        elif method == "importance_weighted":
            state = methods.importance_weighted_fit(out, y, metrics, X_ref, self.density_ratio)
        elif method == "label_shift":
            state = methods.label_shift_fit(out, y, metrics, self.prior_method,
                                            self.calibration, n_boot, rng)
        else:
            state = methods.dle_fit(out, y, metrics, X_ref, self.loss_model, rng)
        self.n_ref_ = int(y.shape[0])
        self._metrics_ = metrics
        self._state_ = state
        self._rng_ = copy.deepcopy(rng)
        return self

    def estimate(self, outputs_cur: Any, X_cur: Any = None) -> tuple[PerformanceEstimate, ...]:
        """Estimate every metric on one chunk of current rows: one
        :class:`PerformanceEstimate` per metric, in the order of ``metrics``.

        ``outputs_cur``: the model's outputs on the chunk; ``X_cur``: its features
        (``importance_weighted`` and ``dle``).
        """
        if not hasattr(self, "_state_"):
            raise NotFittedError("PerformanceEstimator must be fitted first; call "
                                 "fit(outputs_ref, y_ref)")
        method, metrics, state = self.method, self._metrics_, self._state_
        if self.n_classes_ is None:
            out = as_float_array(outputs_cur, "outputs_cur")
        else:
            out = as_probabilities(outputs_cur, "outputs_cur")
            if out.shape[1] != self.n_classes_:
                raise InputError(f"has {out.shape[1]} class columns but outputs_ref has "
                                 f"{self.n_classes_}", "outputs_cur")
        if method == "cbpe":
            results = methods.cbpe_estimate(state, metrics, out)
        elif method == "atc":
            results = methods.atc_estimate(state, out)
        elif method == "doc":
            results = methods.doc_estimate(state, out)
        elif method == "importance_weighted":
            results = methods.importance_weighted_estimate(state, metrics, out, X_cur)
        elif method == "label_shift":
            results = methods.label_shift_estimate(state, metrics, out,
                                                   copy.deepcopy(self._rng_))
        else:
            results = methods.dle_estimate(state, metrics, out, X_cur)
        alpha = float(self.alpha)
        estimates = []
        for metric, (estimate, se, details) in zip(metrics, results, strict=True):
            bounded = metric not in REGRESSION_METRICS
            lower, upper = _normal_interval(estimate, se, alpha, bounded,
                                            df=details.get("degrees_of_freedom"))
            estimates.append(PerformanceEstimate(
                metric, method, float(estimate), lower, upper, alpha, se, ASSUMPTIONS[method],
                self.n_ref_, int(out.shape[0]), self.reference_values_[metric], details))
        return tuple(estimates)


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

    ``PerformanceEstimator(method, (metric,), ...).fit(outputs_ref, y_ref, X_ref)
    .estimate(outputs_cur, X_cur)[0]``: to estimate many chunks or metrics, fit a
    :class:`PerformanceEstimator` once instead.

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
    method, alpha, calibration, score, density_ratio, prior_method, loss_model, n_bootstrap, seed
        As :class:`PerformanceEstimator` (which describes every method and its interval).
    X_ref, X_cur
        Features, for ``importance_weighted`` and ``dle``.

    Guarantee
    ---------
    That of :class:`PerformanceEstimator`: under the method's assumption
    (``result.assumption``) the interval covers the metric realised on the current rows
    with probability tending to ``1 - alpha`` as both samples grow; none for ``atc`` and
    ``doc``.

    References
    ----------
    See :class:`PerformanceEstimator`.

    Raises
    ------
    InputError
        Probabilities outside [0, 1] or rows not summing to one; a reference class the
        model does not output; too few reference rows of a class; a metric undefined on
        the data (e.g. AUC with one class).
    ParameterError
        An unknown method or metric, or one the method cannot estimate.
    """
    estimator = PerformanceEstimator(
        method, (metric,), alpha=alpha, calibration=calibration, score=score,
        density_ratio=density_ratio, prior_method=prior_method, loss_model=loss_model,
        n_bootstrap=n_bootstrap, seed=seed)
    return estimator.fit(outputs_ref, y_ref, X_ref).estimate(outputs_cur, X_cur)[0]

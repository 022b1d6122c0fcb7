"""Density ratios ``w(x) = dP_target/dP_source(x)`` and diagnostics of the weights they give.

Three estimators share one API: ``fit(X_source, X_target)`` returns the estimator,
``weights(X)`` gives the estimated ratio at rows of ``X``, and ``diagnostics_`` holds the
:class:`WeightDiagnostics` of the weights on the source rows (effective sample size,
largest weight, share of mass clipped). When the effective sample size falls below
:data:`MIN_ESS_FRACTION` of the rows, :class:`ShiftWarning` is raised as a warning: the
supports barely overlap and every weighted estimate rests on a handful of rows.

- :class:`ClassifierDensityRatio`: a source-vs-target classifier, optionally calibrated
  by cross-fitted isotonic or sigmoid calibration.
- :class:`~shiftguard.shift.kernel_ratio.KLIEPDensityRatio` and
  :class:`~shiftguard.shift.kernel_ratio.ULSIFDensityRatio`: Gaussian-kernel models
  fitted by KL importance estimation and least squares (in ``kernel_ratio``).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    check_choice,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import EstimatorError, InputError, NotFittedError, ParameterError

#: Below this effective-sample-size fraction (Kish ESS / n) a :class:`ShiftWarning` is
#: raised. At 10 % a weighted mean of n rows is as variable as an unweighted mean of n / 10.
MIN_ESS_FRACTION = 0.1

_CALIBRATIONS = ("isotonic", "sigmoid")


class ShiftWarning(UserWarning):
    """The source and target supports barely overlap: importance weights are unreliable."""


@dataclasses.dataclass(frozen=True)
class WeightDiagnostics(ResultMixin):
    """How usable a set of importance weights is.

    Attributes
    ----------
    n
        Number of weighted rows.
    effective_sample_size
        Kish's ``(sum w)^2 / sum w^2``: the number of unweighted rows a weighted mean is
        about as precise as (Kish, 1965).
    ess_fraction
        ``effective_sample_size / n``.
    max_weight
        Largest weight divided by the mean weight (1 for equal weights).
    clipped_mass
        Share of the raw (unclipped) weight mass removed by clipping; 1 when a raw weight
        is infinite.
    n_clipped
        Number of rows whose weight was clipped.
    low_overlap
        ``ess_fraction < min_ess_fraction``: the supports barely overlap.
    """

    n: int
    effective_sample_size: float
    ess_fraction: float
    max_weight: float
    clipped_mass: float
    n_clipped: int
    low_overlap: bool


def as_weights(weights: Any, name: str = "weights", n: int | None = None) -> np.ndarray:
    """Return importance weights as a 1-D float array: finite, ``>= 0``, positive sum.

    Raises :class:`~shiftguard.errors.InputError` naming ``name`` for infinite or NaN
    weights, negative weights, all-zero weights or a length other than ``n``.
    """
    w = as_float_array(weights, name)
    if n is not None and w.shape[0] != n:
        raise InputError(f"expected {n} weights, got {w.shape[0]}", name)
    if (w < 0.0).any():
        raise InputError(f"weights must be >= 0; position {int(np.argmax(w < 0))} is negative",
                         name)
    if not w.sum() > 0.0:
        raise InputError("all weights are zero: no row carries information about the target",
                         name)
    return w


def weight_diagnostics(
    weights: Any,
    raw_weights: Any = None,
    *,
    min_ess_fraction: float = MIN_ESS_FRACTION,
    warn: bool = True,
) -> WeightDiagnostics:
    """Effective sample size, largest weight and clipping of importance ``weights``.

    Parameters
    ----------
    weights
        Weights as used (after clipping), one per row.
    raw_weights
        The same weights before clipping (may hold ``inf``); ``None`` if none were clipped.
    min_ess_fraction
        Threshold on ``ESS / n`` below which the overlap is called low.
    warn
        Raise a :class:`ShiftWarning` (as a warning) when the overlap is low.
    """
    w = as_weights(weights)
    threshold = check_positive_number(min_ess_fraction, "min_ess_fraction")
    n = w.shape[0]
    ess = float(w.sum() ** 2 / np.square(w).sum())
    clipped_mass, n_clipped = 0.0, 0
    if raw_weights is not None:
        raw = np.asarray(raw_weights, dtype=np.float64)
        if raw.shape != w.shape or np.isnan(raw).any() or (raw < 0).any():
            raise InputError("raw weights must be non-negative numbers, one per weight",
                             "raw_weights")
        changed = raw != w
        n_clipped = int(changed.sum())
        total = raw.sum()
        clipped_mass = 1.0 if not np.isfinite(total) else float(
            np.maximum(raw - w, 0.0).sum() / total
        )
    diag = WeightDiagnostics(
        n=n,
        effective_sample_size=ess,
        ess_fraction=ess / n,
        max_weight=float(w.max() / w.mean()),
        clipped_mass=clipped_mass,
        n_clipped=n_clipped,
        low_overlap=ess / n < threshold,
    )
    if warn and diag.low_overlap:
        warnings.warn(
            f"effective sample size {ess:.1f} of {n} rows ({100 * ess / n:.1f} % < "
            f"{100 * threshold:g} %): source and target supports barely overlap, so weighted "
            "estimates rest on a few rows",
            ShiftWarning,
            stacklevel=2,
        )
    return diag


def _check_pair(X_source: Any, X_target: Any) -> tuple[np.ndarray, np.ndarray]:
    xs = as_float_array(X_source, "X_source", ndim=2, min_size=2)
    xt = as_float_array(X_target, "X_target", ndim=2, min_size=2)
    if xs.shape[1] != xt.shape[1]:
        raise ParameterError(
            f"X_source has {xs.shape[1]} columns but X_target has {xt.shape[1]}"
        )
    return xs, xt


def _check_columns(estimator: Any, X: Any) -> np.ndarray:
    if not hasattr(estimator, "n_features_in_"):
        raise NotFittedError(
            f"{type(estimator).__name__} must be fitted: call fit(X_source, X_target)"
        )
    x = as_float_array(X, "X", ndim=2)
    if x.shape[1] != estimator.n_features_in_:
        raise InputError(f"expected {estimator.n_features_in_} columns, got {x.shape[1]}", "X")
    return x


class ClassifierDensityRatio:
    """Estimate ``w(x) = dP_target/dP_source(x)`` with a source-vs-target classifier.

    A classifier trained to tell target rows (label 1) from source rows (label 0) gives
    ``P(target | x)``; Bayes' rule turns it into
    ``w(x) = (n_source / n_target) * P(target | x) / P(source | x)``
    (Bickel, Brückner and Scheffer, 2009; used for weighted conformal prediction by
    Tibshirani, Barber, Candès and Ramdas, 2019). The ratio is clipped to
    ``[1 / clip, clip]`` because a few near-certain classifier outputs would otherwise give
    weights that dominate every weighted average.

    With ``calibration="isotonic"`` or ``"sigmoid"`` the classifier's probabilities are
    calibrated by cross-fitting (scikit-learn's ``CalibratedClassifierCV``: in each of
    ``cv`` folds the classifier is fitted on the other folds and the calibrator on this
    one; the fold models are averaged), which matters for flexible classifiers (boosting,
    forests) whose raw scores are not probabilities.

    Guarantee
    ---------
    None by itself: the ratio is consistent when the classifier's probabilities are
    calibrated and consistent. Procedures using it inherit an approximation error that
    vanishes as the estimate improves (Lei and Candès, 2021).

    Parameters
    ----------
    classifier
        Any classifier with ``fit`` and ``predict_proba``; default
        ``LogisticRegression(max_iter=1000)``.
    clip
        Largest allowed weight (and ``1/clip`` the smallest); must be > 1.
    calibration
        ``None`` (use the probabilities as they are), ``"isotonic"`` or ``"sigmoid"``.
    cv
        Number of cross-fitting folds for the calibration.

    Attributes
    ----------
    classifier_
        The fitted (possibly calibrated) domain classifier.
    prior_ratio_
        ``n_source / n_target``.
    diagnostics_
        :class:`WeightDiagnostics` of the clipped weights on the source rows.
    """

    def __init__(
        self,
        classifier: Any = None,
        *,
        clip: float = 20.0,
        calibration: str | None = None,
        cv: int = 5,
    ) -> None:
        self.classifier = classifier
        self.clip = clip
        self.calibration = calibration
        self.cv = cv

    def fit(self, X_source: Any, X_target: Any) -> ClassifierDensityRatio:
        """Fit the domain classifier on source rows (0) and target rows (1)."""
        from sklearn.base import clone
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression

        if not float(self.clip) > 1.0:
            raise ParameterError(f"clip must be > 1, got {self.clip!r}")
        if self.calibration is not None:
            check_choice(self.calibration, "calibration", _CALIBRATIONS)
        cv = check_positive_int(self.cv, "cv", minimum=2)
        xs, xt = _check_pair(X_source, X_target)
        model = (
            LogisticRegression(max_iter=1000) if self.classifier is None else clone(self.classifier)
        )
        if not callable(getattr(model, "predict_proba", None)):
            raise EstimatorError(f"classifier ({type(model).__name__}) has no predict_proba()")
        if self.calibration is not None:
            model = CalibratedClassifierCV(model, method=self.calibration, cv=cv)
        labels = np.r_[np.zeros(xs.shape[0]), np.ones(xt.shape[0])]
        self.classifier_ = model.fit(np.vstack([xs, xt]), labels)
        self.prior_ratio_ = xs.shape[0] / xt.shape[0]
        self.n_features_in_ = xs.shape[1]
        raw = self._raw_ratio(xs)
        self.diagnostics_ = weight_diagnostics(np.clip(raw, 1.0 / self.clip, self.clip), raw)
        return self

    def _raw_ratio(self, x: np.ndarray) -> np.ndarray:
        col = int(np.flatnonzero(self.classifier_.classes_ == 1)[0])
        p_target = self.classifier_.predict_proba(x)[:, col]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.prior_ratio_ * p_target / (1.0 - p_target)
        return np.where(p_target >= 1.0, np.inf, ratio)

    def weights(self, X: Any) -> np.ndarray:
        """Estimated, clipped density ratio at each row of ``X``."""
        if not hasattr(self, "classifier_"):
            raise NotFittedError(
                "ClassifierDensityRatio must be fitted: call fit(X_source, X_target)"
            )
        x = _check_columns(self, X)
        return np.clip(self._raw_ratio(x), 1.0 / self.clip, self.clip)

    __call__ = weights


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and of ``b``."""
    d2 = np.square(a).sum(1)[:, None] + np.square(b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0)

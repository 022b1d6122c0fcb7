"""Finite-sample conformal quantiles, shared by every split method in this package.

The split-conformal threshold is the ``k``-th smallest of ``n`` calibration scores with
``k = ceil((n + 1)(1 - alpha))``: treating the test score as one more exchangeable draw,
the test score is at most that order statistic with probability at least ``1 - alpha``
(Vovk et al., 2005; Lei et al., 2018). When ``k > n`` no finite threshold exists; rather
than return an infinite interval silently we raise, saying how many points are needed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shiftguard._validation import as_float_array, check_alpha
from shiftguard.errors import EstimatorError, InputError, NotFittedError

# (n + 1)(1 - alpha) is often an integer in exact arithmetic (n = 99, alpha = 0.1) but not
# in floating point; the slack keeps ceil from stepping one rank too far.
_RANK_SLACK = 1e-9


def min_calibration_size(alpha: float) -> int:
    """Smallest calibration size ``n`` with a finite split-conformal threshold at ``alpha``.

    It is the smallest ``n`` with ``ceil((n + 1)(1 - alpha)) <= n``, i.e. ``n >= 1/alpha - 1``.
    """
    alpha = check_alpha(alpha)
    return max(1, math.ceil(1.0 / alpha - 1.0 - _RANK_SLACK))


def conformal_rank(n: int, alpha: float) -> int:
    """Return ``k = ceil((n + 1)(1 - alpha))``, the 1-based rank of the conformal quantile.

    Raises :class:`~shiftguard.errors.InputError` when ``k > n`` (too few calibration points).
    """
    alpha = check_alpha(alpha)
    k = math.ceil((n + 1) * (1.0 - alpha) - _RANK_SLACK)
    if k > n:
        raise InputError(
            f"{n} calibration point(s) are too few for alpha={alpha:g}: a finite threshold "
            f"needs at least {min_calibration_size(alpha)}",
            "y",
        )
    return max(k, 1)


def conformal_quantile(scores: np.ndarray, alpha: float) -> Any:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of ``scores`` (split-conformal threshold).

    ``scores`` is 1-D (returns a float) or 2-D with one calibration set per row (returns
    one threshold per row; ``n`` is the row length).
    """
    k = conformal_rank(scores.shape[-1], alpha)
    out = np.partition(scores, k - 1, axis=-1)[..., k - 1]
    return float(out) if scores.ndim == 1 else out


def weighted_conformal_quantiles(
    scores: np.ndarray,
    calibration_weights: np.ndarray,
    test_weights: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Weighted conformal thresholds, one per test weight (Tibshirani et al., 2019).

    For a test point of weight ``w`` the threshold is the ``1 - alpha`` quantile of the
    distribution putting mass ``w_i / (W + w)`` on calibration score ``i`` and ``w / (W + w)``
    on ``+inf``, with ``W`` the total calibration weight. It is ``+inf`` when the finite
    scores carry less than ``1 - alpha`` of the mass.
    """
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    cumulative = np.cumsum(calibration_weights[order])
    total = cumulative[-1]
    needed = (1.0 - alpha) * (total + test_weights)
    # smallest index with cumulative weight >= needed; the slack absorbs rounding in cumsum
    idx = np.searchsorted(cumulative, needed * (1.0 - 1e-12), side="left")
    out = np.full(test_weights.shape[0], np.inf)
    finite = idx < sorted_scores.shape[0]
    out[finite] = sorted_scores[idx[finite]]
    return out


def check_weights(weights: Any, name: str, n: int) -> np.ndarray:
    """Return non-negative finite weights of length ``n`` with a positive sum, else raise."""
    w = as_float_array(weights, name)
    if w.shape[0] != n:
        raise InputError(f"expected {n} weights, got {w.shape[0]}", name)
    if (w < 0).any():
        raise InputError("weights must be non-negative", name)
    if w.sum() <= 0:
        raise InputError("weights sum to zero", name)
    return w


def require_method(estimator: Any, method: str, name: str = "estimator") -> None:
    """Raise :class:`~shiftguard.errors.EstimatorError` unless ``estimator.method`` exists."""
    if not callable(getattr(estimator, method, None)):
        raise EstimatorError(
            f"{name} ({type(estimator).__name__}) has no {method}() method, which this "
            "conformal procedure needs"
        )


def require_fitted(obj: Any, attribute: str, what: str = "calibrate") -> None:
    """Raise :class:`~shiftguard.errors.NotFittedError` unless ``obj`` has ``attribute``."""
    if not hasattr(obj, attribute):
        raise NotFittedError(
            f"{type(obj).__name__} must be {what}d before prediction; call {what}(X, y)"
        )


def fit_or_use(estimator: Any, prefit: bool, X: np.ndarray | None, y: np.ndarray | None) -> Any:
    """Return ``estimator`` itself when ``prefit``, else a fitted clone of it."""
    if prefit:
        return estimator
    from sklearn.base import clone

    require_method(estimator, "fit")
    return clone(estimator).fit(X, y)


def as_features(X: Any, name: str = "X") -> Any:
    """Validate a feature matrix: 2-D, finite, non-empty. Non-numeric frames pass unchanged.

    Models in pipelines may take DataFrames with categorical columns, so only inputs NumPy
    can read as numbers are converted; the rest go to the model as they are.
    """
    if hasattr(X, "shape") and len(getattr(X, "shape", ())) == 2 and not isinstance(X, np.ndarray):
        if len(X) == 0:
            raise InputError("is empty", name)
        return X
    return as_float_array(X, name, ndim=2)


def as_labels_1d(y: Any, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D NumPy array (any dtype), non-empty."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"expected a 1-D array, got shape {arr.shape}", name)
    if arr.shape[0] == 0:
        raise InputError("is empty", name)
    return arr


class PrefitMixin:
    """Resolves which fitted model to use: the given one (prefit) or the one fitted here."""

    prefit: bool

    def _fitted(self, attribute: str, given: Any) -> Any:
        if self.prefit:
            return given
        if not hasattr(self, attribute):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted: call fit(X, y) first, or pass prefit=True"
            )
        return getattr(self, attribute)

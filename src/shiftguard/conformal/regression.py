"""Conformal prediction intervals for regressors: split (absolute/scaled), CQR, jackknife+, CV+."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_alpha,
    check_choice,
    check_positive_int,
    check_same_length,
)
from shiftguard.conformal._quantile import (
    PrefitMixin,
    as_features,
    conformal_quantile,
    fit_or_use,
    require_fitted,
    require_method,
)
from shiftguard.conformal._scores import PredictionIntervals, widened
from shiftguard.errors import InputError

# scaled residuals divide by a predicted spread; a floor keeps a zero prediction from
# turning one residual into an infinite score
_MIN_SCALE = 1e-12
_BLOCK_CELLS = 2_000_000
# Jackknife+/CV+ bounds come from merging the folds' sorted residuals when that visits at
# most this many times n values (folds x ranks walked); otherwise from np.partition over
# all n values, which costs a few passes over them.
_WALK_MAX_RATIO = 4


@njit(cache=True)
def _walk_bounds(
    fold_pred: np.ndarray,
    residuals: np.ndarray,
    starts: np.ndarray,
    n_lower: int,
    n_upper: int,
    bounds: np.ndarray,
) -> None:
    """Jackknife+/CV+ bounds without forming the ``n`` candidate values of each test row.

    Fold ``f``'s residuals are ``residuals[starts[f]:]`` in decreasing order, ended by
    ``-inf``. The lower bound of row ``i``, the ``n_lower``-th smallest of
    ``fold_pred[i, f] - R``, is the ``n_lower``-th value taken when the folds are merged
    from their largest residuals, always taking the smallest candidate; the upper bound,
    the ``n_upper``-th largest of ``fold_pred[i, f] + R``, likewise with the largest (an
    exhausted fold offers ``+inf``, resp. ``-inf``). The values are the same
    floating-point sums as in a full sort, so the bounds are identical.
    """
    n_folds = fold_pred.shape[1]
    head = np.empty(n_folds, dtype=np.int64)
    candidate = np.empty(n_folds)
    for i in range(fold_pred.shape[0]):
        for f in range(n_folds):
            head[f] = starts[f]
            candidate[f] = fold_pred[i, f] - residuals[head[f]]
        for _ in range(n_lower):
            best = 0
            for f in range(1, n_folds):
                if candidate[f] < candidate[best]:
                    best = f
            bounds[0, i] = candidate[best]
            head[best] += 1
            candidate[best] = fold_pred[i, best] - residuals[head[best]]
        for f in range(n_folds):
            head[f] = starts[f]
            candidate[f] = fold_pred[i, f] + residuals[head[f]]
        for _ in range(n_upper):
            best = 0
            for f in range(1, n_folds):
                if candidate[f] > candidate[best]:
                    best = f
            bounds[1, i] = candidate[best]
            head[best] += 1
            candidate[best] = fold_pred[i, best] + residuals[head[best]]


def predict_checked(model: Any, X: Any, name: str = "estimator") -> np.ndarray:
    """``model.predict(X)`` as a finite 1-D float array."""
    require_method(model, "predict", name)
    return as_float_array(np.ravel(model.predict(X)), f"{name}.predict(X)")


def features_and_targets(X: Any, y: Any) -> tuple[Any, np.ndarray]:
    X = as_features(X)
    y = as_float_array(y, "y")
    check_same_length(X=X, y=y)
    return X, y


class SplitConformalRegressor(PrefitMixin):
    """Split-conformal intervals ``mu(x) +/- q * s(x)`` around any regressor.

    Guarantee
    ---------
    Marginal coverage: if calibration and test points are exchangeable,
    ``P(y in [lower, upper]) >= 1 - alpha``, and ``<= 1 - alpha + 1/(n + 1)`` when scores
    have no ties (Lei, G'Sell, Rinaldo, Tibshirani and Wasserman, 2018). Nothing is
    assumed about the model; a poor model only gives wider intervals.

    Parameters
    ----------
    estimator
        Regressor with ``predict`` (and ``fit`` unless ``prefit``).
    alpha
        Target miscoverage in (0, 1).
    score
        ``"absolute"``: ``|y - mu(x)|`` (constant width). ``"scaled"``:
        ``|y - mu(x)| / s(x)`` with ``s`` a model of the absolute residual (locally
        adaptive width; Lei et al., 2018, section 5.2).
    scale_estimator
        Required for ``score="scaled"``: regressor for ``|y - mu(x)|``. With ``prefit`` it
        must already be fitted; otherwise :meth:`fit` fits it on the out-of-fold absolute
        residuals of ``estimator`` (5-fold), so the spread is not underestimated.
    prefit
        Use the estimators as already fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> cp = SplitConformalRegressor(Ridge(), alpha=0.1).fit(X[:200], y[:200])
    >>> lower, upper = cp.calibrate(X[200:350], y[200:350]).predict_interval(X[350:])
    >>> bool(((lower <= y[350:]) & (y[350:] <= upper)).mean() > 0.8)
    True
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        score: str = "absolute",
        scale_estimator: Any = None,
        prefit: bool = False,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.score = score
        self.scale_estimator = scale_estimator
        self.prefit = prefit

    def _check_score(self) -> None:
        check_choice(self.score, "score", ("absolute", "scaled"))
        if self.score == "scaled" and self.scale_estimator is None:
            raise InputError("score='scaled' needs a scale_estimator", "scale_estimator")

    def fit(self, X: Any, y: Any) -> SplitConformalRegressor:
        """Fit ``estimator`` (and the scale model) on training data kept apart from calibration."""
        self._check_score()
        X, y = features_and_targets(X, y)
        self.estimator_ = fit_or_use(self.estimator, False, X, y)
        if self.score == "scaled":
            from sklearn.base import clone
            from sklearn.model_selection import cross_val_predict

            oof = cross_val_predict(clone(self.estimator), X, y, cv=5)
            self.scale_estimator_ = fit_or_use(self.scale_estimator, False, X, np.abs(y - oof))
        return self

    def _spread(self, X: Any) -> np.ndarray | float:
        if self.score == "absolute":
            return 1.0
        scale = self._fitted("scale_estimator_", self.scale_estimator)
        return np.maximum(np.abs(predict_checked(scale, X, "scale_estimator")), _MIN_SCALE)

    def _mu(self, X: Any) -> np.ndarray:
        """The model's predictions at already validated ``X``."""
        return predict_checked(self._fitted("estimator_", self.estimator), X)

    def _scores(self, X: Any, y: np.ndarray) -> np.ndarray:
        """Scores of inputs already validated by :func:`features_and_targets`."""
        return np.abs(y - self._mu(X)) / self._spread(X)

    def conformity_scores(self, X: Any, y: Any) -> np.ndarray:
        """Scores ``|y - mu(x)| / s(x)`` of labelled points (``s = 1`` for ``"absolute"``)."""
        self._check_score()
        return self._scores(*features_and_targets(X, y))

    def calibrate(self, X: Any, y: Any) -> SplitConformalRegressor:
        """Compute the conformal quantile of the scores on held-out ``(X, y)``."""
        alpha = check_alpha(self.alpha)
        self._check_score()
        X, y = features_and_targets(X, y)
        self.quantile_ = conformal_quantile(self._scores(X, y), alpha)
        self.n_calibration_ = int(y.shape[0])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Point predictions of the wrapped model."""
        return self._mu(as_features(X))

    def predict_interval(self, X: Any) -> PredictionIntervals:
        """Intervals ``mu(x) -/+ quantile_ * s(x)``; unpack as ``lower, upper``."""
        require_fitted(self, "quantile_")
        X = as_features(X)
        mu = self._mu(X)
        # With the absolute score the half-width is one number: no n-sized temporaries.
        half = self.quantile_ * self._spread(X)
        return widened(mu, mu, half, half, float(self.alpha), f"split-{self.score}", "marginal")


class ConformalizedQuantileRegressor(PrefitMixin):
    """Conformalized quantile regression (CQR; Romano, Patterson and Candès, 2019).

    Two quantile models give a band ``[q_lo(x), q_hi(x)]``; the score
    ``max(q_lo(x) - y, y - q_hi(x))`` is calibrated so the widened band
    ``[q_lo - q, q_hi + q]`` covers.

    Guarantee
    ---------
    Marginal coverage ``>= 1 - alpha`` under exchangeability, and ``<= 1 - alpha + 1/(n+1)``
    for tie-free scores, whatever the quality of the quantile models (they usually target
    levels ``alpha/2`` and ``1 - alpha/2``; set that in the models themselves, e.g.
    ``GradientBoostingRegressor(loss="quantile", alpha=0.05)``).

    Parameters
    ----------
    lower_estimator, upper_estimator
        Regressors of the lower and upper conditional quantile.
    alpha
        Target miscoverage in (0, 1).
    prefit
        Use both models as already fitted.
    """

    def __init__(
        self,
        lower_estimator: Any,
        upper_estimator: Any,
        *,
        alpha: float = 0.1,
        prefit: bool = False,
    ) -> None:
        self.lower_estimator = lower_estimator
        self.upper_estimator = upper_estimator
        self.alpha = alpha
        self.prefit = prefit

    def fit(self, X: Any, y: Any) -> ConformalizedQuantileRegressor:
        """Fit both quantile models on training data kept apart from calibration."""
        X, y = features_and_targets(X, y)
        self.lower_estimator_ = fit_or_use(self.lower_estimator, False, X, y)
        self.upper_estimator_ = fit_or_use(self.upper_estimator, False, X, y)
        return self

    def _band(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        lo = predict_checked(
            self._fitted("lower_estimator_", self.lower_estimator), X, "lower_estimator"
        )
        hi = predict_checked(
            self._fitted("upper_estimator_", self.upper_estimator), X, "upper_estimator"
        )
        return lo, hi

    def _scores(self, X: Any, y: np.ndarray) -> np.ndarray:
        lo, hi = self._band(X)
        return np.maximum(lo - y, y - hi)

    def conformity_scores(self, X: Any, y: Any) -> np.ndarray:
        """CQR scores ``max(q_lo(x) - y, y - q_hi(x))`` of labelled points."""
        return self._scores(*features_and_targets(X, y))

    def calibrate(self, X: Any, y: Any) -> ConformalizedQuantileRegressor:
        """Compute the conformal quantile of the CQR scores on held-out ``(X, y)``."""
        alpha = check_alpha(self.alpha)
        X, y = features_and_targets(X, y)
        self.quantile_ = conformal_quantile(self._scores(X, y), alpha)
        self.n_calibration_ = int(y.shape[0])
        return self

    def predict_interval(self, X: Any) -> PredictionIntervals:
        """The band widened (or narrowed, if ``quantile_ < 0``) by ``quantile_``."""
        require_fitted(self, "quantile_")
        lo, hi = self._band(as_features(X))
        q = self.quantile_
        return widened(lo, hi, q, q, float(self.alpha), "cqr", "marginal")


class JackknifePlusRegressor:
    """Jackknife+ and CV+ intervals (Barber, Candès, Ramdas and Tibshirani, 2021).

    Uses all data for both fitting and calibration: ``K`` models are fitted, each leaving
    out one fold; point ``i`` gets the out-of-fold residual ``R_i`` and the interval at
    ``x`` is ``[q^-_alpha{mu_{-k(i)}(x) - R_i}, q^+_alpha{mu_{-k(i)}(x) + R_i}]`` with
    ``q^+`` the ``ceil((1 - alpha)(n + 1))``-th smallest and ``q^-`` the
    ``floor(alpha (n + 1))``-th smallest of the ``n`` values.

    Guarantee
    ---------
    For exchangeable data and a model fit symmetric in its training points, jackknife+
    (``cv=None``: leave-one-out) covers with probability at least ``1 - 2 alpha``;
    CV+ with ``K`` folds of size ``m = n / K`` at least
    ``1 - 2 alpha - min(2 (1 - 1/K) / (m + 1), (1 - K/n) / (K + 1))``. In practice
    coverage is usually near ``1 - alpha``; the factor 2 is the worst case.

    Parameters
    ----------
    estimator
        Regressor with ``fit`` and ``predict``.
    alpha
        Target miscoverage in (0, 1).
    cv
        ``None`` for leave-one-out (jackknife+, ``n`` fits), or the number of folds ``K``
        (CV+).
    seed
        Seed for the random assignment of points to folds.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        cv: int | None = 10,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.cv = cv
        self.seed = seed

    def fit(self, X: Any, y: Any) -> JackknifePlusRegressor:
        """Fit the leave-fold-out models and store the out-of-fold residuals."""
        alpha = check_alpha(self.alpha)
        X, y = features_and_targets(X, y)
        n = y.shape[0]
        n_folds = n if self.cv is None else check_positive_int(self.cv, "cv", minimum=2)
        if n_folds > n:
            raise InputError(f"cv={n_folds} folds need at least {n_folds} points, got {n}", "y")
        if math.floor(alpha * (n + 1)) < 1:
            raise InputError(
                f"{n} points are too few for alpha={alpha:g}: jackknife+/CV+ needs "
                f"alpha * (n + 1) >= 1, i.e. at least {math.ceil(1 / alpha) - 1}",
                "y",
            )
        require_method(self.estimator, "fit")
        fold = as_rng(self.seed).permutation(np.arange(n) % n_folds)
        models = []
        oof = np.empty(n)
        X_rows = X if isinstance(X, np.ndarray) else np.asarray(X)
        for k in range(n_folds):
            held = fold == k
            model = fit_or_use(self.estimator, False, X_rows[~held], y[~held])
            oof[held] = predict_checked(model, X_rows[held])
            models.append(model)
        self.estimators_ = models
        self.fold_ = fold
        self.residuals_ = np.abs(y - oof)
        return self

    def predict_interval(self, X: Any) -> PredictionIntervals:
        """Jackknife+/CV+ intervals for the rows of ``X``."""
        require_fitted(self, "residuals_", "fit")
        X = as_features(X)
        alpha = float(self.alpha)
        n = self.residuals_.shape[0]
        # (n_test, K) predictions, then each calibration point's own leave-out model
        fold_pred = np.column_stack([predict_checked(m, X) for m in self.estimators_])
        k_hi = math.ceil((1.0 - alpha) * (n + 1) - 1e-9)
        k_lo = math.floor(alpha * (n + 1) + 1e-9)
        bounds = np.empty((2, fold_pred.shape[0]))
        n_folds = fold_pred.shape[1]
        # fit() checked alpha (n + 1) >= 1, so both ranks lie in 1..n
        if n_folds * (k_lo + n - k_hi + 1) <= _WALK_MAX_RATIO * n:
            # Few folds: merge their sorted residuals from the largest, as far as the ranks.
            order = np.lexsort((-self.residuals_, self.fold_))
            ends = np.cumsum(np.bincount(self.fold_, minlength=n_folds))
            padded = np.insert(self.residuals_[order], ends, -np.inf)
            starts = np.concatenate(([0], ends[:-1])) + np.arange(n_folds)
            _walk_bounds(fold_pred, padded, starts, k_lo, n - k_hi + 1, bounds)
        else:
            # the work is (n_test, n): blocks of rows keep memory near _BLOCK_CELLS floats
            step = max(1, _BLOCK_CELLS // n)
            for start in range(0, fold_pred.shape[0], step):
                mu = fold_pred[start : start + step, self.fold_]
                lo = np.partition(mu - self.residuals_, k_lo - 1, axis=1)
                hi = np.partition(mu + self.residuals_, k_hi - 1, axis=1)
                bounds[:, start : start + step] = lo[:, k_lo - 1], hi[:, k_hi - 1]
        name = "jackknife+" if n_folds == n else "cv+"
        return PredictionIntervals(bounds[0], bounds[1], alpha, name, "marginal >= 1 - 2 alpha")

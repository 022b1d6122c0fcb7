"""Conformal prediction under distribution shift: covariate-shift and label-shift weighting, PAC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from shiftguard._validation import as_rng, check_alpha, check_choice
from shiftguard.conformal._quantile import (
    PrefitMixin,
    as_features,
    as_labels_1d,
    check_weights,
    fit_or_use,
    require_fitted,
    weighted_conformal_quantiles,
)
from shiftguard.conformal._scores import (
    CLASSIFICATION_SCORES,
    PredictionIntervals,
    label_scores,
    label_sets,
    widened,
)
from shiftguard.conformal.classification import (
    label_indices,
    model_classes,
    predict_proba_checked,
)
from shiftguard.conformal.regression import features_and_targets, predict_checked
from shiftguard.errors import InputError
from shiftguard.stats.binomial import clopper_pearson_upper

WeightFunction = Callable[[Any], np.ndarray]


def _resolve_weights(
    weights: Any, weight_function: WeightFunction | None, X: Any, name: str
) -> np.ndarray:
    if weights is None:
        if weight_function is None:
            raise InputError(
                "pass weights, or give the estimator a weight_function (e.g. a fitted "
                "shiftguard.shift.ClassifierDensityRatio)",
                name,
            )
        weights = weight_function(X)
    return check_weights(weights, name, len(X))


class WeightedConformalRegressor(PrefitMixin):
    """Weighted split conformal intervals under covariate shift (Tibshirani et al., 2019).

    The calibration residuals ``|y_i - mu(x_i)|`` are reweighted by the likelihood ratio
    ``w(x) = dP_test/dP_train(x)``; the threshold at a test point is the ``1 - alpha``
    quantile of ``sum_i w(x_i) delta_{R_i} + w(x) delta_{+inf}``, normalised.

    Guarantee
    ---------
    Under covariate shift (``P(y | x)`` unchanged) with weights proportional to the true
    likelihood ratio, marginal coverage on the test distribution is at least
    ``1 - alpha`` (Tibshirani, Barber, Candès and Ramdas, 2019, "Conformal prediction under
    covariate shift"). With estimated weights the coverage gap is bounded by the total
    variation error of the weighted distribution (Lei and Candès, 2021). Where the weights
    leave less than ``1 - alpha`` of mass on finite scores the interval is infinite.

    Parameters
    ----------
    estimator
        Regressor with ``predict`` (and ``fit`` unless ``prefit``).
    alpha
        Target miscoverage in (0, 1).
    weight_function
        Callable ``X -> w(X)``, e.g. a fitted
        :class:`shiftguard.shift.ClassifierDensityRatio` fitted on data apart from the
        calibration set; used when :meth:`calibrate`/:meth:`predict_interval` get no weights.
    prefit
        Use ``estimator`` as already fitted.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        weight_function: WeightFunction | None = None,
        prefit: bool = False,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.weight_function = weight_function
        self.prefit = prefit

    def fit(self, X: Any, y: Any) -> WeightedConformalRegressor:
        """Fit ``estimator`` on training data kept apart from calibration."""
        X, y = features_and_targets(X, y)
        self.estimator_ = fit_or_use(self.estimator, False, X, y)
        return self

    def calibrate(self, X: Any, y: Any, *, weights: Any = None) -> WeightedConformalRegressor:
        """Store calibration residuals and their weights ``w(x_i)``."""
        check_alpha(self.alpha)
        X, y = features_and_targets(X, y)
        model = self._fitted("estimator_", self.estimator)
        self.weights_ = _resolve_weights(weights, self.weight_function, X, "weights")
        self.scores_ = np.abs(y - predict_checked(model, X))
        return self

    def predict_interval(self, X: Any, *, weights: Any = None) -> PredictionIntervals:
        """Intervals ``mu(x) -/+ q(x)`` with the weighted threshold of each test point."""
        require_fitted(self, "scores_")
        X = as_features(X)
        w_test = _resolve_weights(weights, self.weight_function, X, "weights")
        radius = weighted_conformal_quantiles(
            self.scores_, self.weights_, w_test, float(self.alpha)
        )
        mu = predict_checked(self._fitted("estimator_", self.estimator), X)
        return widened(
            mu, mu, radius, radius, float(self.alpha), "weighted-split", "marginal (weighted)"
        )


class _LabelSetMixin(PrefitMixin):
    """Shared calibration steps of the weighted and label-shift set predictors."""

    estimator: Any
    method: str

    def fit(self, X: Any, y: Any) -> Any:
        """Fit ``estimator`` on training data kept apart from calibration."""
        X = as_features(X)
        y = as_labels_1d(y)
        self.estimator_ = fit_or_use(self.estimator, False, X, y)
        return self

    def _proba_and_labels(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = as_features(X)
        y = as_labels_1d(y)
        if len(X) != y.shape[0]:
            raise InputError(f"lengths differ: X={len(X)}, y={y.shape[0]}")
        model = self._fitted("estimator_", self.estimator)
        proba = predict_proba_checked(model, X)
        self.classes_ = model_classes(model, proba.shape[1])
        return proba, label_indices(y, self.classes_)

    def _test_proba(self, X: Any) -> np.ndarray:
        return predict_proba_checked(
            self._fitted("estimator_", self.estimator), as_features(X), self.classes_.shape[0]
        )


class WeightedConformalClassifier(_LabelSetMixin):
    """Weighted split-conformal prediction sets under covariate shift.

    Like :class:`WeightedConformalRegressor`, for classification scores (``lac``, ``aps``,
    ``raps``, ``top_k``; non-randomised).

    Guarantee
    ---------
    Marginal coverage ``>= 1 - alpha`` on the test distribution under covariate shift with
    the true likelihood-ratio weights (Tibshirani et al., 2019); approximate with estimated
    weights.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba``.
    alpha
        Target miscoverage in (0, 1).
    method
        Score, as in :class:`~shiftguard.conformal.SplitConformalClassifier`.
    weight_function
        Callable ``X -> w(X)``; used when no weights are passed.
    prefit
        Use ``estimator`` as already fitted.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        method: str = "lac",
        weight_function: WeightFunction | None = None,
        prefit: bool = False,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.method = method
        self.weight_function = weight_function
        self.prefit = prefit

    def calibrate(self, X: Any, y: Any, *, weights: Any = None) -> WeightedConformalClassifier:
        """Store calibration scores and their weights ``w(x_i)``."""
        check_alpha(self.alpha)
        check_choice(self.method, "method", CLASSIFICATION_SCORES)
        proba, y_idx = self._proba_and_labels(X, y)
        self.weights_ = _resolve_weights(weights, self.weight_function, X, "weights")
        self.scores_ = label_scores(proba, self.method)[np.arange(y_idx.shape[0]), y_idx]
        return self

    def predict_set(self, X: Any, *, weights: Any = None) -> np.ndarray:
        """Boolean ``(n, K)`` prediction sets with each test point's weighted threshold."""
        require_fitted(self, "scores_")
        proba = self._test_proba(X)
        w_test = _resolve_weights(weights, self.weight_function, X, "weights")
        threshold = weighted_conformal_quantiles(
            self.scores_, self.weights_, w_test, float(self.alpha)
        )
        return label_sets(proba, self.method, threshold[:, None])


class LabelShiftConformalClassifier(_LabelSetMixin):
    """Conformal prediction sets reweighted for label shift (Podkopaev and Ramdas, 2021).

    Under label shift the likelihood ratio depends on the label only, ``w(y) = q(y)/p(y)``.
    For candidate label ``k`` the threshold is the weighted conformal quantile with weight
    ``w(y_i)`` on calibration point ``i`` and ``w(k)`` on the test point, so one threshold
    per class serves every test point.

    Guarantee
    ---------
    With the true class weights: marginal coverage ``>= 1 - alpha`` on the target
    distribution, finite-sample (Podkopaev and Ramdas, 2021, "Distribution-free uncertainty
    quantification for classification under label shift", UAI). With weights estimated by
    BBSE (``class_weights=None``) the guarantee is asymptotic: it holds as the estimate
    converges.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba``.
    alpha
        Target miscoverage in (0, 1).
    method
        Score, as in :class:`~shiftguard.conformal.SplitConformalClassifier`.
    class_weights
        Known ``q(k)/p(k)`` per class in ``classes_`` order; if ``None``, :meth:`calibrate`
        estimates them from ``X_target`` by :func:`shiftguard.shift.bbse_weights`.
    prefit
        Use ``estimator`` as already fitted.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        alpha: float = 0.1,
        method: str = "lac",
        class_weights: Any = None,
        prefit: bool = False,
    ) -> None:
        self.estimator = estimator
        self.alpha = alpha
        self.method = method
        self.class_weights = class_weights
        self.prefit = prefit

    def calibrate(self, X: Any, y: Any, *, X_target: Any = None) -> LabelShiftConformalClassifier:
        """Compute one weighted threshold per class; ``X_target`` is needed to estimate weights."""
        alpha = check_alpha(self.alpha)
        check_choice(self.method, "method", CLASSIFICATION_SCORES)
        proba, y_idx = self._proba_and_labels(X, y)
        n_classes = proba.shape[1]
        if self.class_weights is None:
            if X_target is None:
                raise InputError("needed to estimate label-shift weights", "X_target")
            from shiftguard.shift import bbse_weights

            target_proba = self._test_proba(X_target)
            estimate = bbse_weights(
                y_idx, proba.argmax(axis=1), target_proba.argmax(axis=1), n_classes
            )
            self.class_weights_ = estimate.weights
        else:
            self.class_weights_ = check_weights(self.class_weights, "class_weights", n_classes)
        scores = label_scores(proba, self.method)[np.arange(y_idx.shape[0]), y_idx]
        self.threshold_ = weighted_conformal_quantiles(
            scores, self.class_weights_[y_idx], self.class_weights_, alpha
        )
        return self

    def predict_set(self, X: Any) -> np.ndarray:
        """Boolean ``(n, K)`` prediction sets."""
        require_fitted(self, "threshold_")
        return label_sets(self._test_proba(X), self.method, self.threshold_)


class PACLabelShiftClassifier(_LabelSetMixin):
    """PAC prediction sets under label shift (Si, Park, Bastani, Roth and Lee, 2024).

    Sets are ``{k : p_k(x) >= tau}``. The threshold ``tau`` is the largest for which a
    Clopper–Pearson bound on the *target* error is at most ``epsilon``. The target sample
    is simulated by rejection sampling of the labelled source data with acceptance
    ``w(y)/b``; because ``w`` is only known to lie in the intervals from
    :func:`shiftguard.shift.bbse_weights`, errors are accepted at the upper weight and
    correct points at the lower one, which can only raise the bound (worst case over the
    intervals, as in Park, Dobriban, Lee and Bastani, 2022).

    Guarantee
    ---------
    PAC: with probability at least ``1 - delta`` over the labelled source data, the
    unlabelled target data and the rejection-sampling uniforms, the set's miscoverage on
    the target distribution is at most ``epsilon`` — finite-sample, under label shift.
    ``delta`` is split evenly between the weight intervals and the binomial bound.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba``.
    epsilon
        Allowed target miscoverage in (0, 1).
    delta
        Allowed probability that the guarantee fails, in (0, 1).
    prefit
        Use ``estimator`` as already fitted.
    seed
        Seed for the rejection-sampling uniforms.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        epsilon: float = 0.1,
        delta: float = 0.05,
        prefit: bool = False,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.estimator = estimator
        self.epsilon = epsilon
        self.delta = delta
        self.prefit = prefit
        self.seed = seed

    def calibrate(self, X: Any, y: Any, *, X_target: Any) -> PACLabelShiftClassifier:
        """Bound the class weights with ``X_target`` and choose the PAC threshold ``tau_``."""
        from shiftguard.shift import bbse_weights

        epsilon = check_alpha(self.epsilon, "epsilon")
        delta = check_alpha(self.delta, "delta")
        proba, y_idx = self._proba_and_labels(X, y)
        target_proba = self._test_proba(X_target)
        self.weights_ = bbse_weights(
            y_idx,
            proba.argmax(axis=1),
            target_proba.argmax(axis=1),
            proba.shape[1],
            delta=delta / 2,
        )
        w_lo, w_hi = self.weights_.lower, self.weights_.upper
        bound = w_hi.max()
        if not np.isfinite(bound) or bound <= 0:
            raise InputError("label-shift weight bounds are degenerate", "X_target")
        u = as_rng(self.seed).random(y_idx.shape[0])
        true_p = proba[np.arange(y_idx.shape[0]), y_idx]
        order = np.argsort(true_p, kind="stable")
        sorted_p = true_p[order]
        accept_error = (u <= w_hi[y_idx] / bound)[order]
        accept_correct = (u <= w_lo[y_idx] / bound)[order]
        # tau = sorted_p[j] errs on the points before j (p_y < tau) and covers the rest
        errors = np.r_[0, np.cumsum(accept_error)[:-1]]
        correct = np.cumsum(accept_correct[::-1])[::-1]
        upper = clopper_pearson_upper(errors, errors + correct, delta / 2)
        admissible = np.flatnonzero(upper <= epsilon)
        self.tau_ = float(sorted_p[admissible[-1]]) if admissible.size else 0.0
        self.n_accepted_ = int(accept_correct.sum())
        return self

    def predict_set(self, X: Any) -> np.ndarray:
        """Boolean ``(n, K)`` prediction sets ``{k : p_k(x) >= tau_}``."""
        require_fitted(self, "tau_")
        return self._test_proba(X) >= self.tau_

"""Conformal intervals for time series: adaptive conformal inference (ACI) and SPCI."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numba import njit

from shiftguard._result import ResultMixin
from shiftguard._validation import (
    as_float_array,
    check_alpha,
    check_positive_int,
    check_same_length,
)
from shiftguard.conformal._scores import PredictionIntervals
from shiftguard.errors import InputError, ParameterError


@dataclasses.dataclass(frozen=True)
class AdaptiveIntervals(ResultMixin):
    """ACI output: the intervals plus the trajectory of the adapted level.

    Attributes
    ----------
    intervals
        One interval per time step (``lower > upper`` marks an empty set).
    alpha_t
        Working miscoverage level used at each step.
    miss
        1 where ``y_t`` fell outside its interval.
    """

    intervals: PredictionIntervals
    alpha_t: np.ndarray
    miss: np.ndarray


@njit(cache=True)
def _aci_loop(
    scores: np.ndarray, alpha: float, gamma: float, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t_max = scores.shape[0]
    radius = np.empty(t_max)
    alpha_t = np.empty(t_max)
    miss = np.zeros(t_max)
    level = alpha
    for t in range(t_max):
        alpha_t[t] = level
        start = max(0, t - window)
        n = t - start
        k = math.ceil((n + 1) * (1.0 - level) - 1e-9)
        if level >= 1.0:
            r = -np.inf  # empty set: the update needs a certain miss here
        elif level <= 0.0 or k > n:
            r = np.inf
        else:
            past = np.sort(scores[start:t])
            r = past[max(k, 1) - 1]
        radius[t] = r
        if not scores[t] <= r:
            miss[t] = 1.0
        level = level + gamma * (alpha - miss[t])
    return radius, alpha_t, miss


def adaptive_conformal_intervals(
    y_pred: Any,
    y_true: Any,
    *,
    alpha: float = 0.1,
    gamma: float = 0.005,
    window: int | None = None,
) -> AdaptiveIntervals:
    """Adaptive conformal inference (Gibbs and Candès, 2021) on a stream of predictions.

    At step ``t`` the interval is ``y_pred[t] +/- r_t`` with ``r_t`` the conformal
    quantile of the past absolute residuals at working level ``alpha_t``; after seeing
    ``y_true[t]`` the level moves as ``alpha_{t+1} = alpha_t + gamma (alpha - miss_t)``.
    Only past data are used for each interval, so the output equals running the method
    online.

    Guarantee
    ---------
    For *any* sequence, exchangeable or not, the long-run miss rate satisfies
    ``|mean(miss) - alpha| <= (max(alpha, 1 - alpha) + gamma) / (gamma T)``
    (Gibbs and Candès, 2021, "Adaptive conformal inference under distribution shift",
    NeurIPS, Proposition 4.1). This is a time-average statement, not a per-step coverage
    probability.

    Parameters
    ----------
    y_pred, y_true
        Point forecasts and realised values, in time order.
    alpha
        Target long-run miscoverage in (0, 1).
    gamma
        Step size (> 0): larger adapts faster but makes intervals jumpier.
    window
        Use only the last ``window`` residuals (``None``: all past residuals).
    """
    alpha = check_alpha(alpha)
    if not float(gamma) > 0:
        raise ParameterError(f"gamma must be > 0, got {gamma!r}")
    pred = as_float_array(y_pred, "y_pred")
    true = as_float_array(y_true, "y_true")
    check_same_length(y_pred=pred, y_true=true)
    win = pred.shape[0] if window is None else check_positive_int(window, "window")
    radius, alpha_t, miss = _aci_loop(np.abs(true - pred), alpha, float(gamma), win)
    intervals = PredictionIntervals(
        pred - radius, pred + radius, alpha, "aci", "long-run average miscoverage"
    )
    return AdaptiveIntervals(intervals, alpha_t, miss)


class AdaptiveConformalPredictor:
    """Online adaptive conformal inference: one step at a time (Gibbs and Candès, 2021).

    The streaming form of :func:`adaptive_conformal_intervals`, with identical output:
    call :meth:`predict_interval` with the next forecast, then :meth:`update` with the
    forecast and the realised value.

    Guarantee
    ---------
    As for :func:`adaptive_conformal_intervals`: for any sequence the long-run miss rate is
    within ``(max(alpha, 1 - alpha) + gamma) / (gamma T)`` of ``alpha``.

    Parameters
    ----------
    alpha
        Target long-run miscoverage in (0, 1).
    gamma
        Step size (> 0).
    window
        Number of most recent absolute residuals kept.

    Examples
    --------
    >>> aci = AdaptiveConformalPredictor(alpha=0.1, gamma=0.01, window=100)
    >>> for y_pred, y_true in [(0.0, 0.3), (0.1, -0.2), (0.0, 0.5)]:
    ...     lower, upper = aci.predict_interval(y_pred)
    ...     aci = aci.update(y_pred, y_true)
    >>> round(aci.alpha_t_, 3)
    0.103
    """

    def __init__(self, *, alpha: float = 0.1, gamma: float = 0.005, window: int = 1000) -> None:
        self.alpha = check_alpha(alpha)
        if not float(gamma) > 0:
            raise ParameterError(f"gamma must be > 0, got {gamma!r}")
        self.gamma = float(gamma)
        self.window = check_positive_int(window, "window")
        self.alpha_t_ = self.alpha
        self.scores_ = np.empty(0)
        self.n_seen_ = 0

    def _radius(self) -> float:
        n = self.scores_.shape[0]
        k = math.ceil((n + 1) * (1.0 - self.alpha_t_) - 1e-9)
        if self.alpha_t_ >= 1.0:
            return -np.inf
        if self.alpha_t_ <= 0.0 or k > n:
            return np.inf
        return float(np.partition(self.scores_, max(k, 1) - 1)[max(k, 1) - 1])

    def predict_interval(self, y_pred: float) -> tuple[float, float]:
        """Interval for the next value (``lower > upper`` marks an empty set)."""
        radius = self._radius()
        return float(y_pred) - radius, float(y_pred) + radius

    def update(self, y_pred: float, y_true: float) -> AdaptiveConformalPredictor:
        """Record the realised value and adapt the working level."""
        score = abs(float(y_true) - float(y_pred))
        if not math.isfinite(score):
            raise InputError("y_pred and y_true must be finite", "y_true")
        miss = 0.0 if score <= self._radius() else 1.0
        self.alpha_t_ += self.gamma * (self.alpha - miss)
        self.scores_ = np.append(self.scores_, score)[-self.window :]
        self.n_seen_ += 1
        return self


def _lagged(residuals: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(e_{t-w}, ..., e_{t-1})`` for ``t = w..T``; the last row has no target."""
    idx = np.arange(window)[None, :] + np.arange(residuals.shape[0] - window + 1)[:, None]
    return residuals[idx], residuals[window:]


def _forest_quantiles(
    forest: Any, X_train: np.ndarray, y_train: np.ndarray, X_query: np.ndarray, levels: np.ndarray
) -> np.ndarray:
    """Quantile regression forest (Meinshausen, 2006): ``(n_query, n_levels)`` quantiles."""
    leaves_train = forest.apply(X_train)
    leaves_query = forest.apply(X_query)
    n_trees = leaves_train.shape[1]
    weights = np.zeros((X_query.shape[0], X_train.shape[0]))
    for tree in range(n_trees):
        same = leaves_query[:, tree][:, None] == leaves_train[:, tree][None, :]
        weights += same / same.sum(axis=1, keepdims=True)
    order = np.argsort(y_train, kind="stable")
    cumulative = np.cumsum(weights[:, order], axis=1) / n_trees
    # for each level, the first sorted response whose cumulative weight reaches it
    idx = (cumulative[:, :, None] < levels[None, None, :] - 1e-12).sum(axis=1)
    return y_train[order][np.minimum(idx, y_train.shape[0] - 1)]


def spci_intervals(
    y_pred: Any,
    y_true: Any,
    *,
    n_train: int,
    alpha: float = 0.1,
    window: int = 10,
    n_beta: int = 20,
    refit_every: int = 10,
    n_estimators: int = 50,
    min_samples_leaf: int = 50,
    seed: int | None = None,
) -> PredictionIntervals:
    """Sequential predictive conformal inference (SPCI; Xu and Xie, 2023).

    The residuals ``e_t = y_t - y_pred_t`` of any point forecaster are themselves
    forecast: a quantile regression forest regresses ``e_t`` on the previous ``window``
    residuals, and the interval at ``t`` is
    ``[y_pred_t + Q_t(beta), y_pred_t + Q_t(1 - alpha + beta)]`` with ``beta`` in
    ``[0, alpha]`` chosen to minimise width. The forest is refitted on all residuals seen so
    far every ``refit_every`` steps, so each interval uses only the past.

    Guarantee
    ---------
    Asymptotic only: the conditional coverage ``P(y_t in C_t | past)`` tends to
    ``1 - alpha`` when the residual process is stationary and strongly mixing and the
    quantile regression is consistent (Xu and Xie, 2023, "Sequential predictive conformal
    inference for time series", ICML). No finite-sample guarantee; use
    :func:`adaptive_conformal_intervals` for a distribution-free long-run statement.

    Parameters
    ----------
    y_pred, y_true
        Point forecasts and realised values, in time order. The forecasts must not have
        been fitted on the ``y_true`` they are scored against (use out-of-sample or
        leave-one-out predictions for the first ``n_train`` steps).
    n_train
        Number of initial steps used only to learn the residual dynamics; intervals are
        returned for steps ``n_train..T-1``.
    alpha
        Target miscoverage in (0, 1).
    window
        Number of lagged residuals used as features.
    n_beta
        Grid size for the asymmetry ``beta``.
    refit_every
        Steps between refits of the forest.
    n_estimators, min_samples_leaf
        Forest size and leaf size.
    seed
        Seed of the forest.
    """
    from sklearn.ensemble import RandomForestRegressor

    alpha = check_alpha(alpha)
    pred = as_float_array(y_pred, "y_pred")
    true = as_float_array(y_true, "y_true")
    check_same_length(y_pred=pred, y_true=true)
    window = check_positive_int(window, "window")
    n_train = check_positive_int(n_train, "n_train")
    refit_every = check_positive_int(refit_every, "refit_every")
    n_beta = check_positive_int(n_beta, "n_beta", minimum=2)
    if n_train < window + 2 * min_samples_leaf:
        raise InputError(
            f"n_train={n_train} is too short: needs at least window + 2 * min_samples_leaf "
            f"= {window + 2 * min_samples_leaf} steps",
            "n_train",
        )
    if n_train >= pred.shape[0]:
        raise InputError(f"n_train={n_train} leaves no steps to predict", "n_train")
    residuals = true - pred
    features, targets = _lagged(residuals, window)
    betas = np.linspace(0.0, alpha, n_beta)
    levels = np.r_[betas, 1.0 - alpha + betas]
    lower_res = np.empty(pred.shape[0] - n_train)
    upper_res = np.empty_like(lower_res)
    for start in range(n_train, pred.shape[0], refit_every):
        stop = min(start + refit_every, pred.shape[0])
        # feature row for step t is features[t - window]; targets are known up to t - 1
        X_fit, y_fit = features[: start - window], targets[: start - window]
        forest = RandomForestRegressor(
            n_estimators=n_estimators, min_samples_leaf=min_samples_leaf, random_state=seed
        ).fit(X_fit, y_fit)
        q = _forest_quantiles(
            forest, X_fit, y_fit, features[start - window : stop - window], levels
        )
        width = q[:, n_beta:] - q[:, :n_beta]
        best = np.argmin(width, axis=1)
        rows = np.arange(q.shape[0])
        lower_res[start - n_train : stop - n_train] = q[rows, best]
        upper_res[start - n_train : stop - n_train] = q[rows, n_beta + best]
    tail = pred[n_train:]
    return PredictionIntervals(tail + lower_res, tail + upper_res, alpha, "spci", "asymptotic")

"""Conformal regression via regression-as-classification (R2CCP; Guha et al., 2024)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import (
    as_float_array,
    check_alpha,
    check_positive_int,
    check_same_length,
)
from shiftguard.conformal._quantile import (
    as_features,
    conformal_quantile,
    require_fitted,
    require_method,
)
from shiftguard.conformal._scores import PredictionIntervals
from shiftguard.errors import InputError, ParameterError


def ordinal_loss_and_grad(
    theta: np.ndarray, zb: np.ndarray, distance: np.ndarray, tau: float, l2: float
) -> tuple[float, np.ndarray]:
    """Mean R2CCP loss of a linear softmax and its gradient in the flattened weights.

    ``zb`` is the design with a trailing column of ones, ``distance[i, k] = |y_i - c_k|^p``.
    """
    n, k = distance.shape
    weights = theta.reshape(zb.shape[1], k)
    logits = zb @ weights
    logits -= logits.max(axis=1, keepdims=True)
    log_q = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    q = np.exp(log_q)
    per_bin = distance + tau * log_q  # d loss / d q_k, up to the constant tau
    value = float((q * per_bin).sum() / n + l2 * (weights[:-1] ** 2).sum())
    g = per_bin + tau
    d_logits = q * (g - (q * g).sum(axis=1, keepdims=True)) / n
    grad = zb.T @ d_logits
    grad[:-1] += 2 * l2 * weights[:-1]
    return value, grad.ravel()


class OrdinalSoftmaxClassifier:
    """Linear softmax over output bins, trained with the ordinal-aware R2CCP loss.

    For bin probabilities ``q(x)`` and bin centres ``c_k`` the loss of a point is
    ``sum_k q_k(x) |y - c_k|^p - tau * H(q(x))`` (Guha, Natarajan, Mahoney, Ritter and
    Bhatia, 2024, "Conformal prediction via regression-as-classification", ICLR): mass on
    bins far from ``y`` costs more than mass on near ones, which a cross-entropy over bin
    labels ignores, and the entropy bonus keeps the distribution smooth. ``y`` is scaled to
    [0, 1] by the bin range first. Fitted by L-BFGS on standardised features.

    Parameters
    ----------
    p
        Exponent of the distance (> 0).
    tau
        Weight of the entropy bonus (>= 0).
    l2
        Ridge penalty on the weights (>= 0).
    max_iter
        L-BFGS iterations.
    """

    def __init__(
        self, *, p: float = 0.5, tau: float = 0.2, l2: float = 1e-3, max_iter: int = 500
    ) -> None:
        self.p = p
        self.tau = tau
        self.l2 = l2
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, *, centers: Any) -> OrdinalSoftmaxClassifier:
        """Fit on features ``X`` and continuous targets ``y`` for bins centred at ``centers``."""
        from scipy.optimize import minimize

        if not float(self.p) > 0 or float(self.tau) < 0 or float(self.l2) < 0:
            raise ParameterError("need p > 0, tau >= 0 and l2 >= 0")
        x = as_float_array(X, "X", ndim=2, min_size=2)
        y = as_float_array(y, "y")
        check_same_length(X=x, y=y)
        c = as_float_array(centers, "centers", min_size=2)
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        z = (x - self.mean_) / self.scale_
        span = c[-1] - c[0]
        distance = np.abs((y[:, None] - c[None, :]) / span) ** float(self.p)
        n, d = z.shape
        k = c.shape[0]
        zb = np.hstack([z, np.ones((n, 1))])
        tau, l2 = float(self.tau), float(self.l2)
        result = minimize(
            ordinal_loss_and_grad,
            np.zeros((d + 1) * k),
            jac=True,
            method="L-BFGS-B",
            args=(zb, distance, tau, l2),
            options={"maxiter": check_positive_int(self.max_iter, "max_iter")},
        )
        self.coef_ = result.x.reshape(d + 1, k)
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Bin probabilities, ``(n, n_bins)``."""
        require_fitted(self, "coef_", "fit")
        z = (as_float_array(X, "X", ndim=2) - self.mean_) / self.scale_
        logits = z @ self.coef_[:-1] + self.coef_[-1]
        logits -= logits.max(axis=1, keepdims=True)
        q = np.exp(logits)
        return q / q.sum(axis=1, keepdims=True)


class BinnedConformalRegressor:
    """Conformal regression by classifying the binned output (R2CCP).

    The range of the training targets is cut into ``n_bins`` equal bins; a classifier
    gives bin probabilities ``q_k(x)``; the score of ``(x, y)`` is
    ``-q_{bin(y)}(x)`` (``+inf`` when ``y`` is outside the binned range), so the set is
    every bin whose probability clears a calibrated threshold — possibly several
    disjoint intervals for multimodal outputs (Guha et al., 2024, ICLR).

    Guarantee
    ---------
    Marginal: under exchangeability of calibration and test points, the true ``y`` lies
    in a selected bin with probability at least ``1 - alpha`` (split conformal on a
    classification score; points outside the range count as misses in calibration, so
    the guarantee holds for them too). :meth:`predict_interval` returns the hull of the
    selected bins, which covers at least as often.

    Parameters
    ----------
    classifier
        ``None`` for :class:`OrdinalSoftmaxClassifier` trained with the paper's ordinal
        loss; or any scikit-learn classifier, which is fitted on the bin indices (plain
        cross-entropy, no ordinal awareness).
    alpha
        Target miscoverage in (0, 1).
    n_bins
        Number of output bins (>= 2).
    """

    def __init__(self, classifier: Any = None, *, alpha: float = 0.1, n_bins: int = 50) -> None:
        self.classifier = classifier
        self.alpha = alpha
        self.n_bins = n_bins

    def fit(self, X: Any, y: Any) -> BinnedConformalRegressor:
        """Define the bins from ``y`` and fit the bin classifier (data apart from calibration)."""
        n_bins = check_positive_int(self.n_bins, "n_bins", minimum=2)
        X = as_features(X)
        y = as_float_array(y, "y", min_size=2)
        check_same_length(X=X, y=y)
        lo, hi = float(y.min()), float(y.max())
        if hi <= lo:
            raise InputError("is constant; there is nothing to bin", "y")
        self.bin_edges_ = np.linspace(lo, hi, n_bins + 1)
        centers = 0.5 * (self.bin_edges_[:-1] + self.bin_edges_[1:])
        if self.classifier is None:
            self.classifier_ = OrdinalSoftmaxClassifier().fit(X, y, centers=centers)
        else:
            from sklearn.base import clone

            require_method(self.classifier, "predict_proba", "classifier")
            self.classifier_ = clone(self.classifier).fit(X, self._bin_index(y))
        return self

    def _bin_index(self, y: np.ndarray) -> np.ndarray:
        inner = self.bin_edges_[1:-1]
        return np.searchsorted(inner, y, side="right")

    def _bin_proba(self, X: Any) -> np.ndarray:
        require_fitted(self, "classifier_", "fit")
        raw = np.asarray(self.classifier_.predict_proba(X), dtype=np.float64)
        proba = np.zeros((raw.shape[0], self.bin_edges_.shape[0] - 1))
        proba[:, np.asarray(self.classifier_.classes_, dtype=np.intp)] = raw
        return proba

    def calibrate(self, X: Any, y: Any) -> BinnedConformalRegressor:
        """Compute the conformal threshold on held-out ``(X, y)``."""
        self.quantile_ = conformal_quantile(self.conformity_scores(X, y), check_alpha(self.alpha))
        return self

    def conformity_scores(self, X: Any, y: Any) -> np.ndarray:
        """Scores ``-q_{bin(y)}(x)`` of labelled points (``+inf`` outside the binned range)."""
        X = as_features(X)
        y = as_float_array(y, "y")
        check_same_length(X=X, y=y)
        proba = self._bin_proba(X)
        inside = (y >= self.bin_edges_[0]) & (y <= self.bin_edges_[-1])
        scores = np.full(y.shape[0], np.inf)
        rows = np.flatnonzero(inside)
        scores[rows] = -proba[rows, self._bin_index(y[rows])]
        return scores

    def predict_set(self, X: Any) -> np.ndarray:
        """Boolean ``(n, n_bins)``: bin ``k`` (edges ``bin_edges_[k:k+2]``) is in the set."""
        require_fitted(self, "quantile_")
        return -self._bin_proba(as_features(X)) <= self.quantile_

    def predict_interval(self, X: Any) -> PredictionIntervals:
        """Hull of the selected bins (``lower = +inf, upper = -inf`` if none is selected)."""
        chosen = self.predict_set(X)
        any_bin = chosen.any(axis=1)
        first = np.argmax(chosen, axis=1)
        last = chosen.shape[1] - 1 - np.argmax(chosen[:, ::-1], axis=1)
        lower = np.where(any_bin, self.bin_edges_[first], np.inf)
        upper = np.where(any_bin, self.bin_edges_[last + 1], -np.inf)
        return PredictionIntervals(lower, upper, float(self.alpha), "r2ccp", "marginal")

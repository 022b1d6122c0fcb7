"""Continuous target shift in regression: the importance weight ``w(y) = q(y) / p(y)``
from unlabelled target features, by ReTaSA (Kim, Zhang, Zhao and Tian, 2024).

What is implemented
-------------------
Under target shift ``p(x | y)`` is the same in source and target, so the feature density
ratio is the conditional mean of the label weight:
``E_source[w(Y) | X = x] = rho(x) = q(x) / p(x)``, a Fredholm integral equation of the
first kind in ``w`` (ill-posed). ReTaSA solves its Tikhonov-regularised version

    ``w_lambda = argmin_w  E_source[(E_source[w(Y) | X] - rho(X))^2] + lambda E_source[w(Y)^2]``.

The density ratio ``rho`` is never estimated: expanding the square,
``E_source[E[w | X] rho(X)] = E_target[E_source[w(Y) | X]]``. Here ``w`` is a sieve,
``w(y) = phi(y)' beta`` with ``phi`` a constant and Gaussian bumps at quantiles of the
source labels, and ``g(x) = E_source[phi(Y) | X = x]`` is a Nadaraya–Watson regression on
the source rows (leave-one-out at the source rows themselves, Gaussian product kernel on
standardised features, Silverman's bandwidth). The objective becomes the quadratic

    ``beta' (G_s'G_s / n + lambda Phi'Phi / n) beta - 2 beta' G_t'1 / m``

with closed-form minimiser; ``lambda`` is chosen by k-fold cross-validation of the
unregularised objective on held-out rows. Finally negative weights are set to 0 and the
weights are rescaled to have source mean 1. The paper uses kernel estimates of the
conditional densities; the sieve form here is a finite-dimensional version of the same
regularised estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array, as_rng, check_positive_int
from shiftguard.errors import InputError, NotFittedError, ParameterError

_PENALTIES = 10.0 ** np.arange(-4.0, 1.5, 0.5)


def _nadaraya_watson(x_fit: np.ndarray, targets: np.ndarray, x_at: np.ndarray,
                     bandwidth: np.ndarray, leave_one_out: bool) -> np.ndarray:
    z_fit, z_at = x_fit / bandwidth, x_at / bandwidth
    d2 = (np.square(z_at).sum(1)[:, None] + np.square(z_fit).sum(1)[None, :]
          - 2.0 * z_at @ z_fit.T)
    kernel = np.exp(-0.5 * np.maximum(d2, 0.0))
    if leave_one_out:
        np.fill_diagonal(kernel, 0.0)
    total = kernel.sum(1, keepdims=True)
    return (kernel @ targets) / np.where(total > 0, total, 1.0)


class ReTaSAWeights:
    """ReTaSA: label weights ``w(y) = q(y) / p(y)`` for continuous target shift.

    See the module docstring for exactly what is estimated and how.

    Guarantee
    ---------
    Under target shift (``p(x | y)`` unchanged), with the Nadaraya–Watson regression and
    the sieve consistent and ``lambda -> 0`` slowly enough, the estimate converges to the
    true weight function in ``L2(p)`` (Kim et al., 2024, Theorem 1, for the kernel
    version); no finite-sample bound. The regularisation shrinks the weights towards a
    smooth, lower-variance function, so finite-sample estimates are biased towards less
    shift.

    Parameters
    ----------
    n_basis
        Number of Gaussian bumps of the sieve (plus a constant).
    penalties
        Candidate ``lambda``; default ``10^-4 ... 10^1`` in half-decades.
    n_folds
        Cross-validation folds for ``lambda``.
    bandwidth_factor
        Multiplier of Silverman's rule-of-thumb feature bandwidth.
    seed
        Randomness of the folds.

    Attributes
    ----------
    coef_, penalty_, cv_scores_, knots_, width_
        Sieve coefficients (before the final normalisation ``scale_``), chosen penalty,
        cross-validated objective per penalty, bump centres and width.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y_s, y_t = rng.normal(0, 1, 600), rng.normal(0.5, 1, 600)
    >>> x_s = (y_s + rng.normal(0, 0.5, 600))[:, None]
    >>> x_t = (y_t + rng.normal(0, 0.5, 600))[:, None]
    >>> w = ReTaSAWeights().fit(x_s, y_s, x_t).weights(y_s)
    >>> bool(abs(w @ y_s / w.sum() - 0.5) < 0.15)
    True
    """

    def __init__(
        self,
        *,
        n_basis: int = 10,
        penalties: Any = None,
        n_folds: int = 5,
        bandwidth_factor: float = 1.0,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        self.n_basis = n_basis
        self.penalties = penalties
        self.n_folds = n_folds
        self.bandwidth_factor = bandwidth_factor
        self.seed = seed

    def _basis(self, y: np.ndarray) -> np.ndarray:
        bumps = np.exp(-0.5 * np.square((y[:, None] - self.knots_[None, :]) / self.width_))
        return np.column_stack([np.ones(y.shape[0]), bumps])

    def fit(self, X_source: Any, y_source: Any, X_target: Any) -> ReTaSAWeights:
        """Estimate the weight function from labelled source rows and unlabelled target
        features."""
        n_basis = check_positive_int(self.n_basis, "n_basis", minimum=1)
        k = check_positive_int(self.n_folds, "n_folds", minimum=2)
        xs = as_float_array(X_source, "X_source", ndim=2, min_size=2 * k)
        xt = as_float_array(X_target, "X_target", ndim=2, min_size=2 * k)
        ys = as_float_array(y_source, "y_source")
        if ys.shape[0] != xs.shape[0]:
            raise InputError(f"has {ys.shape[0]} labels for {xs.shape[0]} rows", "y_source")
        if xs.shape[1] != xt.shape[1]:
            raise ParameterError(
                f"X_source has {xs.shape[1]} columns but X_target has {xt.shape[1]}")
        if not np.ptp(ys) > 0:
            raise InputError("the source labels are constant: no target shift to estimate",
                             "y_source")
        lambdas = (_PENALTIES if self.penalties is None
                   else as_float_array(self.penalties, "penalties"))
        if (lambdas <= 0).any():
            raise ParameterError(f"penalties must be > 0, got {lambdas.tolist()}")
        mean, scale = xs.mean(0), xs.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        xs, xt = (xs - mean) / scale, (xt - mean) / scale
        n, d = xs.shape
        bandwidth = np.full(d, float(self.bandwidth_factor) * (4.0 / (d + 2) / n) ** (1 / (d + 4)))
        self.knots_ = np.quantile(ys, (np.arange(n_basis) + 0.5) / n_basis)
        self.width_ = float(max(np.ptp(ys) / n_basis, 1e-12))
        phi = self._basis(ys)
        g_s = _nadaraya_watson(xs, phi, xs, bandwidth, leave_one_out=True)
        g_t = _nadaraya_watson(xs, phi, xt, bandwidth, leave_one_out=False)
        rng = as_rng(self.seed)
        fold_s, fold_t = rng.permutation(n) % k, rng.permutation(xt.shape[0]) % k
        scores = np.zeros(lambdas.size)
        for f in range(k):
            train_s, train_t = fold_s != f, fold_t != f
            coefs = _tikhonov(g_s[train_s], phi[train_s], g_t[train_t], lambdas)
            fit_s, fit_t = g_s[~train_s] @ coefs, g_t[~train_t] @ coefs
            scores += np.square(fit_s).mean(0) - 2.0 * fit_t.mean(0)
        self.cv_scores_ = scores / k
        self.penalty_ = float(lambdas[int(np.argmin(self.cv_scores_))])
        self.coef_ = _tikhonov(g_s, phi, g_t, np.array([self.penalty_]))[:, 0]
        raw = np.maximum(phi @ self.coef_, 0.0)
        if not raw.sum() > 0:
            raise InputError("every estimated weight is zero: the target features look "
                             "unlike any source row", "X_target")
        self.scale_ = float(raw.shape[0] / raw.sum())
        return self

    def weights(self, y: Any) -> np.ndarray:
        """Estimated ``q(y) / p(y)`` at the labels ``y`` (non-negative, source mean 1)."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("ReTaSAWeights must be fitted: call fit(X_source, y_source, "
                                 "X_target)")
        values = as_float_array(y, "y")
        return self.scale_ * np.maximum(self._basis(values) @ self.coef_, 0.0)

    __call__ = weights


def _tikhonov(g_s: np.ndarray, phi: np.ndarray, g_t: np.ndarray,
              lambdas: np.ndarray) -> np.ndarray:
    """``(G_s'G_s/n + lambda Phi'Phi/n)^{-1} G_t'1/m`` for every ``lambda`` (columns)."""
    n = g_s.shape[0]
    gram, penalty = g_s.T @ g_s / n, phi.T @ phi / n
    rhs = g_t.mean(0)
    systems = gram[None] + lambdas[:, None, None] * penalty[None]
    return np.linalg.solve(systems, np.broadcast_to(rhs, (lambdas.size, rhs.size))[..., None]
                           )[..., 0].T

"""Gaussian-kernel density ratios: KLIEP and uLSIF.

Both estimators follow the API of :mod:`shiftguard.shift.density_ratio`
(``fit(X_source, X_target)``, ``weights(X)``, ``diagnostics_``). They standardise the
features with the pooled mean and standard deviation, place their kernels on a random
subset of target rows and choose the bandwidth (and uLSIF its ridge penalty) by k-fold
cross-validation of their own objective.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.shift.density_ratio import (
    _check_columns,
    _check_pair,
    _sq_distances,
    weight_diagnostics,
)

_BANDWIDTH_FACTORS = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
_ULSIF_PENALTIES = 10.0 ** np.arange(-3.0, 1.5, 0.5)


def _standardiser(xs: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pooled = np.vstack([xs, xt])
    scale = pooled.std(axis=0)
    return pooled.mean(axis=0), np.where(scale > 0, scale, 1.0)


def _bandwidth_grid(bandwidths: Any, xs: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """User bandwidths, or the median source-to-centre distance times 1/4 ... 4."""
    if bandwidths is not None:
        grid = as_float_array(bandwidths, "bandwidths")
        if (grid <= 0).any():
            raise ParameterError(f"bandwidths must be > 0, got {grid.tolist()}")
        return grid
    median = float(np.sqrt(np.median(_sq_distances(xs[:500], centers))))
    return _BANDWIDTH_FACTORS * (median if median > 0 else 1.0)


def _folds(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n) % k


class _KernelRatio:
    """Shared state of the Gaussian-kernel estimators: scaling, centres, clipping."""

    def __init__(
        self,
        *,
        n_centers: int = 100,
        bandwidths: Any = None,
        n_folds: int = 5,
        clip: float | None = None,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        self.n_centers = n_centers
        self.bandwidths = bandwidths
        self.n_folds = n_folds
        self.clip = clip
        self.seed = seed

    def _prepare(
        self, X_source: Any, X_target: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
        n_centers = check_positive_int(self.n_centers, "n_centers")
        k = check_positive_int(self.n_folds, "n_folds", minimum=2)
        if self.clip is not None:
            check_positive_number(self.clip, "clip")
        xs, xt = _check_pair(X_source, X_target)
        if xt.shape[0] < k or xs.shape[0] < k:
            raise InputError(f"needs at least n_folds={k} rows in each sample for the "
                             "cross-validation", "X_target")
        rng = as_rng(self.seed)
        self.mean_, self.scale_ = _standardiser(xs, xt)
        xs, xt = (xs - self.mean_) / self.scale_, (xt - self.mean_) / self.scale_
        self.centers_ = xt[rng.choice(xt.shape[0], min(n_centers, xt.shape[0]), replace=False)]
        self.n_features_in_ = xs.shape[1]
        return xs, xt, _bandwidth_grid(self.bandwidths, xs, self.centers_), rng

    def _design(self, x: np.ndarray, bandwidth: float) -> np.ndarray:
        return np.exp(-_sq_distances(x, self.centers_) / (2.0 * bandwidth**2))

    def _ratio(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(self._design(x, self.bandwidth_) @ self.alpha_ + self.intercept_, 0.0)

    def _finish(self, xs: np.ndarray) -> None:
        raw = self._ratio(xs)
        self.diagnostics_ = weight_diagnostics(self._clip(raw), raw)

    def _clip(self, raw: np.ndarray) -> np.ndarray:
        return raw if self.clip is None else np.minimum(raw, self.clip)

    def weights(self, X: Any) -> np.ndarray:
        """Estimated density ratio (clipped above at ``clip``) at each row of ``X``."""
        x = (_check_columns(self, X) - self.mean_) / self.scale_
        return self._clip(self._ratio(x))

    __call__ = weights


def _kliep_alpha(a_target: np.ndarray, b_source: np.ndarray, max_iter: int,
                 tol: float) -> np.ndarray:
    """Maximise ``mean log(A alpha)`` subject to ``b'alpha = 1``, ``alpha >= 0``.

    The constrained maximiser is the minimiser of ``-mean log(A alpha) + b'alpha`` over
    ``alpha >= 0`` (at the optimum the derivative along ``alpha -> t alpha`` gives
    ``b'alpha = 1``), a smooth convex problem with box constraints solved by L-BFGS-B.
    """
    from scipy.optimize import minimize

    m = a_target.shape[0]

    def objective(alpha: np.ndarray) -> tuple[float, np.ndarray]:
        mix = np.maximum(a_target @ alpha, 1e-300)
        return float(-np.log(mix).sum() / m + b_source @ alpha), b_source - a_target.T @ (
            1.0 / mix
        ) / m

    start = np.full(b_source.shape[0], 1.0 / b_source.sum())
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      bounds=[(0.0, None)] * start.shape[0],
                      options={"maxiter": max_iter, "ftol": tol})
    return result.x / (b_source @ result.x)


class KLIEPDensityRatio(_KernelRatio):
    """KLIEP: the density ratio that makes the reweighted source closest to the target in
    Kullback–Leibler divergence.

    Model ``w(x) = sum_l alpha_l exp(-|x - c_l|^2 / (2 sigma^2))`` with centres ``c_l`` on
    target rows; ``alpha >= 0`` maximises the target mean of ``log w`` subject to the
    source mean of ``w`` being 1 (Sugiyama, Nakajima, Kashima, von Bünau and Kawanabe,
    2008), a convex problem solved by L-BFGS-B (see ``_kliep_alpha``). ``sigma`` is
    chosen by ``n_folds``-fold cross-validation of the held-out target mean of ``log w``.

    Guarantee
    ---------
    Consistent for the true ratio when it lies in the closure of the kernel model
    (Sugiyama et al., 2008, convergence rate in their Theorem 1); no finite-sample bound.

    Parameters
    ----------
    n_centers
        Number of kernel centres (random target rows).
    bandwidths
        Candidate ``sigma`` in standardised units; default the median source-to-centre
        distance times 1/4, 1/2, 1, 2, 4.
    n_folds
        Cross-validation folds.
    clip
        Largest allowed weight, or ``None``.
    max_iter, tol
        L-BFGS-B iterations and relative tolerance on the objective.
    seed
        Randomness of the centres and folds.

    Attributes
    ----------
    bandwidth_, alpha_, centers_, diagnostics_, cv_scores_
        Chosen bandwidth, kernel coefficients, centres (standardised), source-row
        :class:`WeightDiagnostics` and the cross-validated score of each bandwidth.
    """

    def __init__(
        self,
        *,
        n_centers: int = 100,
        bandwidths: Any = None,
        n_folds: int = 5,
        clip: float | None = None,
        max_iter: int = 1000,
        tol: float = 1e-9,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        super().__init__(n_centers=n_centers, bandwidths=bandwidths, n_folds=n_folds,
                         clip=clip, seed=seed)
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X_source: Any, X_target: Any) -> KLIEPDensityRatio:
        """Choose the bandwidth by cross-validation and fit the kernel coefficients."""
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = check_positive_number(self.tol, "tol")
        xs, xt, grid, rng = self._prepare(X_source, X_target)
        folds = _folds(xt.shape[0], self.n_folds, rng)
        scores = np.empty(grid.size)
        for g, sigma in enumerate(grid):
            b = self._design(xs, sigma).mean(axis=0)
            a = self._design(xt, sigma)
            fold_scores = []
            for f in range(self.n_folds):
                held = folds == f
                alpha = _kliep_alpha(a[~held], b, max_iter, tol)
                fold_scores.append(np.log(np.maximum(a[held] @ alpha, 1e-300)).mean())
            scores[g] = np.mean(fold_scores)
        self.cv_scores_ = scores
        self.bandwidth_ = float(grid[int(np.argmax(scores))])
        self.alpha_ = _kliep_alpha(self._design(xt, self.bandwidth_),
                                   self._design(xs, self.bandwidth_).mean(axis=0), max_iter, tol)
        self.intercept_ = 0.0
        self._finish(xs)
        return self


class ULSIFDensityRatio(_KernelRatio):
    """uLSIF: least-squares fit of the density ratio, in closed form.

    Model ``w(x) = beta_0 + sum_l alpha_l K(x, c_l)`` (Gaussian kernel, centres on target
    rows); ``(beta_0, alpha)`` minimise
    ``1/2 E_source[w^2] - E_target[w] + lambda/2 |alpha|^2``, a ridge problem solved in
    closed form (Kanamori, Hido and Sugiyama, 2009). Unlike the original, the model has a
    constant term that is not penalised, so that the penalty shrinks the ratio towards 1
    (no shift) rather than towards 0, which biased weighted means downwards in our
    simulations; negative fitted ratios are set to 0. ``sigma`` and ``lambda`` are chosen
    jointly by ``n_folds``-fold cross-validation of the same squared-loss objective on
    held-out rows.

    Guarantee
    ---------
    Consistent for the ratio in the kernel model with the convergence rate of Kanamori et
    al. (2009, Theorem 1); no finite-sample bound.

    Parameters
    ----------
    n_centers, bandwidths, n_folds, clip, seed
        As for :class:`KLIEPDensityRatio`.
    penalties
        Candidate ``lambda``; default ``10^-3 ... 10^1`` in half-decades.

    Attributes
    ----------
    bandwidth_, penalty_, alpha_, intercept_, centers_, diagnostics_, cv_scores_
        Chosen ``sigma`` and ``lambda``, coefficients, constant term, centres, source-row
        diagnostics and the cross-validated score (bandwidth x penalty; lower is better).
    """

    def __init__(
        self,
        *,
        n_centers: int = 100,
        bandwidths: Any = None,
        penalties: Any = None,
        n_folds: int = 5,
        clip: float | None = None,
        seed: int | np.random.Generator | None = 0,
    ) -> None:
        super().__init__(n_centers=n_centers, bandwidths=bandwidths, n_folds=n_folds,
                         clip=clip, seed=seed)
        self.penalties = penalties

    def fit(self, X_source: Any, X_target: Any) -> ULSIFDensityRatio:
        """Choose bandwidth and penalty by cross-validation, then solve in closed form."""
        xs, xt, grid, rng = self._prepare(X_source, X_target)
        lambdas = (_ULSIF_PENALTIES if self.penalties is None
                   else as_float_array(self.penalties, "penalties"))
        if (lambdas <= 0).any():
            raise ParameterError(f"penalties must be > 0, got {lambdas.tolist()}")
        fold_s = _folds(xs.shape[0], self.n_folds, rng)
        fold_t = _folds(xt.shape[0], self.n_folds, rng)
        scores = np.zeros((grid.size, lambdas.size))
        for g, sigma in enumerate(grid):
            ks, kt = self._augmented(xs, sigma), self._augmented(xt, sigma)
            for f in range(self.n_folds):
                train_s, train_t = ks[fold_s != f], kt[fold_t != f]
                coefs = _ulsif_coefficients(train_s.T @ train_s / train_s.shape[0],
                                            train_t.mean(axis=0), lambdas)
                ws = np.maximum(ks[fold_s == f] @ coefs, 0.0)
                wt = np.maximum(kt[fold_t == f] @ coefs, 0.0)
                scores[g] += 0.5 * np.square(ws).mean(axis=0) - wt.mean(axis=0)
        self.cv_scores_ = scores / self.n_folds
        g, j = np.unravel_index(int(np.argmin(self.cv_scores_)), scores.shape)
        self.bandwidth_, self.penalty_ = float(grid[g]), float(lambdas[j])
        ks, kt = self._augmented(xs, self.bandwidth_), self._augmented(xt, self.bandwidth_)
        coef = _ulsif_coefficients(ks.T @ ks / ks.shape[0], kt.mean(axis=0),
                                   np.array([self.penalty_]))[:, 0]
        self.intercept_, self.alpha_ = float(coef[0]), coef[1:]
        self._finish(xs)
        return self

    def _augmented(self, x: np.ndarray, bandwidth: float) -> np.ndarray:
        design = self._design(x, bandwidth)
        return np.column_stack([np.ones(design.shape[0]), design])


def _ulsif_coefficients(h_matrix: np.ndarray, h_vector: np.ndarray,
                        lambdas: np.ndarray) -> np.ndarray:
    """``(H + lambda P)^{-1} h`` for every ``lambda`` (``P`` = identity except no penalty on
    the constant term): one column per penalty."""
    penalty = np.eye(h_matrix.shape[0])
    penalty[0, 0] = 0.0
    systems = h_matrix[None] + lambdas[:, None, None] * penalty[None]
    return np.linalg.solve(systems, np.broadcast_to(h_vector, (lambdas.size, h_vector.size))
                           [..., None])[..., 0].T

"""Shared M-estimation pieces: Wald intervals, closed-form least squares, a weighted logistic
solver and sandwich covariances.

Everything here is plain vectorised NumPy (no scipy, no numba) so that importing
:mod:`shiftguard.inference` and making a first call stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from statistics import NormalDist
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import check_alpha, check_choice
from shiftguard.errors import InputError

ALTERNATIVES = ("two-sided", "greater", "less")
# Largest change of any linear predictor for which a full logistic Newton step is
# accepted without checking the loss (see logistic_solve).
_SAFE_ETA_CHANGE = 0.5
# Up to this many columns a weighted Gram matrix is formed from precomputed products of
# column pairs (one matrix-vector product, about 3x faster than the d-by-N-by-d product
# at 5 columns); beyond it the pair products cost too much memory for too little gain.
_PAIR_PRODUCTS_MAX_COLUMNS = 10


@dataclasses.dataclass(frozen=True)
class InferenceResult(ResultMixin):
    """A point estimate with its standard error and confidence interval.

    Attributes
    ----------
    method
        Name of the procedure, e.g. ``"ppi++_ols"`` or ``"dsl_logistic"``.
    estimate
        The point estimate: a float for a scalar estimand, an array for coefficients.
    stderr
        Estimated standard error(s); ``None`` where the interval is not of Wald type.
    ci_low, ci_high
        Confidence bounds (``-inf``/``inf`` on the open side of a one-sided interval).
    alpha
        Error level: the interval targets coverage ``1 - alpha``.
    names
        Names of the coefficients when the estimand is a vector, else ``None``.
    lam
        Power-tuning weight on the predictions (PPI: 1, PPI++: tuned, classical: 0);
        ``None`` where it does not apply.
    n_labeled, n_unlabeled
        Rows with and without a gold-standard label.
    """

    method: str
    estimate: float | np.ndarray
    stderr: float | np.ndarray | None
    ci_low: float | np.ndarray
    ci_high: float | np.ndarray
    alpha: float
    names: tuple[str, ...] | None = None
    lam: float | None = None
    n_labeled: int | None = None
    n_unlabeled: int | None = None


def z_quantile(alpha: float, alternative: str) -> float:
    """Standard normal quantile for a ``1 - alpha`` interval with the given ``alternative``."""
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    return NormalDist().inv_cdf(1.0 - tail)


def wald_interval(
    estimate: np.ndarray | float,
    stderr: np.ndarray | float,
    alpha: float,
    alternative: str = "two-sided",
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Normal-approximation interval ``estimate -/+ z * stderr``.

    ``alternative="greater"`` gives a lower bound ``(lo, inf)`` (for testing that the
    parameter is greater than a value), ``"less"`` an upper bound ``(-inf, hi)``, as in
    :mod:`scipy.stats`.
    """
    alpha = check_alpha(alpha)
    check_choice(alternative, "alternative", ALTERNATIVES)
    z = z_quantile(alpha, alternative)
    est = np.asarray(estimate, dtype=np.float64)
    half = z * np.asarray(stderr, dtype=np.float64)
    lo = est - half if alternative != "less" else np.full_like(est, -np.inf)
    hi = est + half if alternative != "greater" else np.full_like(est, np.inf)
    if est.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def solve_symmetric(matrix: np.ndarray, rhs: np.ndarray, what: str) -> np.ndarray:
    """Solve ``matrix @ x = rhs``, raising :class:`InputError` naming ``what`` if singular."""
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        raise InputError(
            "the design is singular (collinear or constant columns); drop redundant columns",
            what,
        ) from None


def invert_symmetric(matrix: np.ndarray, what: str) -> np.ndarray:
    """Inverse of a (Hessian-like) matrix, with a typed error if it is singular."""
    return solve_symmetric(matrix, np.eye(matrix.shape[0]), what)


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ordinary least-squares coefficients of ``y`` on the columns of ``X`` (no intercept added).

    ``y`` may be 2-D (several responses fitted at once).
    """
    return solve_symmetric(X.T @ X, X.T @ y, "X")


def expit(t: np.ndarray) -> np.ndarray:
    """Logistic function, computed without overflow for large ``|t|``."""
    decay = np.exp(-np.abs(t))
    inv = 1.0 / (1.0 + decay)
    return np.where(t >= 0.0, inv, decay * inv)


@functools.cache
def _pair_layout(d: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Upper-triangle index pairs of a d-by-d matrix and, for every entry, its pair's row."""
    upper = np.triu_indices(d)
    position = np.empty((d, d), dtype=np.intp)
    position[upper] = np.arange(len(upper[0]))
    position.T[upper] = position[upper]
    return upper, position


def pair_products(design_t: np.ndarray) -> np.ndarray | None:
    """Products ``x_j * x_k`` (``j <= k``) of the rows of ``design_t``, one row per pair, so
    that :func:`weighted_gram` is a single matrix-vector product; ``None`` when there are
    too many columns for this to pay."""
    d = design_t.shape[0]
    if d > _PAIR_PRODUCTS_MAX_COLUMNS:
        return None
    (rows, cols), _ = _pair_layout(d)
    pairs = np.empty((len(rows), design_t.shape[1]))
    for slot, (j, k) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        np.multiply(design_t[j], design_t[k], out=pairs[slot])
    return pairs


def weighted_gram(
    design_t: np.ndarray, pairs: np.ndarray | None, weights: np.ndarray
) -> np.ndarray:
    """``X.T @ diag(weights) @ X`` for ``design_t = X.T``, from :func:`pair_products` if given."""
    if pairs is None:
        return (design_t * weights) @ design_t.T
    return (pairs @ weights)[_pair_layout(design_t.shape[0])[1]]


def logistic_solve(
    design_t: np.ndarray,
    weights: np.ndarray,
    linear: np.ndarray,
    *,
    start: np.ndarray | None = None,
    pairs: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> np.ndarray:
    """Minimise ``sum_i weights_i * log(1 + exp(x_i b)) - linear @ b`` by damped Newton steps.

    ``design_t`` is the design matrix *transposed*, ``(d, n)`` and C-contiguous (each
    covariate's values contiguous): the row-weighted products below are then several
    times faster than on the ``(n, d)`` layout.

    This one convex problem covers every logistic M-estimator here: ordinary logistic
    regression (``weights = 1``, ``linear = X.T @ y``), the rectified PPI loss and the
    DSL moment with pseudo-outcomes outside ``[0, 1]``. ``weights`` must be non-negative.
    The stationarity condition is ``X.T @ (weights * expit(X b)) = linear``. Iteration
    stops once a Newton step is below ``tol`` (relative) and takes that step: by
    quadratic convergence the remaining error is of order ``tol**2``. ``pairs`` are the
    :func:`pair_products` of ``design_t`` when the caller reuses them across solves.
    """
    beta = np.zeros(design_t.shape[0]) if start is None else np.array(start, dtype=np.float64)
    eta = beta @ design_t
    decay = np.exp(-np.abs(eta))
    if pairs is None:
        pairs = pair_products(design_t)
    current: float | None = None
    for _ in range(max_iter):
        inv = 1.0 / (1.0 + decay)
        # The smaller of p and 1 - p is decay / (1 + decay), whatever the sign of eta.
        smaller = decay * inv
        p = np.where(eta >= 0.0, inv, smaller)
        grad = design_t @ (weights * p) - linear
        # p (1 - p) = decay / (1 + decay)^2.
        hess = weighted_gram(design_t, pairs, weights * smaller * inv)
        step = solve_symmetric(hess, grad, "X")
        if float(np.abs(step).max()) <= tol * (1.0 + float(np.abs(beta).max())):
            return beta - step
        eta_change = step @ design_t
        if float(np.abs(eta_change).max()) <= _SAFE_ETA_CHANGE:
            # The log of the logistic curvature p(1 - p) has slope in (-1, 1), so along a
            # step moving every linear predictor by at most 1/2 the curvature stays within
            # a factor e^(1/2) < 2 of the current one and the full Newton step decreases
            # the loss: no loss evaluation (a pass of log1p over the rows) is needed.
            beta = beta - step
            eta = eta - eta_change
            decay = np.exp(-np.abs(eta))
            current = None
            continue
        # Far from the optimum, step halving keeps the iteration monotone.
        if current is None:
            current = _softplus_loss(eta, decay, weights, linear, beta)
        size = 1.0
        while True:
            candidate = beta - size * step
            cand_eta = eta - size * eta_change
            cand_decay = np.exp(-np.abs(cand_eta))
            cand_loss = _softplus_loss(cand_eta, cand_decay, weights, linear, candidate)
            if cand_loss <= current + 1e-12 * abs(current) or size < 1e-8:
                break
            size *= 0.5
        beta, eta, decay, current = candidate, cand_eta, cand_decay, cand_loss
    raise InputError(
        f"logistic fit did not converge in {max_iter} Newton steps; the classes may be "
        "perfectly separated by the covariates",
        "X",
    )


def _softplus_loss(
    eta: np.ndarray, decay: np.ndarray, weights: np.ndarray, linear: np.ndarray, beta: np.ndarray
) -> float:
    """``weights @ log(1 + exp(eta)) - linear @ beta`` given ``decay = exp(-|eta|)``."""
    return float(weights @ (np.maximum(eta, 0.0) + np.log1p(decay)) - linear @ beta)


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the enclosed NumPy code with one BLAS thread.

    The iterative solvers multiply a tall N-by-d matrix (small d) by vectors many times
    in a row: such products gain nothing from threads, and on a shared machine every
    call pays for waking the BLAS workers (measured: 40-80 ms instead of 6-9 ms for a
    PPI++ logistic interval on 10,500 rows with the other core busy). threadpoolctl
    ships with scikit-learn and is imported only on this path.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def sandwich_covariance(inv_hessian: np.ndarray, meat: np.ndarray, n: int) -> np.ndarray:
    """``H^-1 M H^-1 / n``: the M-estimator covariance from the mean Hessian and mean meat."""
    return inv_hessian @ meat @ inv_hessian.T / n

"""Shared M-estimation pieces: Wald and Student-t intervals, closed-form least squares, a
weighted logistic solver and sandwich covariances.

Everything here is plain vectorised NumPy (no scipy, no numba) so that importing
:mod:`shiftguard.inference` and making a first call stays cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from statistics import NormalDist

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import check_alpha, check_choice
from shiftguard.errors import InputError, ParameterError

ALTERNATIVES = ("two-sided", "greater", "less")
# Largest change of any linear predictor for which a full logistic Newton step is
# accepted without checking the loss (see logistic_solve).
_SAFE_ETA_CHANGE = 1.5
# Up to this many columns DesignProducts stores the products of column pairs, so that a
# weighted Gram matrix is one matrix-vector product (about 3x faster than the
# d-by-N-by-d product at 5 columns); beyond it they cost too much memory for too little.
_PAIR_PRODUCTS_MAX_COLUMNS = 10
# ... and while the products take at most this many values (128 MiB): beyond that the
# memory, not the time, is what a user notices.
_PAIR_PRODUCTS_MAX_VALUES = 1 << 24


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
    df
        Degrees of freedom of the Student-t quantile the interval uses (one per
        coefficient); ``None`` where the interval uses the normal quantile.
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
    df: float | np.ndarray | None = None


def z_quantile(alpha: float, alternative: str) -> float:
    """Standard normal quantile for a ``1 - alpha`` interval with the given ``alternative``."""
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    return NormalDist().inv_cdf(1.0 - tail)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function ``I_x(a, b)``
    (modified Lentz; Press et al., *Numerical Recipes*, 3rd ed., section 6.4). It
    converges fast for ``x < (a + 1) / (a + b + 2)``."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return fraction


def _t_upper_tail(t: float, df: float, log_norm: float) -> float:
    """``P(T > t)`` for ``t >= 0``: ``I_x(df/2, 1/2) / 2`` with ``x = df / (df + t^2)``.
    ``log_norm`` is the log of the density's normalising constant,
    ``-log(Beta(df/2, 1/2) sqrt(df))``."""
    x = df / (df + t * t)
    a = 0.5 * df
    # log of x^a (1 - x)^(1/2) / Beta(a, 1/2).
    log_front = a * math.log(x) + 0.5 * math.log1p(-x) + log_norm + 0.5 * math.log(df)
    if x < (a + 1.0) / (a + 2.5):
        return 0.5 * math.exp(log_front) * _beta_continued_fraction(a, 0.5, x) / a
    return 0.5 - math.exp(log_front) * _beta_continued_fraction(0.5, a, 1.0 - x)


def _t_upper_quantile(tail: float, df: float) -> float:
    """The ``t`` with ``P(T > t) = tail`` for Student's t with ``df`` degrees of freedom.

    The Cornish-Fisher expansion in ``1 / df`` (Abramowitz & Stegun 26.7.5) where its
    last term is negligible (large ``df``: no iteration); otherwise it starts Newton
    steps on ``log P(T > t)`` against ``log t`` (near-linear even in the Cauchy-like
    tails of small ``df``) with the exact tail from the incomplete beta function. Equal
    to scipy's ``t.isf`` to 1e-9 in the tests; no scipy, so that this module stays cheap
    to import.
    """
    z = NormalDist().inv_cdf(1.0 - tail)
    z2 = z * z
    last = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / (92160.0 * df**4)
    t = z * (
        1.0
        + (z2 + 1.0) / (4.0 * df)
        + ((5.0 * z2 + 16.0) * z2 + 3.0) / (96.0 * df**2)
        + (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / (384.0 * df**3)
        + last
    )
    # The series is asymptotic in 1 / df: once its last term is below 1e-9, what it leaves
    # out is below 1e-11 (checked against scipy over df from 0.5 to 1e9).
    if abs(last) < 1e-9:
        return t
    log_norm = math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
    log_t, log_tail = math.log(max(t, z)), math.log(tail)
    for _ in range(100):
        t = math.exp(log_t)
        upper = _t_upper_tail(t, df, log_norm)
        density = math.exp(log_norm - 0.5 * (df + 1.0) * math.log1p(t * t / df))
        step = (math.log(upper) - log_tail) * upper / (t * density)
        log_t += step
        # Newton converges quadratically: after a step of 1e-7 the error is about 1e-14.
        if abs(step) < 1e-7:
            break
    return math.exp(log_t)


def t_quantile(alpha: float, alternative: str, df: float) -> float:
    """Student-t quantile with ``df`` degrees of freedom for a ``1 - alpha`` interval with
    the given ``alternative``; the normal quantile for ``df = inf``."""
    if math.isinf(df):
        return z_quantile(alpha, alternative)
    if not df > 0.0:
        raise ParameterError(f"degrees of freedom must be positive, got {df!r}")
    tail = alpha / 2.0 if alternative == "two-sided" else alpha
    # A one-sided alpha of 0.5 or more asks for the median or a lower quantile: symmetry.
    if tail == 0.5:
        return 0.0
    return _t_upper_quantile(tail, df) if tail < 0.5 else -_t_upper_quantile(1.0 - tail, df)


def wald_interval(
    estimate: np.ndarray | float,
    stderr: np.ndarray | float,
    alpha: float,
    alternative: str = "two-sided",
    df: np.ndarray | float | None = None,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Interval ``estimate -/+ q * stderr``: ``q`` the normal quantile, or with ``df`` the
    Student-t quantile with ``df`` degrees of freedom (one value, or one per coordinate).

    ``alternative="greater"`` gives a lower bound ``(lo, inf)`` (for testing that the
    parameter is greater than a value), ``"less"`` an upper bound ``(-inf, hi)``, as in
    :mod:`scipy.stats`.
    """
    alpha = check_alpha(alpha)
    check_choice(alternative, "alternative", ALTERNATIVES)
    est = np.asarray(estimate, dtype=np.float64)
    if df is None:
        quantile: np.ndarray | float = z_quantile(alpha, alternative)
    else:
        # Python floats: the scalar loops in the t quantile run several times faster on
        # them than on NumPy scalars.
        dfs = np.broadcast_to(np.asarray(df, dtype=np.float64), est.shape).ravel().tolist()
        quantile = np.array([t_quantile(alpha, alternative, v) for v in dfs]).reshape(est.shape)
    half = quantile * np.asarray(stderr, dtype=np.float64)
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
def _product_layout(
    d: int, ones: tuple[int, ...]
) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """The column pairs ``(j, k)``, ``j <= k``, whose products need rows of their own, and
    for every entry of a d-by-d Gram matrix its row in :attr:`DesignProducts.rows`.

    Rows ``0..d-1`` are the columns; the product of a column with a column of ones (in
    ``ones``) is that column.
    """
    stored: list[tuple[int, int]] = []
    index = np.empty((d, d), dtype=np.intp)
    for j in range(d):
        for k in range(j, d):
            if j in ones:
                row = k
            elif k in ones:
                row = j
            else:
                row = d + len(stored)
                stored.append((j, k))
            index[j, k] = index[k, j] = row
    return tuple(stored), index


@dataclasses.dataclass(frozen=True)
class DesignProducts:
    """A design matrix ``X`` transposed, followed by the products of pairs of its columns.

    ``rows[:d]`` is ``X.T``, each covariate's values contiguous: the row-weighted products
    below are several times faster than on the ``(n, d)`` layout. The other rows are the
    products ``x_j * x_k`` (``j <= k``) that are not columns already (a product with a
    column of ones, an intercept, is the other column). One product ``w @ rows.T`` then
    gives both ``X.T @ w`` and ``X.T @ diag(w) @ X`` in one pass over the data. With more
    than ``_PAIR_PRODUCTS_MAX_COLUMNS`` columns there are no product rows and
    ``gram_index`` is ``None``. ``column_max`` bounds ``|x_ij|`` for every column ``j``.
    """

    rows: np.ndarray
    d: int
    gram_index: np.ndarray | None
    column_max: tuple[float, ...]

    @property
    def design_t(self) -> np.ndarray:
        return self.rows[: self.d]

    @property
    def n(self) -> int:
        return self.rows.shape[1]

    def eta_bound(self, beta: np.ndarray) -> float:
        """A bound on every ``|x_i @ beta|``: ``sum_j |beta_j| max_i |x_ij|``."""
        return sum(map(operator.mul, map(abs, beta.tolist()), self.column_max))

    def columns(self, selection: slice) -> DesignProducts:
        """The same for a slice of the observations (views; ``column_max`` stays a bound)."""
        return DesignProducts(self.rows[:, selection], self.d, self.gram_index, self.column_max)

    def sums_and_grams(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``X.T @ w`` and ``X.T @ diag(w) @ X`` for one weight vector ``w`` (shapes ``(d,)``
        and ``(d, d)``) or for every row of a ``(k, n)`` stack (``(k, d)``, ``(k, d, d)``)."""
        if self.gram_index is None:
            design_t = self.design_t
            return weights @ design_t.T, (design_t * weights[..., None, :]) @ design_t.T
        # One matrix-vector product per weight vector: OpenBLAS's product of a few vectors
        # with the wide matrix packs that matrix first and takes 1.4-1.6x as long (2-3
        # vectors, 10,000 rows, 15 products).
        rows = self.rows
        products = rows @ weights if weights.ndim == 1 else np.stack([rows @ w for w in weights])
        return products[..., : self.d], products[..., self.gram_index]

    def sums(self, weights: np.ndarray) -> np.ndarray:
        """``X.T @ w`` for one weight vector: a third of the work of :meth:`sums_and_grams`
        with 5 columns."""
        return self.design_t @ weights

    def gram(self, weights: np.ndarray) -> np.ndarray:
        """``X.T @ diag(w) @ X`` for one weight vector (see :meth:`sums_and_grams`)."""
        return self.sums_and_grams(weights)[1]


def design_products(*blocks: np.ndarray) -> DesignProducts:
    """:class:`DesignProducts` of the rows of ``blocks`` (each ``(n_i, d)``) stacked, with
    the column products if there are few enough columns and values.

    Everything is one allocation: glibc hands the free top of its heap back to the system
    once it exceeds the trim threshold, by default twice the largest block it has served
    by mmap and freed. When one block holds most of a call's memory the heap stays below
    that, and the next call reuses its pages instead of faulting in fresh ones (with the
    design and its products allocated apart, a PPI++ logistic interval on 10,500 rows
    took about 450 minor page faults a call in some processes).
    """
    d = blocks[0].shape[1]
    n_rows = sum(map(len, blocks))
    with_products = (
        d <= _PAIR_PRODUCTS_MAX_COLUMNS and n_rows * d * (d + 1) // 2 <= _PAIR_PRODUCTS_MAX_VALUES
    )
    # Room for every pair product; with a column of ones fewer rows are filled.
    whole = np.empty((d * (d + 3) // 2 if with_products else d, n_rows))
    design_t = whole[:d]
    start = 0
    for block in blocks:
        design_t[:, start : start + len(block)] = block.T
        start += len(block)
    highest, lowest = design_t.max(axis=1), design_t.min(axis=1)
    column_max = tuple(np.maximum(highest, -lowest).tolist())
    if not with_products:
        return DesignProducts(design_t, d, None, column_max)
    ones = tuple(np.flatnonzero((highest == 1.0) & (lowest == 1.0)).tolist())
    stored, index = _product_layout(d, ones)
    for row, (j, k) in enumerate(stored, start=d):
        np.multiply(design_t[j], design_t[k], out=whole[row])
    return DesignProducts(whole[: d + len(stored)], d, index, column_max)


def expit_and_slope(
    eta: np.ndarray,
    prob: np.ndarray,
    slope: np.ndarray,
    weights: np.ndarray | float = 1.0,
    *,
    eta_bound: float = np.inf,
) -> None:
    """Fill ``prob`` with ``weights * expit(eta)`` and ``slope`` with ``weights * p * (1 - p)``
    for ``p = expit(eta)``.

    In place, in six or seven passes over the rows and without overflow; ``1 - p`` is
    formed as ``exp(-eta) / (1 + exp(-eta))``, which keeps its relative precision where
    ``p`` is near 1 (the curvature of rows far out on the right). ``eta_bound`` is a bound
    on ``|eta|`` if one is known: below 700 ``exp(-eta)`` cannot overflow and ``eta`` is
    not clipped.
    """
    if eta_bound < 700.0:
        np.negative(eta, out=slope)
    else:
        # exp(-eta) overflows for eta < -709; at -700 expit is already 1e-304, as good as 0.
        np.maximum(eta, -700.0, out=slope)
        np.negative(slope, out=slope)
    np.exp(slope, out=slope)
    np.add(slope, 1.0, out=prob)
    np.divide(slope, prob, out=slope)
    np.divide(weights, prob, out=prob)
    slope *= prob


def logistic_solve(
    design: DesignProducts,
    weights: np.ndarray | float,
    linear: np.ndarray,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> np.ndarray:
    """Minimise ``sum_i weights_i * log(1 + exp(x_i b)) - linear @ b`` by damped Newton steps.

    ``design`` holds ``X`` as :class:`DesignProducts`. This one convex problem covers
    every logistic M-estimator here: ordinary logistic regression (``weights = 1``,
    ``linear = X.T @ y``), the rectified PPI loss and the DSL moment with pseudo-outcomes
    outside ``[0, 1]``. ``weights`` must be non-negative; a scalar weighs every row
    equally. The stationarity condition is
    ``X.T @ (weights * expit(X b)) = linear``. Iteration stops once a Newton step is below
    ``tol`` (relative) and takes that step: by quadratic convergence the remaining error
    is of order ``tol**2``.
    """
    design_t = design.design_t
    beta = np.zeros(design.d) if start is None else np.array(start, dtype=np.float64)
    eta = beta @ design_t
    work = np.empty((2, len(eta)))
    prob, curvature = work
    current: float | None = None
    for _ in range(max_iter):
        expit_and_slope(eta, prob, curvature, weights, eta_bound=design.eta_bound(beta))
        # The gradient needs the columns' sums alone, not the products.
        gradient = design.sums(prob) - linear
        try:
            step = solve_symmetric(design.gram(curvature), gradient, "X")
        except InputError:
            # Curvature p(1 - p) underflows where linear predictors run off to infinity:
            # then the loss has no finite minimum, whatever the design's rank.
            if np.abs(eta).max(initial=0.0) > _DIVERGED_ETA:
                raise InputError(_NO_MINIMUM, "X") from None
            raise
        # Python's max over the few coefficients costs a third of NumPy's.
        if max(map(abs, step.tolist())) <= tol * (1.0 + max(map(abs, beta.tolist()))):
            beta = beta - step
            # eta is the last iterate's; the final step moves it by a relative 1e-6 at most.
            if np.abs(eta).max(initial=0.0) > _DIVERGED_ETA:
                _check_finite_minimum(design, weights, linear, beta)
            return beta
        # Only when the cheap bound on the linear predictors' moves is too loose is the
        # largest move computed.
        if design.eta_bound(step) > _SAFE_ETA_CHANGE:
            eta_change = step @ design_t
            if max(eta_change.max(), -eta_change.min()) > _SAFE_ETA_CHANGE:
                # Far from the optimum, step halving keeps the iteration monotone.
                if current is None:
                    current = _softplus_loss(eta, weights, linear, beta)
                size = 1.0
                while True:
                    candidate = beta - size * step
                    cand_eta = eta - size * eta_change
                    cand_loss = _softplus_loss(cand_eta, weights, linear, candidate)
                    if cand_loss <= current + 1e-12 * abs(current) or size < 1e-8:
                        break
                    size *= 0.5
                beta, eta, current = candidate, cand_eta, cand_loss
                continue
        # The log of the logistic curvature p(1 - p) has slope in (-1, 1), so at a
        # fraction t of a step moving row i's linear predictor by a_i the curvature is at
        # most e^(t a_i) times the current one. Along the full Newton step the loss then
        # changes by at most sum_i c_i a_i^2 (psi(a_i) - 1) (c_i: weighted curvature) with
        # psi(a) = (e^a - 1 - a) / a^2 = int_0^1 (1 - t) e^(t a) dt, and psi(1.5) = 0.88 < 1:
        # the step decreases the loss, and no loss evaluation (a pass of log1p over the
        # rows) is needed.
        beta = beta - step
        np.matmul(beta, design_t, out=eta)
        current = None
    raise InputError(f"logistic fit did not converge in {max_iter} Newton steps; {_NO_MINIMUM}",
                     "X")


# Linear predictors beyond this make p(1 - p) < 1e-13: the fit is running off to infinity.
_DIVERGED_ETA = 30.0
_NO_MINIMUM = ("the loss has no finite minimum: the classes (or, for prediction-powered "
               "and DSL fits, the labels corrected by the predictions) are perfectly "
               "separated by the covariates; use more labelled rows or fewer covariates")


def _check_finite_minimum(
    design: DesignProducts, weights: np.ndarray | float, linear: np.ndarray, beta: np.ndarray
) -> None:
    """Raise if Newton's steps "converged" on the way to infinity.

    Where the loss has no finite minimum (separated classes) the steps stop growing once
    the curvature of the saturated rows vanishes, and the relative step test passes at a
    meaningless ``beta``. At a true minimum the convex loss is larger at ``2 beta``; on
    the way to infinity it is not. The caller checks only when some linear predictor is
    large, so that an ordinary fit pays nothing for it.
    """
    eta = beta @ design.design_t
    if _softplus_loss(2.0 * eta, weights, linear, 2.0 * beta) <= _softplus_loss(
            eta, weights, linear, beta):
        raise InputError(_NO_MINIMUM, "X")


def _softplus_loss(
    eta: np.ndarray, weights: np.ndarray | float, linear: np.ndarray, beta: np.ndarray
) -> float:
    """``sum(weights * log(1 + exp(eta))) - linear @ beta``, without overflow."""
    softplus = np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta)))
    return float(np.sum(weights * softplus) - linear @ beta)



"""Multivariate two-sample tests: kernel MMD, energy distance and a classifier test.

Every test here compares a reference sample ``x`` of shape (n, d) with a current sample
``y`` of shape (m, d) under the null hypothesis that both are i.i.d. draws from one
distribution. The permutation tests (:func:`mmd_test`, :func:`energy_test`) are exact at
every sample size: the kernel or distance matrix of the pooled sample is computed once,
each permuted statistic is a quadratic form in a 0/1 membership vector, and a batch of
permutations is one matrix product.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import nullcontext
from typing import Any

import numba as nb
import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_positive_int,
    check_positive_number,
)
from shiftguard.errors import EstimatorError, InputError

CLASSIFIER_METRICS = ("auc", "accuracy")

# Permutations evaluated per matrix product: large enough for BLAS to run at full speed,
# small enough that the (batch, n + m) float32 blocks stay a few megabytes.
_PERMUTATION_BATCH = 256


@dataclasses.dataclass(frozen=True)
class KernelTestResult(TestResult):
    """Outcome of :func:`mmd_test` or :func:`linear_mmd_test`.

    Attributes
    ----------
    bandwidth
        The RBF bandwidth ``sigma`` used, chosen by the median heuristic unless given.
    """

    bandwidth: float = math.nan


@dataclasses.dataclass(frozen=True)
class ClassifierTestResult(TestResult):
    """Outcome of :func:`classifier_test`.

    Attributes
    ----------
    fold_statistics
        Held-out AUC (or accuracy) of each fold's model on its own held-out fold.
    fold_pvalues
        The exact conditional p-value of each fold; ``pvalue`` is their Bonferroni merge.
    metric
        ``"auc"`` or ``"accuracy"``.
    """

    fold_statistics: tuple[float, ...] = ()
    fold_pvalues: tuple[float, ...] = ()
    metric: str = "auc"


def mmd_test(
    x: Any,
    y: Any,
    bandwidth: float | None = None,
    n_permutations: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> KernelTestResult:
    """Kernel two-sample test with the unbiased squared MMD and a permutation p-value.

    The statistic is the unbiased estimate (Gretton et al. 2012, eq. 3) of the squared
    maximum mean discrepancy with the Gaussian RBF kernel
    ``k(a, b) = exp(-||a - b||^2 / (2 sigma^2))``::

        MMD_u^2 = sum_{i != j} k(x_i, x_j) / (n (n-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
                  - 2 sum_{i, j} k(x_i, y_j) / (n m)

    which is what alibi-detect's ``mmd2_from_kernel_matrix`` computes.

    Parameters
    ----------
    x, y
        Reference (n, d) and current (m, d) samples, ``n, m >= 2``; 1-D input is one column.
    bandwidth
        The kernel's ``sigma``. ``None`` applies the median heuristic to the *pooled*
        sample: ``sigma = sqrt(median / 2)`` where ``median`` is the lower median of the
        squared Euclidean distances over all pairs ``i < j`` of the n + m pooled rows.
        This is alibi-detect's ``sigma_median`` (its ``GaussianRBF(sigma=None)``) applied
        to the pooled sample; alibi-detect's ``MMDDrift`` default applies it to the
        reference sample alone, so pass ``sigma`` explicitly there to reproduce our
        statistic. A bandwidth computed from the pooled sample is a symmetric function of
        the pooled rows, which keeps the permutation test exact.
    n_permutations
        Number B of random permutations of the pooled rows.
    seed
        Seed or Generator for the permutations.

    Returns
    -------
    KernelTestResult
        ``statistic`` is MMD_u^2 (float64), ``pvalue`` is ``(1 + #{T_b >= T}) / (1 + B)``,
        ``bandwidth`` the sigma used.

    Notes
    -----
    Guarantee: under the null that the n + m rows are exchangeable (in particular, both
    samples i.i.d. from one distribution), ``P(pvalue <= alpha) <= alpha`` for every
    ``alpha`` and every n, m (a Monte Carlo permutation test; Lehmann & Romano, Testing
    Statistical Hypotheses, sec. 15.2.1). The test is consistent against every fixed
    alternative because the Gaussian kernel is characteristic. The permuted statistics are
    evaluated in float32 on a centred kernel matrix (entries of order the kernel's spread,
    not its level), so their rounding error is far below the permutation spread; the
    observed statistic is float64. Memory is one (n+m)^2 float64 matrix plus a float32
    copy (4,000 pooled rows: 192 MB); for larger samples subsample, or use
    :func:`linear_mmd_test`.

    References
    ----------
    Gretton, Borgwardt, Rasch, Schoelkopf & Smola (2012). A kernel two-sample test. JMLR 13.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = mmd_test(rng.normal(size=(100, 3)), rng.normal(0.5, 1, size=(100, 3)), seed=1)
    >>> res.pvalue < 0.01
    True
    """
    x, y = _check_two_samples(x, y, min_rows=2)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    n, m = x.shape[0], y.shape[0]
    sq_dist = _pooled_squared_distances(x, y)
    if bandwidth is None:
        sigma = _median_heuristic(sq_dist)
    else:
        sigma = check_positive_number(bandwidth, "bandwidth")
    kernel = _rbf_in_place(sq_dist, 0.5 / sigma**2)  # the distances are not needed again
    observed = _unbiased_mmd2(kernel, n)
    centred = _centre_off_diagonal(kernel)
    q, r = _permuted_quadratic_forms(centred, n, n_permutations, as_rng(seed))
    permuted = _mmd2_from_forms(q, r, float(centred.sum(dtype=np.float64)), n, m)
    return KernelTestResult(
        method="mmd", statistic=observed, pvalue=permutation_pvalue(observed, permuted),
        n_permutations=n_permutations, bandwidth=sigma,
    )


def linear_mmd_test(x: Any, y: Any, bandwidth: float | None = None) -> KernelTestResult:
    """Linear-time MMD test (Gretton et al. 2012, sec. 6) with its asymptotic normal p-value.

    With ``p = min(n, m) // 2`` pairs, ``h_i = k(x_{2i}, x_{2i+1}) + k(y_{2i}, y_{2i+1})
    - k(x_{2i}, y_{2i+1}) - k(x_{2i+1}, y_{2i})`` (0-based rows, RBF kernel as in
    :func:`mmd_test`); the statistic is ``mean(h)``, an unbiased estimate of MMD^2, and
    ``z = mean(h) / (sd(h) / sqrt(p))`` is referred to the upper tail of N(0, 1) (one-sided:
    MMD^2 > 0 under every alternative). Only the first ``2 p`` rows of each sample are
    used, in the order given. Time and memory are O((n + m) d).

    Parameters
    ----------
    x, y
        Reference (n, d) and current (m, d) samples with ``min(n, m) >= 4``.
    bandwidth
        ``sigma``; ``None`` takes ``sqrt(median / 2)`` over the 4p squared distances that
        enter ``h`` (an O(n) median heuristic).

    Returns
    -------
    KernelTestResult
        ``statistic`` is ``mean(h)``; ``effect_size`` is the z-score.

    Notes
    -----
    Guarantee: asymptotic. Under the null of i.i.d. rows from one distribution the ``h_i``
    are i.i.d. with mean 0 and ``P(pvalue <= alpha) -> alpha`` as ``p -> inf`` (central limit
    theorem, with the consistent plug-in variance and median bandwidth). For a few hundred
    rows use :func:`mmd_test`, which is exact; this test is for samples too large for an
    (n + m)^2 kernel matrix, and spends power for that (its variance is O(1/p), not O(1/p^2)).

    References
    ----------
    Gretton, Borgwardt, Rasch, Schoelkopf & Smola (2012). A kernel two-sample test. JMLR 13,
    section 6 (linear time statistic) and corollary 16.
    """
    from scipy import stats

    x, y = _check_two_samples(x, y, min_rows=4)
    p = min(x.shape[0], y.shape[0]) // 2
    x1, x2 = x[0 : 2 * p : 2], x[1 : 2 * p : 2]
    y1, y2 = y[0 : 2 * p : 2], y[1 : 2 * p : 2]
    sq = np.stack([
        _rowwise_sq_dist(x1, x2), _rowwise_sq_dist(y1, y2),
        _rowwise_sq_dist(x1, y2), _rowwise_sq_dist(x2, y1),
    ])
    if bandwidth is None:
        median = float(np.median(sq))
        if median <= 0.0:
            raise InputError(
                "more than half of the paired rows coincide, so the median heuristic "
                "bandwidth is 0; pass bandwidth= explicitly", "x, y"
            )
        sigma = math.sqrt(0.5 * median)
    else:
        sigma = check_positive_number(bandwidth, "bandwidth")
    k = np.exp(sq * (-0.5 / sigma**2))
    h = k[0] + k[1] - k[2] - k[3]
    sd = float(np.std(h, ddof=1))
    statistic = float(h.mean())
    if sd == 0.0:
        raise InputError("every paired kernel difference is equal; the variance is 0", "x, y")
    z = statistic / (sd / math.sqrt(p))
    return KernelTestResult(
        method="linear_mmd", statistic=statistic, pvalue=float(stats.norm.sf(z)),
        effect_size=z, bandwidth=sigma,
    )


def energy_test(
    x: Any,
    y: Any,
    n_permutations: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> TestResult:
    """Energy-distance two-sample test (Szekely & Rizzo) with a permutation p-value.

    The statistic is the energy distance of the two empirical distributions (V-statistic)::

        E = 2 mean_{i,j} ||x_i - y_j|| - mean_{i,i'} ||x_i - x_i'|| - mean_{j,j'} ||y_j - y_j'||

    For d = 1, ``scipy.stats.energy_distance(x, y) == sqrt(E)``: scipy returns
    ``sqrt(2 * integral (F_x - F_y)^2)`` and ``E = 2 * integral (F_x - F_y)^2`` (Szekely &
    Rizzo 2013, eq. 2.1 / prop. 1). Szekely & Rizzo's test statistic ``n m / (n + m) * E``
    differs by a constant factor, which leaves the permutation p-value unchanged.

    Parameters
    ----------
    x, y
        Reference (n, d) and current (m, d) samples, ``n, m >= 2``.
    n_permutations
        Number B of random permutations.
    seed
        Seed or Generator for the permutations.

    Returns
    -------
    TestResult
        ``statistic`` is E, ``pvalue`` is ``(1 + #{E_b >= E}) / (1 + B)``.

    Notes
    -----
    Guarantee: under exchangeability of the n + m rows (both samples i.i.d. from one
    distribution), ``P(pvalue <= alpha) <= alpha`` at every sample size. Consistent against
    every alternative with finite first moments.

    References
    ----------
    Szekely & Rizzo (2004). Testing for equal distributions in high dimension. InterStat.
    Szekely & Rizzo (2013). Energy statistics: a class of statistics based on distances.
    J. Statist. Plann. Inference 143, 1249-1272.
    """
    x, y = _check_two_samples(x, y, min_rows=2)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    n, m = x.shape[0], y.shape[0]
    dist = _pooled_squared_distances(x, y)
    np.sqrt(dist, out=dist)
    observed = float(
        2.0 * dist[:n, n:].mean() - dist[:n, :n].mean() - dist[n:, n:].mean()
    )
    # E = -w' D w with w = a (1/n + 1/m) - 1/m for the 0/1 membership vector a; w sums to
    # zero, so double-centring D leaves every permuted E unchanged and shrinks the entries.
    centred = _double_centre(dist)
    q, r = _permuted_quadratic_forms(centred, n, n_permutations, as_rng(seed))
    permuted = _energy_from_forms(q, r, float(centred.sum(dtype=np.float64)), n, m)
    return TestResult(
        method="energy", statistic=observed, pvalue=permutation_pvalue(observed, permuted),
        n_permutations=n_permutations,
    )


def classifier_test(
    x: Any,
    y: Any,
    estimator: Any = None,
    n_folds: int = 5,
    metric: str = "auc",
    seed: int | np.random.Generator | None = None,
) -> ClassifierTestResult:
    """Classifier two-sample test, cross-fitted, with exact per-fold p-values.

    Rows are labelled 0 (reference) and 1 (current) and split into ``n_folds`` folds,
    stratified by label. For each fold k a fresh clone of ``estimator`` is fitted on the
    other folds and scores fold k; so every row's score comes from a model that did not see
    it. Fold k's p-value is exact *conditionally on the other folds*: given them the model
    is fixed, and under the null fold k's rows are i.i.d. whatever their labels, so their
    scores are i.i.d. and independent of the labels.

    * ``metric="auc"``: the held-out AUC is the Mann-Whitney U of the fold's scores
      divided by ``n_k m_k``; its p-value is the one-sided (current scores higher)
      Mann-Whitney p-value (``scipy.stats.mannwhitneyu``, exact for small folds, normal
      otherwise) computed after breaking tied scores at random (seeded), which keeps the
      null law of U exact. The reported AUC counts ties as 1/2.
    * ``metric="accuracy"``: predictions are ``score >= 0.5`` (``predict_proba``) or
      ``>= 0`` (``decision_function``). Given the predictions, the number of correctly
      classified current rows is hypergeometric under the null, so the p-value is the
      one-sided Fisher exact test of prediction against label. This is exact, and it is
      never larger in expectation than the binomial test against the majority rate.

    The fold p-values are dependent (each fold's model was trained on the other folds'
    rows), so they are merged by Bonferroni, ``min(1, K * min_k p_k)``, which is valid
    under any dependence. Pooling all held-out scores into one AUC and using the
    Mann-Whitney null would *not* be valid: a chance association learned from fold j and
    present in fold k inflates both folds' AUCs together.

    Parameters
    ----------
    x, y
        Reference (n, d) and current (m, d) samples; every fold needs both labels, so
        ``n, m >= n_folds``.
    estimator
        Unfitted scikit-learn classifier with ``fit`` and ``predict_proba`` or
        ``decision_function``. ``None`` uses ``HistGradientBoostingClassifier(max_iter=100,
        max_leaf_nodes=15, early_stopping=False)``: trees see shifts in variance,
        interactions and tails that a linear model misses, need no feature scaling, and fit
        3,200 x 32 rows in about 0.1 s (single-threaded, see below).
    n_folds
        Number K >= 2 of cross-fitting folds.
    metric
        ``"auc"`` (default; uses the whole ranking) or ``"accuracy"``.
    seed
        Seed or Generator for the folds, the tie-breaking and the default estimator.

    Returns
    -------
    ClassifierTestResult
        ``statistic`` is the mean held-out AUC (or accuracy) over folds, ``effect_size``
        is ``statistic - 0.5`` for AUC; ``fold_pvalues`` are the conditional p-values.

    Notes
    -----
    Guarantee: under the null that all rows are i.i.d. from one distribution,
    ``P(pvalue <= alpha) <= alpha`` for every sample size and every estimator (each fold
    p-value is exact given the other folds; Bonferroni is valid under dependence). When the
    fold p-values are nearly independent the size is close to, and never above, alpha;
    when they are strongly dependent the test is conservative. Power depends on the
    estimator learning the difference.

    References
    ----------
    Lopez-Paz & Oquab (2017). Revisiting classifier two-sample tests. ICLR.
    Friedman (2003). On multivariate goodness-of-fit and two-sample testing. SLAC-PUB-10325.
    """
    from scipy import stats
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    x, y = _check_two_samples(x, y, min_rows=2)
    n_folds = check_positive_int(n_folds, "n_folds", minimum=2)
    check_choice(metric, "metric", CLASSIFIER_METRICS)
    n, m = x.shape[0], y.shape[0]
    if min(n, m) < n_folds:
        raise InputError(
            f"each sample needs at least n_folds={n_folds} rows so that every fold holds "
            f"both; got n={n}, m={m}", "x, y"
        )
    rng = as_rng(seed)
    model = _default_classifier(rng) if estimator is None else estimator
    _check_classifier(model)
    features = np.vstack([x, y])
    labels = np.r_[np.zeros(n, dtype=np.int8), np.ones(m, dtype=np.int8)]
    fold_of = np.empty(n + m, dtype=np.int64)
    fold_of[:n] = rng.permutation(n) % n_folds
    fold_of[n:] = rng.permutation(m) % n_folds
    # The default model fits single-threaded: at two-sample-test sizes OpenMP's start-up
    # and, on a busy machine, oversubscription cost ten times what the threads save.
    limits = threadpool_limits(1, user_api="openmp") if estimator is None else nullcontext()
    with limits:
        folds = [
            _held_out_test(
                clone(model).fit(features[fold_of != k], labels[fold_of != k]),
                features[fold_of == k], labels[fold_of == k], metric, rng, stats,
            )
            for k in range(n_folds)
        ]
    fold_stats, fold_p = zip(*folds, strict=True)
    statistic = float(np.mean(fold_stats))
    return ClassifierTestResult(
        method=f"classifier_{metric}", statistic=statistic,
        pvalue=min(1.0, n_folds * min(fold_p)),
        effect_size=statistic - 0.5 if metric == "auc" else None,
        fold_statistics=fold_stats, fold_pvalues=fold_p, metric=metric,
    )


# -- helpers ---------------------------------------------------------------------------


def _check_two_samples(x: Any, y: Any, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate two 2-D samples with equal column counts and ``min_rows`` rows each."""
    x = as_float_array(x, "x", ndim=2, min_size=min_rows)
    y = as_float_array(y, "y", ndim=2, min_size=min_rows)
    if x.shape[1] != y.shape[1]:
        raise InputError(
            f"x has {x.shape[1]} columns but y has {y.shape[1]}; both samples need the "
            "same features", "y"
        )
    return x, y


def _pooled_squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n+m, n+m) squared Euclidean distances of the pooled rows, exact zeros on the diagonal."""
    pooled = np.vstack([x, y])
    # Centring first keeps ||a||^2 + ||b||^2 - 2 a.b from cancelling when the data sit far
    # from the origin.
    pooled -= pooled.mean(axis=0)
    norms = np.einsum("ij,ij->i", pooled, pooled)
    gram = pooled @ pooled.T
    _gram_to_sq_dist(gram, norms)
    return gram


@nb.njit(cache=True)
def _gram_to_sq_dist(gram: np.ndarray, norms: np.ndarray) -> None:
    size = gram.shape[0]
    for i in range(size):
        for j in range(size):
            v = norms[i] + norms[j] - 2.0 * gram[i, j]
            gram[i, j] = v if v > 0.0 else 0.0
        gram[i, i] = 0.0


def _median_heuristic(sq_dist: np.ndarray) -> float:
    """alibi-detect's ``sigma_median``: sqrt(lower median of pairwise squared distances / 2).

    alibi-detect sorts the whole (x = y) matrix and takes index
    ``size + (size^2 - size) // 2 - 1``: past the ``size`` diagonal zeros, among the pairs
    that each appear twice, which is the lower median of the ``size (size - 1) / 2`` pairs.
    """
    pairs = _upper_triangle(sq_dist)
    k = (pairs.size - 1) // 2
    median = float(np.partition(pairs, k)[k])
    if median <= 0.0:
        raise InputError(
            "more than half of all pairs of pooled rows coincide, so the median heuristic "
            "bandwidth is 0; pass bandwidth= explicitly", "x, y"
        )
    return math.sqrt(0.5 * median)


@nb.njit(cache=True)
def _upper_triangle(matrix: np.ndarray) -> np.ndarray:
    size = matrix.shape[0]
    out = np.empty(size * (size - 1) // 2)
    for i in range(size - 1):
        start = i * size - i * (i + 1) // 2
        for j in range(i + 1, size):
            out[start + j - i - 1] = matrix[i, j]
    return out


@nb.njit(cache=True)
def _rbf_in_place(sq_dist: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma * d2)`` in place, diagonal set to 0 (the unbiased MMD leaves it out)."""
    size = sq_dist.shape[0]
    for i in range(size):
        for j in range(size):
            sq_dist[i, j] = np.exp(-gamma * sq_dist[i, j])
        sq_dist[i, i] = 0.0
    return sq_dist


def _rowwise_sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a - b
    return np.einsum("ij,ij->i", diff, diff)


def _unbiased_mmd2(kernel_zero_diag: np.ndarray, n: int) -> float:
    """Unbiased MMD^2 from the pooled kernel matrix whose diagonal is already zero."""
    m = kernel_zero_diag.shape[0] - n
    k_xx = kernel_zero_diag[:n, :n].sum() / (n * (n - 1))
    k_yy = kernel_zero_diag[n:, n:].sum() / (m * (m - 1))
    k_xy = kernel_zero_diag[:n, n:].mean()
    return float(k_xx + k_yy - 2.0 * k_xy)


def _double_centre(matrix: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """``H M H`` (``H`` the centring projection) of a symmetric matrix, as ``dtype``."""
    shift = matrix.mean(axis=0)
    shift -= 0.5 * shift.mean()
    out = np.empty(matrix.shape, dtype=dtype)
    _subtract_shifts(matrix, shift, out, False)
    return out


def _centre_off_diagonal(kernel_zero_diag: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """``dtype`` copy with ``f(i) + f(j)`` subtracted from every off-diagonal entry.

    The unbiased MMD^2 of every split is unchanged by such a shift (the added terms cancel
    between its three parts), and with ``f`` the centred row means the entries become
    deviations from the kernel's level, so float32 products lose little.
    """
    size = kernel_zero_diag.shape[0]
    row_mean = kernel_zero_diag.sum(axis=1) / (size - 1)
    out = np.empty(kernel_zero_diag.shape, dtype=dtype)
    _subtract_shifts(kernel_zero_diag, row_mean - 0.5 * row_mean.mean(), out, True)
    return out


@nb.njit(cache=True)
def _subtract_shifts(matrix: np.ndarray, shift: np.ndarray, out: np.ndarray,
                     zero_diagonal: bool) -> None:
    """``out[i, j] = M[i, j] - shift[i] - shift[j]`` (diagonal 0 if asked), in one pass."""
    size = matrix.shape[0]
    for i in range(size):
        for j in range(size):
            out[i, j] = matrix[i, j] - shift[i] - shift[j]
        if zero_diagonal:
            out[i, i] = 0.0


def _permuted_quadratic_forms(
    matrix: np.ndarray,
    n: int,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``q_b = a_b' M a_b`` and ``r_b = a_b' M 1`` for B random n-subsets ``a_b`` of the rows.

    ``a_b`` is the 0/1 indicator of the rows that the b-th permutation sends to the first
    sample. Batches of permutations are one ``A @ M`` product in ``M``'s dtype (float32
    in the public tests); the row sums and the final reductions are float64.
    """
    size = matrix.shape[0]
    row_sums = matrix.sum(axis=1, dtype=np.float64)
    membership = np.zeros(size, dtype=matrix.dtype)
    membership[:n] = 1.0
    q = np.empty(n_permutations)
    r = np.empty(n_permutations)
    for start in range(0, n_permutations, _PERMUTATION_BATCH):
        stop = min(start + _PERMUTATION_BATCH, n_permutations)
        a = rng.permuted(np.broadcast_to(membership, (stop - start, size)), axis=1)
        q[start:stop] = np.einsum("bi,bi->b", a @ matrix, a, dtype=np.float64)
        r[start:stop] = a.astype(np.float64) @ row_sums
    return q, r


def _mmd2_from_forms(q: np.ndarray, r: np.ndarray, total: float, n: int, m: int) -> np.ndarray:
    """Unbiased MMD^2 of each split from ``q = a'Ka``, ``r = a'K1`` and ``total = 1'K1``.

    With ``b = 1 - a``: the within-x sum is q, the cross sum ``a'Kb = r - q`` and the
    within-y sum ``b'Kb = total - 2 r + q`` (K with zero diagonal).
    """
    c_xx, c_yy, c_xy = 1.0 / (n * (n - 1)), 1.0 / (m * (m - 1)), 2.0 / (n * m)
    return c_xx * q + c_yy * (total - 2.0 * r + q) - c_xy * (r - q)


def _energy_from_forms(q: np.ndarray, r: np.ndarray, total: float, n: int, m: int) -> np.ndarray:
    """Energy distance ``-w'Dw`` of each split, ``w = a (1/n + 1/m) - 1/m``."""
    c = 1.0 / n + 1.0 / m
    return -(c * c * q - 2.0 * c * r / m + total / m**2)


def permutation_pvalue(observed: float, permuted: np.ndarray) -> float:
    """``(1 + #{T_b >= T}) / (1 + B)`` with a relative tolerance against rounding ties."""
    tol = 1e-9 * max(abs(observed), 1e-300)
    return float((1 + np.count_nonzero(permuted >= observed - tol)) / (1 + permuted.size))


def _default_classifier(rng: np.random.Generator) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=15, early_stopping=False,
        random_state=int(rng.integers(2**31 - 1)),
    )


def _check_classifier(estimator: Any) -> None:
    if not hasattr(estimator, "fit"):
        raise EstimatorError(f"estimator {type(estimator).__name__} has no fit method")
    if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")):
        raise EstimatorError(
            f"estimator {type(estimator).__name__} has neither predict_proba nor "
            "decision_function; the classifier test needs a score per row"
        )


def _classifier_scores(fitted: Any, features: np.ndarray) -> tuple[np.ndarray, float]:
    """Scores for class 1 (current) and the threshold at which a row is predicted current."""
    if hasattr(fitted, "predict_proba"):
        proba = np.asarray(fitted.predict_proba(features))
        column = list(fitted.classes_).index(1)
        return proba[:, column], 0.5
    return np.asarray(fitted.decision_function(features), dtype=np.float64), 0.0


def _held_out_test(
    fitted: Any,
    features: np.ndarray,
    labels: np.ndarray,
    metric: str,
    rng: np.random.Generator,
    stats: Any,
) -> tuple[float, float]:
    """One fold's held-out AUC or accuracy and its exact conditional p-value."""
    scores, threshold = _classifier_scores(fitted, features)
    if metric == "auc":
        return _auc_pvalue(scores, labels, rng, stats)
    predicted = scores >= threshold
    hits = int((predicted & (labels == 1)).sum())
    # Given the predictions, the hits among current rows are hypergeometric under the null.
    p = float(stats.hypergeom.sf(hits - 1, labels.size, int(labels.sum()), int(predicted.sum())))
    return float((predicted == (labels == 1)).mean()), p


def _auc_pvalue(
    scores: np.ndarray, labels: np.ndarray, rng: np.random.Generator, stats: Any
) -> tuple[float, float]:
    """Held-out AUC (ties count 1/2) and its exact one-sided Mann-Whitney p-value.

    Ties are broken by an independent uniform key before ranking, so the ranks are a
    uniformly random permutation under the null and ``mannwhitneyu`` sees no ties.
    """
    cur, ref = labels == 1, labels == 0
    midranks = stats.rankdata(scores)
    u_mid = midranks[cur].sum() - cur.sum() * (cur.sum() + 1) / 2.0
    auc = float(u_mid / (cur.sum() * ref.sum()))
    order = np.lexsort((rng.random(scores.size), scores))
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    p = stats.mannwhitneyu(ranks[cur], ranks[ref], alternative="greater").pvalue
    return auc, float(p)

"""Multivariate two-sample tests: kernel MMD, energy distance and a classifier test.

Every test here compares a reference sample ``x`` of shape (n, d) with a current sample
``y`` of shape (m, d) under the null hypothesis that both are i.i.d. draws from one
distribution. The permutation tests (:func:`mmd_test`, :func:`energy_test`) are exact at
every sample size, tied rows included: the pooled sample is reduced to its distinct rows
and how often each occurs, the kernel or distance matrix of the distinct rows is computed
once, a permuted statistic is a quadratic form in the counts a random split sends to ``x``
(a batch of splits is one matrix product), and every comparison with the observed statistic
is made in exact integer arithmetic; ``mmd_test(..., n_features=D)`` replaces the kernel by
D random Fourier features, whose permutations cost O(B (n + m) D) instead of
O(B (n + m)^2), with the same exactness (:mod:`shiftguard.stats._random_features`). The
classifier test is exact with ``metric="accuracy"`` and, with ``metric="auc"``, uses the
normal approximation of the Mann-Whitney law for folds with more than 8 rows of each
sample (see its guarantee).
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import nullcontext
from typing import Any

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
from shiftguard.stats import _small_kernels

CLASSIFIER_METRICS = ("auc", "accuracy")

# Permutations evaluated per matrix product: large enough for BLAS to run at full speed,
# small enough that the (batch, n + m) blocks stay a few megabytes.
_PERMUTATION_BATCH = 256

# scipy.stats.mannwhitneyu's own rule for its exact law (method="auto" without ties),
# pinned here because the classifier test's stated guarantee depends on it.
_MANN_WHITNEY_EXACT_MAX_ROWS = 8


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
        The p-value of each fold given the other folds (exact or asymptotic, as stated in
        :func:`classifier_test`); ``pvalue`` is their Bonferroni merge.
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
    n_features: int | None = None,
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
        The kernel's ``sigma``, a finite number > 0 (else :class:`ParameterError`).
        ``None`` applies the median heuristic to the *pooled* sample:
        ``sigma = sqrt(median / 2)`` where ``median`` is the lower median of the squared
        Euclidean distances over all pairs ``i < j`` of the n + m pooled rows. This is
        alibi-detect's ``sigma_median`` (its ``GaussianRBF(sigma=None)``) applied to the
        pooled sample; alibi-detect's ``MMDDrift`` default applies it to the reference
        sample alone, so pass ``sigma`` explicitly there to reproduce our statistic. When
        more than half of the pairs coincide (a sparse binary table, say) that median is 0
        and alibi-detect's kernel divides by 0; we then take the lower median of the
        non-zero squared distances, and when every pooled row is the same, ``sigma = 1``
        (every bandwidth gives the same kernel; the statistic is 0 and ``pvalue`` 1). Each
        choice is a symmetric function of the pooled rows, which keeps the test exact.
    n_permutations
        Number B of random permutations of the pooled rows.
    seed
        Seed or Generator for the permutations (and the random features).
    n_features
        ``None`` (default): the exact Gaussian kernel, as above. An integer ``D >= 1``: the
        kernel is approximated by ``D`` random Fourier features (Rahimi and Recht 2007;
        Zhao and Meng 2015): with ``W`` (d, D) whose columns are N(0, I / sigma^2) in law,
        drawn in orthogonal blocks (Yu et al. 2016), and ``b`` uniform on [0, 2 pi),
        ``phi(z) = sqrt(2 / D) cos(W' z + b)``, and the statistic is
        ``||mean phi(x) - mean phi(y)||^2`` (the squared MMD of the kernel ``phi . phi``,
        an estimate of the Gaussian one). Time O(B (n + m) D) instead of
        O(B (n + m)^2), memory O((n + m) D): at 2,000 + 2,000 rows, D = 256 and
        B = 1,000, about 2 GFLOP instead of 32. With ``bandwidth=None`` the median
        heuristic runs on at most 1,000 pooled rows, drawn (seeded) from the pooled
        rows in sorted order (all of them when n + m <= 1,000, giving the exact path's
        sigma); see Notes. Up to 2^22 - 1 pooled rows.

    Returns
    -------
    KernelTestResult
        ``statistic`` is MMD_u^2 (float64), or the random-feature statistic with
        ``n_features``; ``pvalue`` is Besag and Clifford's sequential
        Monte Carlo p-value over at most ``B`` permutations (ties counted, see Notes):
        ``20 / l`` when the 20th permuted statistic reaching ``T`` is the ``l``-th drawn,
        else ``(1 + #{T_b >= T}) / (1 + B)``; ``n_permutations`` the number drawn;
        ``bandwidth`` the sigma used; ``method`` ``"mmd"``, or ``"mmd_rff"`` with
        ``n_features``.

    Notes
    -----
    Guarantee: under the null that the n + m rows are exchangeable (in particular, both
    samples i.i.d. from one distribution), ``P(pvalue <= alpha) <= alpha`` for every
    ``alpha``, every n, m >= 2 and any number of tied rows (a Monte Carlo permutation test;
    Lehmann & Romano, Testing Statistical Hypotheses, sec. 15.2.1). The test is consistent
    against every fixed alternative because the Gaussian kernel is characteristic.

    How the comparisons are exact: the statistic depends on a split only through how many
    copies of each distinct pooled row it sends to ``x``. The kernel between the distinct
    rows is rounded to integer multiples of ``2^-p``, ``p = 53 - 2 L`` with ``L`` the bit
    length of n + m (``p = 29`` for 2,048 to 4,095 rows), which makes every permuted
    statistic, scaled by ``n (n-1) m (m-1)``, an integer computed without rounding error,
    so ties with the observed statistic are found exactly, whatever their number. The
    ranked statistics differ from the float64 MMD_u^2 by at most ``2^(1-p)`` (3.7e-9 at
    4,000 rows); floating-point sums would instead break exact ties at random and, on small
    tied samples, make the p-value a few permutations too small. Memory is one
    ``u x u`` float64 matrix for u distinct pooled rows (4,000 distinct rows: 128 MB) and,
    for the median heuristic, the positive pairwise distances (at most 64 MB at 4,000
    rows), so heavily tied data are cheap; for larger samples subsample, or use
    :func:`linear_mmd_test`. SciPy has no MMD test.

    With ``n_features`` the guarantee is the same -- ``P(pvalue <= alpha) <= alpha``
    exactly, at every n, m >= 2, ties included -- because the frequencies, phases,
    bandwidth and centring are drawn or computed independently of the labels: from the
    seed and from the pooled rows as a multiset (the bandwidth's subsample is drawn from
    the pooled rows in canonical, lexicographically sorted order, the same for every
    arrangement of the pooled sample), so every split is scored by one fixed function.
    The features are rounded to integer multiples of ``2^-(24 - L)`` (``L`` as above;
    2^-12 at 4,000 rows) below 65,536 pooled rows, ``2^-(52 - 2 L)`` above, which makes
    each permuted sum an exact float32 (float64) integer and every tie with the observed
    statistic detectable (:mod:`shiftguard.stats._random_features`).
    Power: given ``W`` and ``b`` the test is consistent (as n, m grow) against every
    alternative that moves the mean of ``phi``. Two distributions that differ have
    characteristic functions that differ on a set of frequencies of positive Gaussian
    measure, so each block of frequencies misses them with probability below 1 and the
    chance that all ``D`` features miss vanishes as ``D`` grows (the random-feature kernel
    converges uniformly to the Gaussian one, which is characteristic; Rahimi and Recht
    2007, claim 1). At finite ``D`` some power is lost; the rates of both tests on seeded
    alternatives at the detector's 2,000 + 2,000 rows are in BENCHMARKS.md
    (``bench/drift/bench_mmd_power.py``).

    References
    ----------
    Gretton, Borgwardt, Rasch, Schoelkopf & Smola (2012). A kernel two-sample test. JMLR 13.
    Phipson & Smyth (2010). Permutation p-values should never be zero. Stat. Appl. Genet.
    Mol. Biol. 9(1), article 39.
    Rahimi & Recht (2007). Random features for large-scale kernel machines. NIPS 20.
    Yu, Suresh, Choromanski, Holtmann-Rice & Kumar (2016). Orthogonal random features.
    NIPS 29.
    Zhao & Meng (2015). FastMMD: ensemble of circular discrepancy for efficient
    two-sample test. Neural Computation 27(6), 1345-1372.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = mmd_test(rng.normal(size=(100, 3)), rng.normal(0.5, 1, size=(100, 3)), seed=1)
    >>> res.pvalue < 0.01
    True
    >>> mmd_test(np.ones((5, 2)), np.ones((4, 2)), seed=1).pvalue
    1.0
    >>> fast = mmd_test(rng.normal(size=(500, 3)), rng.normal(0.3, 1, size=(500, 3)),
    ...                 n_features=256, seed=1)
    >>> fast.method, fast.pvalue < 0.01
    ('mmd_rff', True)
    """
    x, y = _check_two_samples(x, y, min_rows=2)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    if bandwidth is not None:
        bandwidth = check_positive_number(bandwidth, "bandwidth")
    if n_features is not None:
        from shiftguard.stats._random_features import rff_mmd_test

        statistic, pvalue, drawn, sigma = rff_mmd_test(
            x, y, bandwidth, check_positive_int(n_features, "n_features"), n_permutations,
            as_rng(seed))
        return KernelTestResult(method="mmd_rff", statistic=statistic, pvalue=pvalue,
                                n_permutations=drawn, bandwidth=sigma)
    n, m = x.shape[0], y.shape[0]
    rows, counts, in_x = _distinct_rows(x, y)
    sq_dist = _squared_distances(rows)
    sigma = bandwidth if bandwidth is not None else _median_bandwidth(
        _positive_pair_values(sq_dist, counts), (n + m) * (n + m - 1) // 2)
    kernel = np.exp(np.multiply(sq_dist, -0.5 / sigma**2, out=sq_dist), out=sq_dist)
    observed = _mmd2_from_sums(*_pair_sums(kernel, counts, in_x), n, m)
    weights = _mmd2_form_weights(n, m)
    pvalue, drawn = _exact_permutation_pvalue(kernel, counts, in_x, weights, n_permutations,
                                              as_rng(seed))
    return KernelTestResult(
        method="mmd", statistic=observed, pvalue=pvalue, n_permutations=drawn,
        bandwidth=sigma,
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
        ``sigma`` (a finite number > 0); ``None`` takes ``sqrt(median / 2)`` over the 4p
        squared distances that enter ``h`` (an O(n) median heuristic), or over the
        non-zero ones when more than half are 0, as :func:`mmd_test` does.

    Returns
    -------
    KernelTestResult
        ``statistic`` is ``mean(h)``; ``effect_size`` is the z-score.

    Raises
    ------
    InputError
        When every ``h_i`` is equal (e.g. all rows identical): the z-score is undefined.

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
        sigma = _median_bandwidth(sq[sq > 0.0], sq.size)
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
    differs by a constant factor, which leaves the permutation p-value unchanged. SciPy has
    no energy test.

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
        ``statistic`` is E; ``pvalue`` the sequential p-value over at most ``B``
        permutations as in :func:`mmd_test` (ties counted); ``n_permutations`` the number
        drawn.

    Notes
    -----
    Guarantee: under exchangeability of the n + m rows (both samples i.i.d. from one
    distribution), ``P(pvalue <= alpha) <= alpha`` for every ``alpha``, every n, m >= 2 and
    any number of tied rows. The comparisons are exact as in :func:`mmd_test`: the
    distances between distinct pooled rows are rounded to integer multiples of
    ``2^-p max ||z_i - z_j||`` (same ``p``), so the ranked statistics differ from E by at
    most ``2^(1-p) max ||z_i - z_j||`` and are compared without rounding error. Consistent
    against every alternative with finite first moments.

    References
    ----------
    Szekely & Rizzo (2004). Testing for equal distributions in high dimension. InterStat.
    Szekely & Rizzo (2013). Energy statistics: a class of statistics based on distances.
    J. Statist. Plann. Inference 143, 1249-1272.
    """
    x, y = _check_two_samples(x, y, min_rows=2)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    n, m = x.shape[0], y.shape[0]
    rows, counts, in_x = _distinct_rows(x, y)
    dist = _squared_distances(rows)
    np.sqrt(dist, out=dist)
    observed = _energy_from_sums(*_pair_sums(dist, counts, in_x), n, m)
    weights = _energy_form_weights(n, m)
    pvalue, drawn = _exact_permutation_pvalue(dist, counts, in_x, weights, n_permutations,
                                              as_rng(seed))
    return TestResult(
        method="energy", statistic=observed, pvalue=pvalue, n_permutations=drawn,
    )


def classifier_test(
    x: Any,
    y: Any,
    estimator: Any = None,
    n_folds: int = 5,
    metric: str = "auc",
    seed: int | np.random.Generator | None = None,
) -> ClassifierTestResult:
    """Classifier two-sample test, cross-fitted, with one p-value per held-out fold.

    Rows are labelled 0 (reference) and 1 (current) and split into ``n_folds`` folds,
    stratified by label. For each fold k a fresh clone of ``estimator`` is fitted on the
    other folds and scores fold k; so every row's score comes from a model that did not see
    it. Fold k's p-value is computed *conditionally on the other folds*: given them the
    model is fixed, and under the null fold k's rows are i.i.d. whatever their labels, so
    their scores are i.i.d. and independent of the labels.

    * ``metric="auc"``: the held-out AUC is the Mann-Whitney U of the fold's scores
      divided by ``n_k m_k``; its p-value is the one-sided (current scores higher)
      Mann-Whitney p-value of ``scipy.stats.mannwhitneyu``, computed after breaking tied
      scores at random (seeded) so that the ranks are a uniformly random permutation under
      the null and U has the tie-free Mann-Whitney law. That law is used exactly when the
      fold holds at most 8 rows of either sample, and through its normal approximation
      with continuity correction otherwise (scipy's ``method="auto"`` rule, pinned here):
      see the guarantee below. The reported AUC counts ties as 1/2.
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
    Guarantee: under the null that all rows are i.i.d. from one distribution, for every
    estimator, ``P(pvalue <= alpha) <= sum_k P(p_k <= alpha / K)`` (Bonferroni, valid
    under any dependence between the folds), where:

    * with ``metric="accuracy"`` each fold p-value is exact, so
      ``P(pvalue <= alpha) <= alpha`` at every sample size;
    * with ``metric="auc"`` a fold p-value is exact when the fold holds at most 8 rows of
      either sample, and asymptotic otherwise: ``P(p_k <= a) -> a`` as the fold grows. Its
      exact size, computed from the exact null law of U on a grid of folds from 9 to 100
      rows of one sample against up to 1,000 (9 to 40) or 400 (50 to 100) of the other,
      for ``a`` from 1e-4 to 0.2, is at most ``a`` for ``a <= 0.04`` (the continuity
      correction and the light tails of U make it conservative there) and at most
      ``1.022 a`` up to ``a = 0.2``. Hence ``P(pvalue <= alpha) <= alpha`` whenever
      ``alpha <= 0.04 K`` (``alpha <= 0.2`` with the default K = 5) for folds of those
      sizes, and approximately for larger folds, where the normal approximation is closer
      still.

    When the fold p-values are nearly independent the size is close to, and not above,
    alpha; when they are strongly dependent the test is conservative. Power depends on the
    estimator learning the difference. SciPy has no classifier test; each AUC fold p-value
    equals ``scipy.stats.mannwhitneyu`` on the tie-broken ranks.

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


def _distinct_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pooled rows (sorted), how often each occurs, and how often in ``x``.

    The first two depend on the pooled rows only as a multiset, so whatever is computed
    from them is the same for every reordering of the pooled sample and every split is
    scored by one fixed function of its counts: the permutation tests' exactness rests on
    this. Counts are float64, ready for matrix products.
    """
    # Adding 0.0 turns -0.0 into 0.0, so rows equal as numbers are equal as bytes too.
    pooled = np.vstack([x, y]) + 0.0
    rows, inverse, counts = np.unique(pooled, axis=0, return_inverse=True, return_counts=True)
    in_x = np.bincount(inverse.reshape(-1)[: x.shape[0]], minlength=rows.shape[0])
    return rows, counts.astype(np.float64), in_x.astype(np.float64)


def _squared_distances(rows: np.ndarray) -> np.ndarray:
    """(u, u) squared Euclidean distances between the rows, exact zeros on the diagonal."""
    # Centring first keeps ||a||^2 + ||b||^2 - 2 a.b from cancelling when the data sit far
    # from the origin.
    centred = rows - rows.mean(axis=0)
    norms = np.einsum("ij,ij->i", centred, centred)
    gram = centred @ centred.T
    _kernel_module(gram.size).gram_to_sq_dist(gram, norms)
    return gram


def _positive_pair_values(sq_dist: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The positive squared distances over all pairs ``i < j`` of pooled rows, each
    repeated ``counts[i] * counts[j]`` times (``_kernels.positive_pair_values``)."""
    return _kernel_module(sq_dist.size).positive_pair_values(sq_dist, counts)


def _kernel_module(work: int) -> Any:
    """numba's kernels, or their NumPy twins on small data (no numba import)."""
    if work <= _small_kernels.SMALL_WORK:
        return _small_kernels
    from shiftguard.stats import _kernels

    return _kernels


def _median_bandwidth(positive: np.ndarray, n_pairs: int) -> float:
    """``sqrt(median / 2)`` over ``n_pairs`` squared distances, ``positive`` the non-zero ones.

    ``median`` is their lower median: alibi-detect's ``sigma_median`` sorts the whole
    (x = y) matrix and takes index ``size + (size^2 - size) // 2 - 1``, past the ``size``
    diagonal zeros, among the pairs that each appear twice, which is the lower median of
    the ``size (size - 1) / 2`` pairs. When that is 0 (over half of the pairs coincide) the
    lower median of the positive values is used; with none, every bandwidth gives the same
    kernel and 1 is returned.
    """
    if positive.size == 0:
        return 1.0
    k = (n_pairs - 1) // 2 - (n_pairs - positive.size)
    if k < 0:
        k = (positive.size - 1) // 2
    positive.partition(k)  # in place: every caller passes a fresh temporary
    return math.sqrt(0.5 * float(positive[k]))


def _rowwise_sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a - b
    return np.einsum("ij,ij->i", diff, diff)


def _pair_sums(
    matrix: np.ndarray, counts: np.ndarray, in_x: np.ndarray
) -> tuple[float, float, float]:
    """Sums of ``M`` over pairs ``i != j`` of pooled rows within x, within y, and across.

    ``matrix`` holds the kernel (or distance) between distinct rows, diagonal included
    (the value for two copies of one row); ``counts`` and ``in_x`` say how often each
    occurs in the pooled sample and in x.
    """
    in_y = counts - in_x
    diagonal = matrix.diagonal()
    to_x, to_y = (matrix @ np.stack([in_x, in_y], axis=1)).T
    return (
        float(in_x @ to_x - in_x @ diagonal),
        float(in_y @ to_y - in_y @ diagonal),
        float(in_x @ to_y),
    )


def _mmd2_from_sums(s_xx: float, s_yy: float, s_xy: float, n: int, m: int) -> float:
    return s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * s_xy / (n * m)


def _energy_from_sums(s_xx: float, s_yy: float, s_xy: float, n: int, m: int) -> float:
    return 2.0 * s_xy / (n * m) - s_xx / n**2 - s_yy / m**2


def _mmd2_form_weights(n: int, m: int) -> tuple[int, int]:
    """``(w_q, w_r)`` with ``n (n-1) m (m-1) MMD_u^2 = w_q q + w_r r + const`` for every split.

    With ``q`` the within-x sum and ``r`` the sum over (x row, any other row) of
    :func:`_quadratic_forms`, the cross sum is ``r - q`` and the within-y sum
    ``total - 2 r + q``.
    """
    return m * (m - 1) + n * (n - 1) + 2 * (n - 1) * (m - 1), -2 * (n - 1) * (n + m - 1)


def _energy_form_weights(n: int, m: int) -> tuple[int, int]:
    """``(w_q, w_r)`` with ``n^2 m^2 E / (n + m) = w_q q + w_r r + const`` for every split."""
    return -(n + m), 2 * n


def _quadratic_forms(
    splits: np.ndarray, matrix: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``q = c'Mc - c.diag(M)`` and ``r = c.(M counts - diag(M))`` for each row ``c`` of splits.

    ``c`` counts the copies of each distinct row that a split sends to x: ``q`` is then the
    sum of ``M`` over pairs ``i != j`` within x and ``r`` over pairs (x row, any other row).
    """
    diagonal = matrix.diagonal()
    q = np.einsum("bi,bi->b", splits @ matrix, splits) - splits @ diagonal
    r = splits @ (matrix @ counts - diagonal)
    return q, r


def _permuted_quadratic_forms(
    matrix: np.ndarray,
    counts: np.ndarray,
    n: int,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_quadratic_forms` of B splits of the pooled rows by uniform random permutations.

    Each permutation is a random arrangement of n ones (x) and m zeros over the n + m
    positions; the positions are exchangeable, so giving distinct row k the next
    ``counts[k]`` positions yields the law of how many of its copies go to x. A batch of
    permutations is one matrix product.
    """
    size = int(counts.sum())
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
    membership = np.zeros(size)
    membership[:n] = 1.0
    q = np.empty(n_permutations)
    r = np.empty(n_permutations)
    for start in range(0, n_permutations, _PERMUTATION_BATCH):
        stop = min(start + _PERMUTATION_BATCH, n_permutations)
        a = rng.permuted(np.broadcast_to(membership, (stop - start, size)), axis=1)
        splits = a if counts.size == size else np.add.reduceat(a, starts, axis=1)
        q[start:stop], r[start:stop] = _quadratic_forms(splits, matrix, counts)
    return q, r


def _round_to_integer_grid(matrix: np.ndarray, n_rows: int) -> None:
    """Scale ``matrix`` (entries >= 0) in place to a largest entry of ``2^p``; round to integers.

    ``p = 53 - 2 L`` with ``L`` the bit length of ``n_rows``. A quadratic form of
    :func:`_quadratic_forms` over ``n_rows`` pooled rows adds at most ``n_rows^2 < 2^(2L)``
    such non-negative integers, so every partial sum is an integer below 2^53, which
    float64 holds exactly: BLAS computes each form without rounding error, in any order,
    with or without fused multiply-adds.
    """
    top = float(matrix.max())
    if top > 0.0:
        matrix /= top
        matrix *= math.ldexp(1.0, 53 - 2 * n_rows.bit_length())
        np.rint(matrix, out=matrix)


def _exact_permutation_pvalue(
    matrix: np.ndarray,
    counts: np.ndarray,
    in_x: np.ndarray,
    weights: tuple[int, int],
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[float, int]:
    """Besag-Clifford sequential p-value (:mod:`shiftguard.stats.montecarlo`) of
    ``S = w_q q + w_r r`` over at most ``n_permutations`` splits, every comparison exact,
    and the number of splits drawn.

    ``matrix`` (overwritten) is first rounded by :func:`_round_to_integer_grid`, so the
    ``q`` and ``r`` of every split are exact integers; ``S_b - S_0`` can exceed 2^63 and is
    formed in Python integers. The sequential rule stops once 20 splits reach ``S_0``, so a
    null comparison costs a few dozen permutations instead of ``n_permutations``.
    """
    from shiftguard.stats.montecarlo import sequential_pvalue

    _round_to_integer_grid(matrix, int(counts.sum()))
    q0, r0 = _quadratic_forms(in_x[None, :], matrix, counts)
    n_x = int(in_x.sum())
    w_q, w_r = weights

    def reaches_observed(size: int) -> np.ndarray:
        q, r = _permuted_quadratic_forms(matrix, counts, n_x, size, rng)
        dq = (q - q0).astype(np.int64).astype(object)
        dr = (r - r0).astype(np.int64).astype(object)
        return (w_q * dq + w_r * dr >= 0).astype(np.float64)

    return sequential_pvalue(1.0, reaches_observed, n_permutations, rtol=0.0)


def permutation_pvalue(observed: float, permuted: np.ndarray) -> float:
    """``(1 + #{T_b >= T}) / (1 + B)`` counting ``T_b`` within ``1e-9 |T|`` of ``T`` as ties.

    Valid (``P(pvalue <= alpha) <= alpha`` under exchangeability) when a permuted statistic
    that equals the observed one in exact arithmetic comes out within that tolerance, e.g.
    when both are computed by the same float64 code from exactly representable values
    (rank statistics); widening ties only raises the p-value. :func:`mmd_test` and
    :func:`energy_test` compare in exact integer arithmetic instead, because their sums
    of kernel entries in different orders can miss exact ties by more.
    """
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
    """One fold's held-out AUC or accuracy and its p-value given the other folds."""
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
    """Held-out AUC (ties count 1/2) and its one-sided Mann-Whitney p-value.

    Ties are broken by an independent uniform key before ranking, so the ranks are a
    uniformly random permutation under the null and ``mannwhitneyu`` sees no ties. Its
    law of U is used exactly up to 8 rows of either sample, through the normal
    approximation (with continuity correction) above.
    """
    cur, ref = labels == 1, labels == 0
    midranks = stats.rankdata(scores)
    u_mid = midranks[cur].sum() - cur.sum() * (cur.sum() + 1) / 2.0
    auc = float(u_mid / (cur.sum() * ref.sum()))
    order = np.lexsort((rng.random(scores.size), scores))
    ranks = np.empty(scores.size)
    ranks[order] = np.arange(1, scores.size + 1)
    exact = min(cur.sum(), ref.sum()) <= _MANN_WHITNEY_EXACT_MAX_ROWS
    p = stats.mannwhitneyu(ranks[cur], ranks[ref], alternative="greater",
                           method="exact" if exact else "asymptotic").pvalue
    return auc, float(p)

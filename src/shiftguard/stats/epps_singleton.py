"""Epps-Singleton two-sample test based on the empirical characteristic function.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from shiftguard.errors import InputError
from shiftguard.stats.cvm import Seed
from shiftguard.stats.ks import wasserstein_effect
from shiftguard.stats.montecarlo import (
    count_permutation_test,
    pooled_value_counts,
    smaller_sample,
)

# Eigenvalues of the pooled covariance below this share of the largest are rounding noise
# (exact zeros when the data take at most 2 len(t) distinct values): their directions are
# dropped and the degrees of freedom reduced accordingly.
_RANK_RTOL = 1e-10
# "auto" keeps the permutation p-value unless both the smaller sample and the number of
# distinct pooled values exceed these: there the chi-squared law was within three binomial
# standard errors of nominal in our simulations, and B = 9,999 relabellings cost about
# 0.4 s per 1,000 values of the smaller sample.
_ASYMPTOTIC_MIN_SIZE = 1000
_ASYMPTOTIC_MIN_VALUES = 200
_SMALL_SAMPLE = 25  # Epps and Singleton's correction applies below this size


def epps_singleton_test(
    x: Any,
    y: Any,
    t: Sequence[float] = (0.4, 0.8),
    method: str = "auto",
    n_permutations: int = 9999,
    seed: Seed = None,
) -> TestResult:
    """Epps-Singleton test based on the empirical characteristic function.

    Null hypothesis: ``x`` and ``y`` are independent samples from one distribution
    (continuous or discrete). With ``g(z) = (cos(s z), sin(s z))`` at the points
    ``s = t / sigma`` (``sigma`` the pooled semi-interquartile range) and ``d`` the
    difference of the two samples' mean ``g``, the statistic is the Hotelling-type form

        W = n m / N * d' S^+ d,

    with ``S`` the covariance of ``g`` pooled over both samples (each centred on its own
    mean) and ``^+`` the pseudo-inverse; the degrees of freedom ``r`` are the rank of ``S``
    (``2 len(t)`` unless the data take few distinct values). When both samples have fewer
    than 25 values, ``W`` is multiplied by Epps and Singleton's small-sample correction.

    p-value and its guarantee (``P(p <= alpha) <= alpha`` under the null hypothesis):

    - ``method="permutation"``: ``(1 + #{b : W_b >= W}) / (1 + B)`` over
      ``B = n_permutations`` seeded random relabellings of the pooled sample, valid at every
      sample size and for every ``B`` (Phipson and Smyth, 2010), with or without ties.
    - ``method="asymptotic"``: chi-squared with ``r`` degrees of freedom, valid as both
      sizes grow. At alpha = 0.05 and 0.01 it was within three binomial standard errors of
      nominal from 1,001 values in the smaller sample (1,001 against 1,001 and against
      10,000; normal, exponential, lognormal, Cauchy, lognormal rounded to 0.1 and
      geometric(0.01) data; 4,000 repetitions each), but liberal below that, mostly at
      alpha = 0.01: 0.071 and 0.022 (alpha = 0.05 and 0.01) for normal data, 25 against 25;
      0.063 and 0.016 at 30 against 40; 0.053 and 0.017 at 200 against 20,000; 0.057 and
      0.019 for lognormal data, 30 against 3,000; 0.061 and 0.020 for Poisson(1) data, 200
      against 2,000. Below 25 values Epps and Singleton's correction makes it
      conservative: 0.034 at 10 against 15, 0.028 at 20 against 24 (alpha = 0.05).
    - ``method="auto"`` (default): permutation, unless the smaller sample has more than
      1,000 values and the pooled data more than 200 distinct values; then asymptotic.

    Where we differ from SciPy: :func:`scipy.stats.epps_singleton_2samp` estimates the
    covariance of each sample's ``g`` separately and weights them by the other sample's
    share. With unequal sizes that estimate is dominated by the smaller sample's noisy
    covariance and the chi-squared law fails: size 0.12 to 0.17 at alpha = 0.05 for
    normal data, 200 against 2,000 or 20,000; 0.33 for exponential data, 30 against 300;
    0.13 to 0.17 for Poisson data, 200 against 2,000. Under the null hypothesis both
    samples share one covariance, so we estimate it from both. With equal sizes the two
    estimates coincide, and statistic and asymptotic p-value equal SciPy's (up to the
    rounding of the pseudo-inverse, which we take from an eigendecomposition, dropping
    directions whose eigenvalue is below 1e-10 of the largest). SciPy has no permutation
    p-value.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite, at least 5 values each.
    t
        Positive evaluation points.
    method
        ``"auto"``, ``"permutation"`` or ``"asymptotic"``.
    n_permutations, seed
        Number of random relabellings and their seed (or Generator), for the permutation
        p-value: equal input and seed give equal output.

    Returns
    -------
    TestResult
        ``method="epps_singleton"``; ``n_permutations`` is set when the p-value is by
        permutation.

    Notes
    -----
    With the covariance ``S_0 = S + (n m / N^2) d d'`` of ``g`` over the pooled sample,
    which no relabelling changes, ``W_0 = n m / N * d' S_0^+ d = W / (1 + W / N)`` is an
    increasing function of ``W``, so relabellings are ranked by ``W_0``: a squared norm of
    the sum of whitened, centred ``g`` over one sample, computed per distinct value.

    References
    ----------
    Epps, T. W. and Singleton, K. J. (1986). An omnibus test for the two-sample problem
    using the empirical characteristic function. Journal of Statistical Computation and
    Simulation 26, 177-203.
    Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
    Statistical Applications in Genetics and Molecular Biology 9(1), article 39.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.poisson(1.0, size=200), rng.poisson(1.0, size=2000)
    >>> res = epps_singleton_test(ref, cur, n_permutations=999, seed=1)
    >>> res.n_permutations, bool(res.pvalue > 0.01)
    (999, True)
    """
    from scipy.stats import chi2

    xs = as_float_array(x, "x", min_size=5)
    ys = as_float_array(y, "y", min_size=5)
    points = tuple(check_positive_number(v, "t") for v in np.atleast_1d(np.asarray(t)).tolist())
    check_choice(method, "method", ("auto", "permutation", "asymptotic"))
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    quartiles = np.percentile(np.concatenate([xs, ys]), [25.0, 75.0])
    if quartiles[1] == quartiles[0]:
        # ``t`` is scaled by the pooled semi-interquartile range, which must not be zero.
        raise InputError(
            "x and y together have a zero interquartile range (more than half the values "
            "are equal); the Epps-Singleton test is undefined: use ks_test or chi2_test"
        )
    values, counts_x, pooled = pooled_value_counts(xs, ys)
    n_x, n_y = xs.size, ys.size
    total = n_x + n_y
    angles = np.outer(values, np.asarray(points) / ((quartiles[1] - quartiles[0]) / 2.0))
    g = np.hstack([np.cos(angles), np.sin(angles)])
    share = pooled / total
    centred = g - share @ g
    eigenvalues, eigenvectors = np.linalg.eigh((centred * share[:, None]).T @ centred)
    keep = eigenvalues > _RANK_RTOL * eigenvalues[-1]
    if not keep.any():
        raise InputError("the characteristic-function components are constant on x and y; "
                         "the Epps-Singleton test is undefined for these t")
    # Rows: whitened, centred g of each distinct value; W_0 = N / (n m) |sum over a sample|^2.
    whitened = centred @ (eigenvectors[:, keep] / np.sqrt(eigenvalues[keep]))
    # W_0 is symmetric in the two samples (their sums cancel).
    counts, size = smaller_sample(counts_x, pooled)
    scale = total / (n_x * n_y)

    def pooled_form(block: np.ndarray) -> np.ndarray:
        sums = block @ whitened
        return scale * np.einsum("ij,ij->i", sums, sums)

    if method == "auto":
        large = size > _ASYMPTOTIC_MIN_SIZE and values.size > _ASYMPTOTIC_MIN_VALUES
        method = "asymptotic" if large else "permutation"
    if method == "permutation":

        def pooled_form_of_values(received: np.ndarray) -> np.ndarray:
            # Component by component: the gathered block stays (b, k), not (b, k, r).
            sums = np.stack([column[received].sum(axis=1) for column in whitened.T], axis=1)
            return scale * np.einsum("ij,ij->i", sums, sums)

        observed, pvalue, drawn = count_permutation_test(
            counts, pooled, pooled_form, pooled_form_of_values, n_permutations, as_rng(seed)
        )
    else:
        observed = float(pooled_form(counts[None, :])[0])
    # W = W_0 / (1 - W_0 / N); W_0 = N exactly when each sample is constant on the g scale.
    statistic = np.inf if observed >= total * (1.0 - 1e-12) else observed / (1.0 - observed / total)
    if max(n_x, n_y) < _SMALL_SAMPLE:
        statistic /= 1.0 + total**-0.45 + 10.1 * (n_x**-1.7 + n_y**-1.7)
    if method == "asymptotic":
        pvalue = float(chi2.sf(statistic, int(keep.sum())))
    return TestResult(
        "epps_singleton",
        float(statistic),
        pvalue,
        wasserstein_effect(np.sort(xs), np.sort(ys)),
        drawn if method == "permutation" else None,
    )

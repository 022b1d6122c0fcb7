"""Relevance tests: has a distribution moved by *more than* a tolerance ``delta``?

A significance test answers "is there any difference at all?", which with enough rows is
always yes. These tests answer "is the difference larger than ``delta``?": they test

    H0: distance(P, Q) <= delta    against    H1: distance(P, Q) > delta,

so a rejection means the populations differ by more than ``delta`` with the stated error
rate. Both distances are shares of probability mass, on one scale from 0 to 1, so one
``delta`` means the same for numeric and categorical columns:

- numeric columns: the Kolmogorov-Smirnov distance ``sup_t |F(t) - G(t)|``, the largest
  difference between the shares of values below any threshold;
- categorical columns (and missing-value rates): the total-variation distance
  ``sup_A |P(A) - Q(A)| = 0.5 sum_j |p_j - q_j|``, the largest difference between the
  shares of any set of categories.

Each test inverts a finite-sample deviation bound for each sample and the triangle
inequality ``|d(P_n, Q_m) - d(P, Q)| <= d(P_n, P) + d(Q_m, Q)``; nothing is asymptotic,
and the same bound gives a confidence interval for the distance.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import as_float_array, check_alpha
from shiftguard.errors import ParameterError
from shiftguard.stats.categorical import checked_counts

__all__ = [
    "RelevanceResult",
    "ks_distance",
    "ks_relevance_from_distance",
    "ks_relevance_test",
    "tv_relevance_test_counts",
]


@dataclasses.dataclass(frozen=True)
class RelevanceResult(TestResult):
    """Outcome of a relevance test: ``statistic`` is the sample distance, ``pvalue`` that of
    H0: distance <= ``delta``, and ``ci_low``/``ci_high`` a ``1 - alpha`` confidence
    interval for the population distance (simultaneous with the test: the test rejects at
    level ``alpha`` exactly when ``ci_low > delta``)."""

    delta: float = 0.0
    ci_low: float = 0.0
    ci_high: float = 1.0


def _result(method: str, distance: float, slack: float, scale: float, n_events: float,
            delta: float, alpha: float) -> RelevanceResult:
    """Invert ``P(|d_hat - d| > slack + scale * sqrt(log(n_events / a))) <= a``."""
    excess = distance - delta - slack
    pvalue = 1.0 if excess <= 0.0 else min(1.0, n_events * math.exp(-((excess / scale) ** 2)))
    half_width = slack + scale * math.sqrt(math.log(n_events / alpha))
    return RelevanceResult(
        method, distance, pvalue, distance, delta=delta,
        ci_low=max(0.0, distance - half_width), ci_high=min(1.0, distance + half_width),
    )


def _scale(n: float, m: float) -> float:
    return 1.0 / math.sqrt(2.0 * n) + 1.0 / math.sqrt(2.0 * m)


def ks_relevance_test(x: Any, y: Any, delta: float, alpha: float = 0.05) -> RelevanceResult:
    """Test whether the Kolmogorov-Smirnov distance between two populations exceeds ``delta``.

    Null hypothesis: ``sup_t |F(t) - G(t)| <= delta`` for the distribution functions ``F``
    of the reference and ``G`` of the current population; ``delta = 0`` is the usual
    two-sample null (then prefer :func:`~shiftguard.stats.ks_test`, which is more
    powerful).

    Guarantee: finite-sample, for any distributions (continuous, discrete or mixed; ties
    allowed) and any sizes ``n``, ``m``, for independent draws within each sample:
    ``P(p <= a) <= a`` whenever the null holds. By the Dvoretzky-Kiefer-Wolfowitz
    inequality with Massart's constant, ``P(sup |F_n - F| > e) <= 2 exp(-2 n e^2)``; with
    ``a/2`` spent on each sample the sample distance exceeds the true one by more than
    ``e_n + e_m``, ``e_n = sqrt(log(4/a) / (2n))``, with probability at most ``a``, so
    ``p = 4 exp(-(D - delta)^2 / c^2)``, ``c = 1/sqrt(2n) + 1/sqrt(2m)``. The interval
    ``D -/+ (e_n + e_m)`` at ``a = alpha`` covers the distance with probability at least
    ``1 - alpha``. The bound is conservative: a distance of ``delta + 2.5 c`` is needed
    before ``p`` falls below 0.05 (at ``n = m = 10,000``, ``delta + 0.025``).

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite, not empty.
    delta
        The tolerance, in [0, 1).
    alpha
        Level of the confidence interval.

    References
    ----------
    Massart, P. (1990). The tight constant in the Dvoretzky-Kiefer-Wolfowitz inequality.
    Annals of Probability 18, 1269-1283.
    Wellek, S. (2010). Testing Statistical Hypotheses of Equivalence and Noninferiority,
    2nd ed. (tests of relevant differences).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = ks_relevance_test(rng.normal(size=20000), rng.normal(0.5, 1, 20000), 0.1)
    >>> bool(res.pvalue < 0.05), round(res.statistic, 2)
    (True, 0.2)
    """
    xs = np.sort(as_float_array(x, "x"))
    ys = np.sort(as_float_array(y, "y"))
    return ks_relevance_from_distance(ks_distance(xs, ys), xs.size, ys.size, delta, alpha)


def ks_relevance_from_distance(distance: float, n: int, m: int, delta: float,
                               alpha: float = 0.05) -> RelevanceResult:
    """:func:`ks_relevance_test` from the sample KS distance and the two sample sizes
    (e.g. the statistic :func:`~shiftguard.stats.ks_test_many` already computed)."""
    delta = check_delta(delta)
    check_alpha(alpha)
    return _result("ks_relevance", float(distance), 0.0, _scale(n, m), 4.0, delta, alpha)


def ks_distance(x_sorted: np.ndarray, y_sorted: np.ndarray) -> float:
    """``sup_t |F_n(t) - G_m(t)|`` of two sorted samples (ties handled: both ECDFs are
    evaluated at every pooled value)."""
    pooled = np.concatenate([x_sorted, y_sorted])
    cdf_x = np.searchsorted(x_sorted, pooled, side="right") / x_sorted.size
    cdf_y = np.searchsorted(y_sorted, pooled, side="right") / y_sorted.size
    return float(np.max(np.abs(cdf_x - cdf_y)))


def tv_relevance_test_counts(
    ref_counts: Any, cur_counts: Any, delta: float, alpha: float = 0.05
) -> RelevanceResult:
    """Test whether the total-variation distance between two categorical populations
    exceeds ``delta``, from per-category counts.

    Null hypothesis: ``0.5 sum_j |p_j - q_j| <= delta`` for the category probabilities of
    the reference (``p``) and current (``q``) populations.

    Guarantee: finite-sample, for independent draws within each sample, over the ``k``
    categories given: ``P(p <= a) <= a`` whenever the null holds. The sample distance
    ``TV(p_n, p)`` changes by at most ``1/n`` when one draw changes, so McDiarmid's
    inequality gives ``P(TV(p_n, p) > E + t) <= exp(-2 n t^2)``, and
    ``E <= 0.5 sum_j sqrt(p_j (1 - p_j) / n) <= 0.5 sqrt((k - 1) / n)``. Spending ``a/2`` on
    each sample: ``p = 2 exp(-s^2 / c^2)`` with
    ``s = TV_hat - delta - 0.5 sqrt((k-1)/n) - 0.5 sqrt((k-1)/m)`` and
    ``c = 1/sqrt(2n) + 1/sqrt(2m)``. The bound grows with ``sqrt(k)``: with many rare
    categories the test is valid but needs a large sample to call anything relevant. The
    categories are taken as given (here: those observed in either sample, listed by the
    caller); categories never observed have negligible probability at these sizes. With
    ``k = 2`` (e.g. missing versus observed) the distance is the difference of two rates.

    Parameters
    ----------
    ref_counts, cur_counts
        Counts per category (same order), each sample non-empty.
    delta
        The tolerance, in [0, 1).
    alpha
        Level of the confidence interval.

    References
    ----------
    McDiarmid, C. (1989). On the method of bounded differences. Surveys in Combinatorics,
    148-188.
    Berend, D. and Kontorovich, A. (2013). A sharp estimate of the binomial mean absolute
    deviation with applications. Statistics & Probability Letters 83, 1254-1259.
    """
    ref, cur, _ = checked_counts(ref_counts, cur_counts, None)
    delta = check_delta(delta)
    check_alpha(alpha)
    n, m = float(ref.sum()), float(cur.sum())
    k = max(int(np.count_nonzero(ref + cur)), 2)
    distance = float(0.5 * np.abs(ref / n - cur / m).sum())
    slack = 0.5 * math.sqrt((k - 1) / n) + 0.5 * math.sqrt((k - 1) / m)
    return _result("tv_relevance", distance, slack, _scale(n, m), 2.0, delta, alpha)


def check_delta(delta: float) -> float:
    """``delta`` as a float in [0, 1), or an InputError naming ``min_effect``."""
    value = float(delta)
    if not 0.0 <= value < 1.0:
        raise ParameterError(
            f"min_effect must lie in [0, 1) (a share of probability mass), got {delta!r}")
    return value

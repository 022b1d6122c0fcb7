"""Mann-Whitney U (Wilcoxon rank-sum) test, one column or every column of a table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._threads import kernel_threads
from shiftguard._validation import (
    as_float_array,
    check_choice,
)
from shiftguard.stats.ks import ALTERNATIVES, SortedColumns, paired_columns, wasserstein_effect


def mannwhitney_test(
    x: Any,
    y: Any,
    alternative: str = "two-sided",
    method: str = "auto",
    use_continuity: bool = True,
) -> TestResult:
    """Mann-Whitney U (Wilcoxon rank-sum) test.

    Null hypothesis: ``x`` and ``y`` come from one distribution; the test is consistent
    against ``P(X > Y) != P(Y > X)`` (``"greater"``: ``P(X > Y) > P(Y > X)``). The statistic
    is ``U`` of ``x``, identical to :func:`scipy.stats.mannwhitneyu`.

    Guarantee: ``method="exact"`` (the ``"auto"`` choice when a sample has at most 8 values
    and there are no ties) is the exact permutation law, valid at every size for data
    without ties (it makes no tie correction, so ask for it only with continuous data).
    Otherwise the normal approximation with tie correction (and continuity correction when
    ``use_continuity``), valid as both sizes grow.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite, not empty.
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"``.
    method
        ``"auto"``, ``"asymptotic"`` or ``"exact"``.
    use_continuity
        Continuity correction of the normal approximation.

    References
    ----------
    Mann, H. B. and Whitney, D. R. (1947). On a test of whether one of two random variables
    is stochastically larger than the other. Annals of Mathematical Statistics 18, 50-60.
    """
    from scipy.stats import mannwhitneyu

    xs = as_float_array(x, "x")
    ys = as_float_array(y, "y")
    check_choice(alternative, "alternative", ALTERNATIVES)
    check_choice(method, "method", ("auto", "asymptotic", "exact"))
    res = mannwhitneyu(xs, ys, use_continuity=bool(use_continuity), alternative=alternative,
                       method=method)
    return TestResult(
        "mannwhitney",
        float(res.statistic),
        float(res.pvalue),
        wasserstein_effect(np.sort(xs), np.sort(ys)),
    )


def mannwhitney_test_many(
    reference: SortedColumns,
    current: SortedColumns | np.ndarray,
    alternative: str = "two-sided",
    method: str = "auto",
    use_continuity: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Whitney U test of every column against a presorted reference.

    Column ``j`` of ``current`` against column ``j`` of ``reference`` on their non-missing
    values; statistic (``U`` of the reference) and p-value equal
    ``scipy.stats.mannwhitneyu(ref_j, cur_j, use_continuity, alternative, method=method)``.
    Null hypothesis and guarantee as in :func:`mannwhitney_test`.

    Parameters
    ----------
    reference, current
        As in :func:`ks_test_many`.
    alternative, method, use_continuity
        As in :func:`mannwhitney_test`.

    Returns
    -------
    statistics, pvalues
        Two (d,) float64 arrays.

    Notes
    -----
    Midrank sums and tie terms come from one merge of the sorted columns (numba, columns
    in parallel); the normal approximation is vectorised. Columns for which the exact law
    applies (``method="exact"``, or ``"auto"`` with a sample of at most 8 values and no
    ties) are passed to SciPy one by one.
    """
    from scipy.special import ndtr
    from scipy.stats import mannwhitneyu

    from shiftguard.stats import _kernels

    check_choice(alternative, "alternative", ALTERNATIVES)
    check_choice(method, "method", ("auto", "asymptotic", "exact"))
    reference, current = paired_columns(reference, current)
    with kernel_threads(int(reference.n_valid.sum() + current.n_valid.sum())):
        rank_sum, tie_term, _ = _kernels.rank_statistics(
            reference.values, reference.n_valid, current.values, current.n_valid
        )
    n1 = reference.n_valid.astype(np.float64)
    n2 = current.n_valid.astype(np.float64)
    u1 = rank_sum - n1 * (n1 + 1) / 2
    if alternative == "greater":
        u, factor = u1, 1.0
    elif alternative == "less":
        u, factor = n1 * n2 - u1, 1.0
    else:
        u, factor = np.maximum(u1, n1 * n2 - u1), 2.0
    n = n1 + n2
    spread = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (u - n1 * n2 / 2 - (0.5 if use_continuity else 0.0)) / spread
    pvalues = np.clip(ndtr(-z) * factor, 0.0, 1.0)
    if method == "exact":
        exact = np.ones(n.shape, dtype=bool)
    elif method == "auto":
        exact = (np.minimum(n1, n2) <= 8) & (tie_term == 0)
    else:
        exact = np.zeros(n.shape, dtype=bool)
    for j in np.flatnonzero(exact):
        x = reference.values[: reference.n_valid[j], j]
        y = current.values[: current.n_valid[j], j]
        pvalues[j] = mannwhitneyu(x, y, use_continuity=bool(use_continuity),
                                  alternative=alternative, method="exact").pvalue
    return u1, pvalues

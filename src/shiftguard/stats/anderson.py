"""Two-sample (k = 2) Anderson-Darling test.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import (
    as_float_array,
    as_rng,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.stats.cvm import Seed, ecdf_gap_permutation_test
from shiftguard.stats.ks import wasserstein_effect
from shiftguard.stats.montecarlo import pooled_value_counts, smaller_sample


@dataclasses.dataclass(frozen=True)
class AndersonResult(TestResult):
    """Anderson-Darling result; ``pvalue_clipped`` says when the p-value is only a bound.

    ``pvalue_clipped`` is ``"floor"`` when the interpolated p-value was raised to 0.001 (the
    true p-value is at most 0.001, the reported one is conservative), ``"cap"`` when it was
    lowered to 0.25 (the true p-value is at least 0.25) and ``None`` otherwise (always
    ``None`` for a permutation p-value).
    """

    pvalue_clipped: str | None = None


def anderson_test(
    x: Any,
    y: Any,
    method: str = "auto",
    n_permutations: int = 9999,
    seed: Seed = None,
) -> AndersonResult:
    """Two-sample (k = 2) Anderson-Darling test, midrank version for data with ties.

    Null hypothesis: ``x`` and ``y`` are independent samples from one distribution
    (continuous or not). Statistic: Scholz and Stephens' (1987) midrank ``A2akN``,
    standardised as in :func:`scipy.stats.anderson_ksamp` (``(A2akN - 1) / sigma_N``), whose
    value we report.

    p-value and its guarantee (``P(p <= alpha) <= alpha`` under the null hypothesis):

    - ``method="interpolated"`` (the ``"auto"`` choice without ties) is SciPy's, equal to
      it: interpolated in a table of critical values of the asymptotic law and clipped to
      [0.001, 0.25]. Outside that range we follow SciPy and report the clip value, flagged
      in ``pvalue_clipped``: ``"floor"`` means the true p-value is below 0.001 (the reported
      0.001 is conservative, but too coarse for a multiple-testing correction over many
      columns); ``"cap"`` means it is above 0.25. Inside the range the value is approximate.
      Valid as both sizes grow; without ties the statistic is distribution-free, and at
      alpha = 0.05 and 0.01 the size was within three binomial standard errors of nominal
      in every design we ran, from 5 against 30 and 8 against 10 values (30 against 40,
      21 against 2,000, 200 against 20,000; 4,000 repetitions each).
    - ``method="permutation"`` (the ``"auto"`` choice with ties) is
      ``(1 + #{b : A_b >= A}) / (1 + B)`` over ``B = n_permutations`` seeded random
      relabellings of the pooled sample: valid at every sample size and for every ``B``
      (Phipson and Smyth, 2010), and not clipped.

    Where we differ from SciPy: SciPy's interpolated p-value is not valid with ties: its
    size at alpha = 0.05 was 0.08 to 0.10 on integers 0-3 (200 against 200 values, 1,000
    against 1,000) and on Poisson(2) counts (200 against 2,000), 2,000 repetitions each.
    So with ties ``"auto"`` uses the permutation p-value and
    ``method="interpolated"`` raises :class:`~shiftguard.errors.ParameterError`. With
    ``method="permutation"`` we draw the relabellings ourselves (see Notes), so the value
    differs from SciPy's ``PermutationMethod`` by Monte Carlo error only.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite; together at least 2 distinct values.
    method
        ``"auto"``, ``"interpolated"`` or ``"permutation"``.
    n_permutations, seed
        Number of random relabellings and their seed (or Generator), for the permutation
        p-value: equal input and seed give equal output.

    Returns
    -------
    AndersonResult
        ``method="anderson"``; ``n_permutations`` is set when the p-value is by permutation.

    Notes
    -----
    ``A2akN`` depends on the data only through the counts of each distinct value in each
    sample, so a relabelling is drawn as counts, at the cost given in
    :func:`~shiftguard.stats.cvm_test` (0.08 s for 10^6 rows taking 10 distinct values,
    B = 9,999).

    References
    ----------
    Scholz, F. W. and Stephens, M. A. (1987). K-sample Anderson-Darling tests. Journal of
    the American Statistical Association 82, 918-924.
    Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
    Statistical Applications in Genetics and Molecular Biology 9(1), article 39.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.integers(0, 4, size=1000), rng.integers(0, 4, size=1000)
    >>> res = anderson_test(ref, cur, seed=1)
    >>> res.n_permutations, res.pvalue_clipped, bool(res.pvalue > 0.01)
    (9999, None, True)
    """
    from scipy.stats import anderson_ksamp

    xs = as_float_array(x, "x")
    ys = as_float_array(y, "y")
    check_choice(method, "method", ("auto", "interpolated", "permutation"))
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    _, counts_x, pooled = pooled_value_counts(xs, ys)
    if pooled.size < 2:
        raise InputError("x and y together hold a single distinct value; the test needs two")
    tied = pooled.size < xs.size + ys.size
    if tied and method == "interpolated":
        raise ParameterError(
            "method='interpolated' is not valid with ties (its size exceeds alpha), but x "
            "and y share tied values; use method='auto' or 'permutation'"
        )
    kwargs: dict[str, Any] = (
        {"variant": "midrank"}
        if "variant" in inspect.signature(anderson_ksamp).parameters
        else {"midrank": True}
    )
    with warnings.catch_warnings():
        # SciPy warns when it clips the p-value; the result says so in ``pvalue_clipped``.
        warnings.filterwarnings("ignore", message="p-value (capped|floored)", category=UserWarning)
        res = anderson_ksamp([xs, ys], **kwargs)
    effect = wasserstein_effect(np.sort(xs), np.sort(ys))
    if method == "permutation" or tied:
        _, pvalue, drawn = _anderson_permutation(counts_x, pooled, n_permutations, as_rng(seed))
        return AndersonResult(
            "anderson", float(res.statistic), pvalue, effect, drawn
        )
    pvalue = float(res.pvalue)
    clipped = "floor" if pvalue <= 0.001 else "cap" if pvalue >= 0.25 else None
    return AndersonResult(
        "anderson", float(res.statistic), pvalue, effect, pvalue_clipped=clipped
    )


def _anderson_permutation(
    counts_x: np.ndarray, pooled: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float, int]:
    """Midrank ``A2akN``, its permutation p-value and the relabellings drawn, from counts.

    With ``N`` pooled values, ``l_j = pooled[j]`` of them equal to the j-th smallest
    distinct value, ``B_j`` the midpoint of the pooled ECDF jump there (in counts) and
    ``M_j`` that of the sample of size n whose counts are used (the other has size m):

        A2akN = (N - 1) / N^2 * (1/n + 1/m) * sum_j l_j (N M_j - n B_j)^2
                / (B_j (N - B_j) - N l_j / 4),

    Scholz and Stephens' eq. (7) with k = 2, both samples' terms being equal (so either
    sample's counts give it).
    """
    counts, size = smaller_sample(counts_x, pooled)
    total = int(pooled.sum())
    cumulative = np.cumsum(pooled)
    midpoints = cumulative - pooled / 2.0
    denominators = midpoints * (total - midpoints) - total * pooled / 4.0
    factor = (total - 1.0) / total**2 * (1.0 / size + 1.0 / (total - size))
    # 2 (N M_j - n B_j) = N (2 A_j - a_j) - n (2 C_j - l_j) is an integer.
    centre = size * (2 * cumulative - pooled)
    weights = factor * pooled / (4.0 * denominators)
    return ecdf_gap_permutation_test(counts, pooled, centre, weights, 1, n_permutations, rng)

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
from shiftguard.errors import InputError
from shiftguard.stats.ks import wasserstein_effect


@dataclasses.dataclass(frozen=True)
class AndersonResult(TestResult):
    """Anderson-Darling result; ``pvalue_clipped`` says when the p-value is only a bound.

    ``pvalue_clipped`` is ``"floor"`` when the interpolated p-value was raised to 0.001 (the
    true p-value is at most 0.001, the reported one is conservative), ``"cap"`` when it was
    lowered to 0.25 (the true p-value is at least 0.25) and ``None`` otherwise.
    """

    pvalue_clipped: str | None = None


def anderson_test(
    x: Any,
    y: Any,
    method: str = "interpolated",
    n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> AndersonResult:
    """Two-sample (k = 2) Anderson-Darling test, midrank version for data with ties.

    Null hypothesis: ``x`` and ``y`` come from one distribution. Statistic: Scholz and
    Stephens' normalised ``A2akN``, identical to :func:`scipy.stats.anderson_ksamp`.

    p-value and its guarantee:

    - ``method="interpolated"`` (default) is SciPy's: interpolated in a table of critical
      values of the asymptotic law and clipped to [0.001, 0.25]. Outside that range we
      follow SciPy and report the clip value, flagged in ``pvalue_clipped``: ``"floor"``
      means the true p-value is below 0.001 (the reported 0.001 is conservative, but too
      coarse for a multiple-testing correction over many columns); ``"cap"`` means it is
      above 0.25. Inside the range the value is approximate (a few percent), not exact.
    - ``method="permutation"`` computes ``(1 + #{A_perm >= A_obs}) / (1 + B)`` over
      ``n_permutations`` seeded random relabellings (via SciPy's ``PermutationMethod``),
      which is valid (``P(p <= alpha) <= alpha``) at every sample size under
      exchangeability; use it when small p-values matter.

    Parameters
    ----------
    x, y
        Reference and current samples, 1-D, finite; together at least 2 distinct values.
    method
        ``"interpolated"`` or ``"permutation"``.
    n_permutations, seed
        Number of random permutations and their seed, for ``method="permutation"``.

    References
    ----------
    Scholz, F. W. and Stephens, M. A. (1987). K-sample Anderson-Darling tests. Journal of
    the American Statistical Association 82, 918-924.
    """
    from scipy.stats import PermutationMethod, anderson_ksamp

    xs = as_float_array(x, "x")
    ys = as_float_array(y, "y")
    check_choice(method, "method", ("interpolated", "permutation"))
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    kwargs: dict[str, Any] = (
        {"variant": "midrank"}
        if "variant" in inspect.signature(anderson_ksamp).parameters
        else {"midrank": True}
    )
    if method == "permutation":
        kwargs["method"] = PermutationMethod(n_resamples=n_permutations, rng=as_rng(seed))
    if np.unique(np.concatenate([xs, ys])).size < 2:
        raise InputError("x and y together hold a single distinct value; the test needs two")
    with warnings.catch_warnings():
        # SciPy warns when it clips the p-value; the result says so in ``pvalue_clipped``.
        warnings.filterwarnings("ignore", message="p-value (capped|floored)", category=UserWarning)
        res = anderson_ksamp([xs, ys], **kwargs)
    pvalue = float(res.pvalue)
    clipped = None
    if method == "interpolated":
        clipped = "floor" if pvalue <= 0.001 else "cap" if pvalue >= 0.25 else None
    return AndersonResult(
        "anderson",
        float(res.statistic),
        pvalue,
        wasserstein_effect(np.sort(xs), np.sort(ys)),
        n_permutations if method == "permutation" else None,
        pvalue_clipped=clipped,
    )

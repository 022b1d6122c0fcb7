"""Multiple-testing control: adjusted p-values and rejection decisions.

=============  =======  ==================================================================
method         error    valid when
=============  =======  ==================================================================
bonferroni     FWER     any dependence between the p-values
holm           FWER     any dependence (uniformly more powerful than Bonferroni)
hochberg       FWER     independent or positively dependent (PRDS) p-values
bh             FDR      independent or PRDS p-values (Benjamini-Hochberg)
by             FDR      any dependence (Benjamini-Yekutieli)
=============  =======  ==================================================================

FWER is the probability of at least one false rejection; FDR the expected share of false
rejections among the rejections. Both hold at level ``alpha`` when each p-value of a true
null is valid (``P(p <= u) <= u``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array, check_alpha, check_choice
from shiftguard.errors import InputError

__all__ = ["adjust_pvalues", "reject"]

METHODS = ("bonferroni", "holm", "hochberg", "bh", "by")


def adjust_pvalues(pvalues: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: reject hypothesis ``i`` at level ``alpha`` iff ``adjusted[i] <= alpha``.

    Parameters
    ----------
    pvalues
        1-D array of p-values in [0, 1]; NaN is an error (a missing test must be dropped or
        decided explicitly, not silently left out of the family).
    method
        ``"bonferroni"``, ``"holm"``, ``"hochberg"``, ``"bh"`` or ``"by"``; what each controls
        and under which dependence is in the module docstring.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order, capped at 1. Holm's are non-decreasing and
        Hochberg's, BH's and BY's non-increasing along the sorted p-values (the step-down and
        step-up monotonisations), so the decisions are those of the original procedures.
        BH and BY equal :func:`scipy.stats.false_discovery_control`.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6, 65-70. Hochberg, Y. (1988). A sharper Bonferroni procedure for
    multiple tests of significance. Biometrika 75, 800-802. Benjamini, Y. and Hochberg, Y.
    (1995). Controlling the false discovery rate. JRSS B 57, 289-300. Benjamini, Y. and
    Yekutieli, D. (2001). The control of the false discovery rate in multiple testing under
    dependency. Annals of Statistics 29, 1165-1188.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    check_choice(method, "method", METHODS)
    p = _checked_pvalues(pvalues)
    m = p.size
    if m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ranks = np.arange(1, m + 1)
    sorted_p = p[order]
    if method == "holm":
        # Step-down: the i-th smallest is compared with alpha / (m - i + 1).
        adjusted = np.maximum.accumulate(sorted_p * (m - ranks + 1))
    elif method == "hochberg":
        # Step-up with Holm's constants.
        adjusted = np.minimum.accumulate((sorted_p * (m - ranks + 1))[::-1])[::-1]
    else:
        factor = m / ranks
        if method == "by":
            factor = factor * np.sum(1.0 / ranks)
        adjusted = np.minimum.accumulate((sorted_p * factor)[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def reject(pvalues: Any, alpha: float = 0.05, method: str = "holm") -> np.ndarray:
    """Boolean array: which hypotheses ``method`` rejects at level ``alpha``.

    ``alpha`` bounds the FWER (``"bonferroni"``, ``"holm"``, ``"hochberg"``) or the FDR
    (``"bh"``, ``"by"``) under the dependence stated in the module docstring.

    Examples
    --------
    >>> reject([0.001, 0.02, 0.5], alpha=0.05, method="holm").tolist()
    [True, True, False]
    """
    alpha = check_alpha(alpha)
    return adjust_pvalues(pvalues, method) <= alpha


def _checked_pvalues(pvalues: Any) -> np.ndarray:
    p = as_float_array(pvalues, "pvalues", ndim=1, min_size=0)
    outside = np.flatnonzero((p < 0.0) | (p > 1.0))
    if outside.size:
        i = int(outside[0])
        raise InputError(f"p-values must lie in [0, 1]; position {i} holds {p[i]!r}", "pvalues")
    return p

"""Cheap bounds of the in-memory KS p-value, for decisions that need no digits.

:func:`ks_pvalue_bound` bounds it from above (for tiny p-values, far below every
threshold); :func:`ks_not_significant_below` gives a statistic below which it is above a
level (for the upper ends of null columns' intervals, which only need to be "large").

Above SciPy's exact-method sizes the in-memory two-sided KS p-value
(:func:`shiftguard.stats.ks._ks_pvalues`, ``"auto"``) is the one-sample Kolmogorov law at
the effective size ``N = round(nm / (n + m))``: ``kstwo.sf(d, N)``, or ``2 P(D+_N >= d)``
(the exact Smirnov sum, O(N) per value) where SciPy evaluates it so. Both are at most
Massart's (1990) bound ``2 exp(-2 N d^2)``: the two-sided Dvoretzky-Kiefer-Wolfowitz
inequality ``P(D_N > d) <= 2 exp(-2 N d^2)`` holds for every ``N`` and ``d``, and the
one-sided ``P(D+_N >= d) <= exp(-2 N d^2)`` whenever ``exp(-2 N d^2) <= 1/2`` (both
distributions are continuous, so ``>`` and ``>=`` agree). The bound is used only where
``N d^2 >= 2.2`` (SciPy's own threshold of the Smirnov sum, far inside both conditions);
there the exact value falls below the bound by a relative ``2 d sqrt(N d^2) / 3`` or so
(Smirnov's expansion; 0.2% or more on the tests' grid), far above the sum's rounding error
(about ``1e-12``), covered with a margin of ``1e-9`` all the same.

Reference
---------
Massart, P. (1990). The tight constant in the Dvoretzky-Kiefer-Wolfowitz inequality.
Annals of Probability 18, 1269-1283.
"""

from __future__ import annotations

import functools

import numpy as np

#: ``N d^2`` from which the bound is used (SciPy's switch to the Smirnov sum).
_MIN_EXPONENT = 2.2
_MARGIN = 1.0 + 1e-9


def ks_pvalue_bound(d: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """An upper bound of the in-memory two-sided KS p-value of statistics ``d`` at sizes
    ``n`` and ``m`` (arrays), or ``inf`` where none is proven cheap: samples small enough
    for the exact permutation p-value, or ``N d^2 < 2.2``."""
    from shiftguard.stats.ks import _KS_MAX_AUTO_EXACT

    n, m = np.asarray(n, dtype=np.float64), np.asarray(m, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    size = np.round(n * m / (n + m))
    exponent = size * d * d
    usable = (np.maximum(n, m) > _KS_MAX_AUTO_EXACT) & (exponent >= _MIN_EXPONENT)
    return np.where(usable, _MARGIN * 2.0 * np.exp(-2.0 * exponent), np.inf)


@functools.lru_cache(maxsize=1024)
def ks_not_significant_below(n: int, m: int, level: float) -> tuple[float, float] | None:
    """A statistic ``d_c`` and its in-memory p-value ``p_c > level`` at sizes ``n``, ``m``:
    every statistic up to ``d_c`` has a p-value of at least ``p_c`` (the p-value is
    non-increasing in the statistic). ``None`` for samples small enough for the exact
    permutation p-value (its lattice). Found once per sizes and level (cached): SciPy's
    ``kstwo.isf`` at the effective size, lowered until the in-memory p-value confirms."""
    from scipy.stats import kstwo

    from shiftguard.stats import ks

    if max(n, m) <= ks._KS_MAX_AUTO_EXACT:
        return None
    d = float(kstwo.isf(level, round(n * m / (n + m)))) * (1.0 - 1e-6)
    for _ in range(8):
        p = float(ks._ks_pvalues(np.array([d]), np.array([0.0]), np.array([n]),
                                 np.array([m]), "two-sided", "auto")[1][0])
        if p > level:
            return d, p
        d *= 0.99
    return None

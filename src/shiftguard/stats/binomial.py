"""Exact (Clopper–Pearson) confidence bounds for binomial proportions, elementwise."""

from __future__ import annotations

import numpy as np


def clopper_pearson(successes: np.ndarray, trials: np.ndarray | int,
                    alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided exact interval at level ``1 - alpha`` for each ``successes / trials``.

    Guarantee: for any true proportion and any number of trials ``>= 1``, the interval
    covers it with probability at least ``1 - alpha`` (Clopper and Pearson, 1934; each
    tail at ``alpha / 2``). The bounds are 0 at zero successes and 1 at ``trials``.
    """
    from scipy.stats import beta

    s = np.asarray(successes, dtype=np.float64)
    t = np.broadcast_to(np.asarray(trials, dtype=np.float64), s.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(s > 0, beta.ppf(alpha / 2, s, t - s + 1), 0.0)
        hi = np.where(s < t, beta.ppf(1 - alpha / 2, s + 1, t - s), 1.0)
    return np.nan_to_num(lo), np.where(np.isnan(hi), 1.0, hi)


def clopper_pearson_upper(successes: np.ndarray, trials: np.ndarray,
                          delta: float) -> np.ndarray:
    """One-sided exact upper bound at level ``1 - delta``: ``P(p > bound) <= delta`` for any
    true proportion ``p``; 1 where every trial succeeded or there were none."""
    from scipy.stats import beta

    s = np.asarray(successes, dtype=np.float64)
    t = np.asarray(trials, dtype=np.float64)
    out = np.ones(s.shape)
    ok = (s < t) & (t > 0)
    out[ok] = beta.ppf(1.0 - delta, s[ok] + 1, t[ok] - s[ok])
    return out

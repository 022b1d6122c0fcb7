"""Random calibration/test splits of a fixed pool of conformity scores (shared by the
conformal validity tests)."""

import math

import numpy as np

from helpers import binomial_band
from shiftguard.conformal._quantile import conformal_quantile


def split_coverage(pool_scores, rng, *, alpha, n_cal, splits, chunk=2_000):
    """Coverage of one test point per random split with ``n_cal`` calibration points.

    Each split draws ``n_cal + 1`` distinct pool points uniformly (random keys, smallest
    ``n_cal + 1``), so the ``n_cal + 1`` scores are exchangeable.
    """
    out = []
    for start in range(0, splits, chunk):
        keys = rng.random((min(chunk, splits - start), pool_scores.shape[0]))
        draw = np.argpartition(keys, n_cal, axis=1)[:, : n_cal + 1]
        thresholds = conformal_quantile(pool_scores[draw[:, :n_cal]], alpha)
        out.append(pool_scores[draw[:, n_cal]] <= thresholds)
    return np.concatenate(out)


def check_split_coverage(covered, *, alpha, n_cal, exact):
    """Mean coverage >= 1 - alpha and <= 1 - alpha + 1/(n+1) (3 binomial SE); with tie-free
    scores also within 3 SE of the exact value ``k / (n + 1)``."""
    k = math.ceil((n_cal + 1) * (1 - alpha))
    exact_value = k / (n_cal + 1)
    lo, hi = binomial_band(exact_value, covered.size)
    mean = covered.mean()
    assert mean >= binomial_band(1 - alpha, covered.size)[0]
    assert mean <= 1 - alpha + 1 / (n_cal + 1) + (hi - exact_value)
    if exact:
        assert lo <= mean <= hi

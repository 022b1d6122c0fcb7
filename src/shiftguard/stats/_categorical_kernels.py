"""Numba kernel behind the categorical permutation tests (imported lazily: numba is slow to
import)."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def permuted_counts(codes: np.ndarray, n_draw: int, n_categories: int,
                    uniforms: np.ndarray) -> np.ndarray:
    """Category counts of ``n_draw`` rows drawn without replacement, once per row of
    ``uniforms`` (shape (B, n_draw)).

    Each draw is the first ``n_draw`` steps of a Fisher-Yates shuffle of ``codes`` (the
    pooled rows' category codes), driven by the given uniforms so that the caller's seeded
    Generator decides everything. The shuffle continues from the previous arrangement: the
    steps are uniform whatever the arrangement they start from, so every draw is a uniform
    random subset, independent of the others. O(n_draw + n_categories) per draw.
    """
    work = codes.copy()
    n = work.size
    out = np.zeros((uniforms.shape[0], n_categories), dtype=np.float64)
    for b in range(uniforms.shape[0]):
        for i in range(n_draw):
            j = i + int(uniforms[b, i] * (n - i))
            if j >= n:  # guards the u -> 1 rounding edge
                j = n - 1
            code = work[j]
            work[j] = work[i]
            work[i] = code
            out[b, code] += 1.0
    return out

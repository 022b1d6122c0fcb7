"""Nonconformity scores for classification and the interval result shared by regressors.

Every classification score here is computed for *every* candidate label at once, as an
``(n, K)`` matrix ``S`` with ``S[i, k]`` the score of label ``k`` at point ``i``. The
calibration score of a labelled point is ``S[i, y_i]`` and the prediction set is
``{k : S[i, k] <= threshold}``; using one formula for both is what makes the sets valid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
from numba import njit

from shiftguard._result import ResultMixin

CLASSIFICATION_SCORES = ("lac", "aps", "raps", "top_k")


def label_scores(
    proba: np.ndarray,
    method: str,
    *,
    u: np.ndarray | None = None,
    k_reg: int = 1,
    lambda_reg: float = 0.01,
) -> np.ndarray:
    """Score of every label for every row of ``proba`` (larger = less conforming).

    ``lac``
        ``1 - p_k`` (least ambiguous set-valued classifier; Sadinle et al., 2019).
    ``aps``
        Mass of the labels ranked strictly above ``k`` plus ``u * p_k`` (``u = 1`` when not
        randomised; Romano, Sesia and Candès, 2020).
    ``raps``
        ``aps`` plus ``lambda_reg * max(0, rank_k - k_reg)`` with 1-based ranks
        (Angelopoulos et al., 2021).
    ``top_k``
        The 1-based rank of ``k`` by probability (ties broken by column order).
    """
    if method == "lac":
        return 1.0 - proba
    u_row = np.ones(proba.shape[0]) if u is None else u
    kind = {"aps": 0, "raps": 1, "top_k": 2}[method]
    return _ranked_scores(proba, u_row, kind, int(k_reg), float(lambda_reg))


@njit(cache=True)
def _ranked_scores(
    proba: np.ndarray, u: np.ndarray, kind: int, k_reg: int, lambda_reg: float
) -> np.ndarray:
    """APS (kind 0), RAPS (1) and top-k (2) scores, one row at a time.

    Labels are ranked by decreasing probability, ties by column order (a stable sort).
    """
    n, n_classes = proba.shape
    out = np.empty((n, n_classes))
    for i in range(n):
        order = np.argsort(-proba[i], kind="mergesort")
        mass_above = 0.0
        for rank0 in range(n_classes):
            k = order[rank0]
            if kind == 2:
                out[i, k] = rank0 + 1.0
                continue
            score = mass_above + u[i] * proba[i, k]
            if kind == 1 and rank0 + 1 > k_reg:
                score += lambda_reg * (rank0 + 1 - k_reg)
            out[i, k] = score
            mass_above += proba[i, k]
    return out


@dataclasses.dataclass(frozen=True)
class PredictionIntervals(ResultMixin):
    """Prediction intervals ``[lower, upper]``, one per row; unpacks as ``lower, upper``.

    Attributes
    ----------
    lower, upper
        Interval end points (``-inf``/``+inf`` where the method can give no finite bound).
    alpha
        Target miscoverage.
    method
        Name of the procedure that made them.
    guarantee
        What the coverage statement is: ``"marginal"``, ``"marginal >= 1 - 2 alpha"``,
        ``"asymptotic"``, ...
    """

    lower: np.ndarray
    upper: np.ndarray
    alpha: float
    method: str
    guarantee: str

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.lower, self.upper))

    @property
    def width(self) -> np.ndarray:
        """Interval widths ``upper - lower``."""
        return self.upper - self.lower

    def covers(self, y: np.ndarray) -> np.ndarray:
        """Boolean array: does each interval contain the matching ``y``?"""
        y = np.asarray(y, dtype=np.float64)
        return (self.lower <= y) & (y <= self.upper)


def widened(
    lower: np.ndarray,
    upper: np.ndarray,
    below: np.ndarray | float,
    above: np.ndarray | float,
    alpha: float,
    method: str,
    guarantee: str,
) -> PredictionIntervals:
    """Intervals ``[lower - below, upper + above]``, both bounds rows of one new array.

    One allocation instead of two: for large inputs glibc then keeps the heap's pages from
    call to call, where two arrays made apart were trimmed and faulted in again (measured:
    about 550 minor page faults and 1.1 ms more per split-conformal call on 100,000 test
    points in a fresh process).
    """
    bounds = np.empty((2, len(lower)))
    np.subtract(lower, below, out=bounds[0])
    np.add(upper, above, out=bounds[1])
    return PredictionIntervals(bounds[0], bounds[1], alpha, method, guarantee)

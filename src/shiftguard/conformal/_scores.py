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
    n, n_classes = proba.shape
    order = np.argsort(-proba, axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    rank = np.empty_like(order)
    rank[rows, order] = np.arange(1, n_classes + 1)
    if method == "top_k":
        return rank.astype(np.float64)
    sorted_p = proba[rows, order]
    mass_above_sorted = np.cumsum(sorted_p, axis=1) - sorted_p
    mass_above = np.empty_like(proba)
    mass_above[rows, order] = mass_above_sorted
    u_col = np.ones((n, 1)) if u is None else u[:, None]
    scores = mass_above + u_col * proba
    if method == "raps":
        scores = scores + lambda_reg * np.maximum(0, rank - k_reg)
    return scores


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

"""Numba kernel behind :class:`~shiftguard.shift.recalibrate.VennAbers`: all isotonic fits
with one test point inserted, for every insertion position, in linear time.

The cumulative sum diagram of the sorted calibration blocks is ``P_i = (W_i, U_i)``
(counts and label sums, ``P_0 = (0, 0)``). A test point labelled 1 inserted after block
``j`` shifts the points to its right by ``(1, 1)``; its isotonic fit is the slope of the
greatest convex minorant over the inserted step, i.e. of the lower common tangent (the
bridge) of the lower hull of ``P_0..P_j`` and that of ``P_j + (1, 1) .. P_m + (1, 1)``.
Walking ``j`` from ``m`` down to 0, the left set only loses its last point and the right
set only gains a point above the previous bridge, so the bridge only turns clockwise and
both of its feet only move left: each foot walks ``O(m)`` steps in total. This is a
variant of the two-stack algorithm of Vovk, Petej and Fedorova (2015, Large-scale
probabilistic predictors with and without guarantees of validity, NeurIPS). Label 0 is
the same computation on the mirrored diagram.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _turn(x0: int, y0: int, x1: int, y1: int, x2: int, y2: int) -> int:
    """Cross product of ``(P1 - P0)`` and ``(P2 - P0)``: > 0 for a strict left turn."""
    return (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)


@nb.njit(cache=True)
def venn_abers_label_one(w: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of the isotonic fit at a test point labelled 1.

    ``w``, ``u``: int64 cumulative counts and label sums of the sorted blocks, with a
    leading 0 (length ``m + 1``). For every position ``j = 0..m`` (after block ``j``)
    returns integers ``num[j], den[j]`` with
    ``num[j] / den[j] = max_{a <= j} min_{b >= j} (u_b - u_a + 1) / (w_b - w_a + 1)``.
    Integer cross products are exact, so the feet found are the true ones and one
    division gives the correctly rounded fit. ``O(m)`` time.
    """
    size = w.shape[0]
    # Lower hull of every prefix P_0..P_i as a linked list: prev[i] is the vertex before
    # P_i on the hull of P_0..P_i (the stack below P_i when it was pushed).
    prev = np.empty(size, np.int64)
    stack = np.empty(size, np.int64)
    top = -1
    for i in range(size):
        while top >= 1 and _turn(w[stack[top - 1]], u[stack[top - 1]], w[stack[top]],
                                 u[stack[top]], w[i], u[i]) <= 0:
            top -= 1
        prev[i] = stack[top] if top >= 0 else -1
        top += 1
        stack[top] = i
    # Lower hull of the suffix P_j..P_m, grown leftwards: right[0] = m, right[top] = j.
    # The shift by (1, 1) does not change its shape, so it is applied only in the slopes.
    num = np.empty(size, np.int64)
    den = np.empty(size, np.int64)
    right = stack  # the prefix stack's memory, no longer needed
    top = -1
    a = size - 1  # left foot: an index on the hull of P_0..P_j
    foot = 0  # right foot: a slot of ``right``
    for j in range(size - 1, -1, -1):
        while top >= 1 and _turn(w[j], u[j], w[right[top]], u[right[top]],
                                 w[right[top - 1]], u[right[top - 1]]) <= 0:
            top -= 1
        if foot > top:  # the right foot was popped: the bridge now rests on the new point
            foot = top + 1
        top += 1
        right[top] = j
        a = min(a, j)
        # Both feet start at or right of the new bridge's. The left foot is walked to a
        # halt before every step of the right one: that keeps the slope at least the
        # bridge's, so the right foot cannot step past its own target either.
        while True:
            b = right[foot]
            bx = w[b] + 1
            by = u[b] + 1
            # the left foot's left neighbour strictly below the line through the feet:
            # stepping there raises the slope towards the tangent from P'_b
            while prev[a] >= 0 and _turn(w[prev[a]], u[prev[a]], w[a], u[a], bx, by) < 0:
                a = prev[a]
            if foot < top:
                c = right[foot + 1]
                # the right foot's left neighbour strictly below the line: stepping
                # there lowers the slope towards the tangent from P_a
                if _turn(w[a], u[a], w[c] + 1, u[c] + 1, bx, by) > 0:
                    foot += 1
                    continue
            break
        b = right[foot]
        num[j] = u[b] - u[a] + 1
        den[j] = w[b] - w[a] + 1
    return num, den

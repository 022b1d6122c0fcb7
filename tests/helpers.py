"""Helpers shared by tests (importable as ``helpers``: ``tests/`` is on pytest's pythonpath)."""

from __future__ import annotations

import math


def binomial_band(p: float, n: int, k: float = 3.0) -> tuple[float, float]:
    """Interval ``p +/- k`` binomial standard errors for a rate ``p`` seen in ``n`` trials."""
    se = math.sqrt(p * (1.0 - p) / n)
    return p - k * se, p + k * se

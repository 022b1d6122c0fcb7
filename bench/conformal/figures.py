"""How the conformal and inference reports write their figures (standard library only)."""

from __future__ import annotations

import statistics


def num(x: float) -> str:
    """Three significant digits, whole numbers from 100 up (no exponent)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def spread(values: list[float], suffix: str = "") -> str:
    """``median (min-max)`` of the values."""
    return (f"{num(statistics.median(values))}{suffix} "
            f"({num(min(values))}-{num(max(values))}{suffix})")

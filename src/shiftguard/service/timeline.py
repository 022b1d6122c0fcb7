"""Inline SVG line charts over a monitor's batches, for the dashboard.

Drawn on the server with the report's chart helpers (:mod:`shiftguard.report.charts`:
scales and round ticks), so the dashboard loads no script and no file from anywhere and
its charts look like the report's. A chart plots one value per batch step; batches that
raised an alarm get a red band across the chart, marked points a red dot, and missing
values (a column without an effect size, say) break the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shiftguard.report._format import esc
from shiftguard.report.charts import nice_ticks, scale, span

# Geometry in SVG user units (pixels at 100 % zoom).
_WIDTH = 560
_HEIGHT = 210
_LEFT = 56
_RIGHT = 14
_TOP = 26
_BOTTOM = 30
#: Above this many batches a chart draws the line only (and the marked points), so that
#: a page of 20 features by 1,000 batches stays small.
_MAX_POINTS = 100
#: The smallest p-value a log axis shows (0 and underflows are drawn there).
_P_FLOOR = 1e-300

CSS = """
svg .alarmband{fill:#c62828;fill-opacity:.14}
svg .series{fill:none;stroke:#3b75af;stroke-width:1.8}
svg .level{fill:none;stroke:#c62828;stroke-width:1.2;stroke-dasharray:4 3}
svg .pt{fill:#3b75af}svg .pt.mark{fill:#c62828;stroke:#fff;stroke-width:.8}
"""


@dataclass(frozen=True)
class Series:
    """What one chart shows: a value per step, the steps that alarmed, the points to mark.

    ``values`` may hold ``None`` (not measured at that step); ``level`` is an optional
    second, dashed line (the significance level each batch was given, say); ``notes``
    are the hover texts of the points.
    """

    steps: Sequence[int]
    values: Sequence[float | None]
    alarms: Sequence[bool]
    marked: Sequence[bool]
    notes: Sequence[str]
    level: Sequence[float] | None = None


def line_chart(series: Series, *, title: str, y_label: str, log_p: bool = False) -> str:
    """An SVG chart of ``series`` over the batch steps.

    ``log_p`` draws p-values on a log axis (1 at the top, smaller values lower; zeros
    at :data:`_P_FLOOR`), else the axis runs from 0 (or the smallest value) to the largest.
    """
    x_data = np.asarray(series.steps, dtype=np.float64)
    y_data = np.array([np.nan if v is None else v for v in series.values], dtype=np.float64)
    level = None if series.level is None else np.asarray(series.level, dtype=np.float64)
    if log_p:
        y_data, level = _log10(y_data), None if level is None else _log10(level)
    finite = y_data[np.isfinite(y_data)]
    if level is not None:
        finite = np.concatenate([finite, level[np.isfinite(level)]])
    if log_p:
        y_lo, y_hi = min(math.floor(float(finite.min())) if finite.size else -3.0, -3.0), 0.0
    else:
        y_lo = min(0.0, float(finite.min())) if finite.size else 0.0
        y_hi = float(finite.max()) * 1.08 if finite.size and finite.max() > 0 else 1.0
    y_lo, y_hi = span(y_lo, y_hi)
    x_lo, x_hi = span(x_data.min() - 0.5, x_data.max() + 0.5) if x_data.size else (0.0, 1.0)
    x = scale(x_lo, x_hi, _LEFT, _WIDTH - _RIGHT)
    y = scale(y_lo, y_hi, _HEIGHT - _BOTTOM, _TOP)
    parts = [_bands(x, x_data, series.alarms, x_hi - x_lo), _axes(x, y, x_lo, x_hi, y_lo, y_hi,
                                                                  log_p)]
    if level is not None:
        parts.append(f'<path class="level" d="{_path(x(x_data), y(level))}"/>')
    parts.append(f'<path class="series" d="{_path(x(x_data), y(y_data))}"/>')
    parts.append(_points(x(x_data), y(y_data), series))
    parts.append(f'<text x="{_LEFT}" y="15" class="ylabel">{esc(y_label)}</text>')
    return (f'<svg class="timeline" width="{_WIDTH}" height="{_HEIGHT}" '
            f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img"><title>{esc(title)}</title>'
            f'{"".join(parts)}</svg>')


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.log10(np.clip(values, _P_FLOOR, 1.0))


def _path(px: np.ndarray, py: np.ndarray) -> str:
    """A polyline through the finite points; a missing value starts a new piece."""
    out, pen_down = [], False
    for a, b in zip(px.tolist(), py.tolist(), strict=True):
        if not math.isfinite(b):
            pen_down = False
            continue
        out.append(f"{'L' if pen_down else 'M'}{a:.1f},{b:.1f}")
        pen_down = True
    return "".join(out) or "M0,0"


def _bands(x, steps: np.ndarray, alarms: Sequence[bool], width: float) -> str:
    alarmed = steps[np.asarray(alarms, dtype=bool)] if steps.size else steps
    step_px = max((_WIDTH - _LEFT - _RIGHT) / max(width, 1.0), 2.0)
    top, height = _TOP, _HEIGHT - _BOTTOM - _TOP
    return "".join(
        f'<rect class="alarmband" x="{px - step_px / 2:.1f}" y="{top}" width="{step_px:.1f}" '
        f'height="{height}"><title>alarm at batch {int(s)}</title></rect>'
        for s, px in zip(alarmed.tolist(), x(alarmed).tolist(), strict=True)
    )


def _points(px: np.ndarray, py: np.ndarray, series: Series) -> str:
    marked = np.asarray(series.marked, dtype=bool)
    shown = np.isfinite(py) & (marked | (px.size <= _MAX_POINTS))
    return "".join(
        f'<circle class="pt{" mark" if marked[i] else ""}" cx="{px[i]:.1f}" cy="{py[i]:.1f}" '
        f'r="{3.6 if marked[i] else 2.4}"><title>{esc(series.notes[i])}</title></circle>'
        for i in np.flatnonzero(shown).tolist()
    )


def _axes(x, y, x_lo: float, x_hi: float, y_lo: float, y_hi: float, log_p: bool) -> str:
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    y_ticks, y_labels = nice_ticks(y_lo, y_hi)
    if log_p:
        y_ticks = y_ticks[np.isclose(y_ticks, np.round(y_ticks))]
        y_labels = [_p_label(int(round(t))) for t in y_ticks.tolist()]
    x_ticks, _ = nice_ticks(max(x_lo, 0.5), x_hi)
    x_ticks = np.unique(np.round(x_ticks[x_ticks >= 1]))
    parts = [
        f'<line class="grid" x1="{_LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
        f'<text x="{_LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{label}</text>'
        for py, label in zip(y(y_ticks).tolist(), y_labels, strict=True)
    ]
    parts += [
        f'<line class="axis" x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 4}"/>'
        f'<text x="{px:.1f}" y="{bottom + 16}" text-anchor="middle">{int(t)}</text>'
        for px, t in zip(x(x_ticks).tolist(), x_ticks.tolist(), strict=True)
    ]
    parts.append(f'<text x="{right}" y="{bottom + 28}" text-anchor="end">batch</text>')
    parts.append(f'<path class="axis" fill="none" d="M{_LEFT},{_TOP}V{bottom}H{right}"/>')
    return "".join(parts)


def _p_label(exponent: int) -> str:
    return {0: "1", -1: "0.1", -2: "0.01"}.get(exponent, f"1e{exponent}")

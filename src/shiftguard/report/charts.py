"""Inline SVG charts of a column's profile: histogram, ECDF, share bars and sparklines.

Every chart is drawn from the report's small profiles (bin shares, 101 quantiles, top
category or term shares), never from the data, so a chart costs a few hundred bytes to a
few kilobytes. Datetime columns (values in seconds since the epoch) get date axes with
calendar-aligned ticks (midnights, first days of months, new years). The reference sample
is blue, the current one orange, on every chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from shiftguard.report._format import esc, fmt_date, truncate

if TYPE_CHECKING:
    from shiftguard.drift import ColumnDrift, ColumnProfile

Scale = Callable[[object], np.ndarray]

# Chart geometry in SVG user units (pixels at 100 % zoom).
_WIDTH = 440
_HEIGHT = 230
_LEFT = 48
_RIGHT = 14
_TOP = 30
_BOTTOM = 34
_LABEL_WIDTH = 150
_ROW_HEIGHT = 22
_MAX_LABEL_CHARS = 22
_MAX_LEGEND_CHARS = 24
# Sparklines in the results table.
_SPARK_WIDTH = 84
_SPARK_HEIGHT = 26
_SPARK_BARS = 8

# Thousands get a k from 10,000 on, so 0-2,000 axes keep plain 500, 1000, 1500 labels.
_SUFFIXES = ((1e9, "G", 1e9), (1e6, "M", 1e6), (1e3, "k", 1e4))
# Date tick steps in seconds (calendar months and years are handled apart), with the
# numpy datetime unit their labels are cut at.
_DAY = 86400
_DATE_STEPS = (
    (1, "s"), (2, "s"), (5, "s"), (10, "s"), (15, "s"), (30, "s"),
    (60, "m"), (120, "m"), (300, "m"), (600, "m"), (900, "m"), (1800, "m"),
    (3600, "m"), (7200, "m"), (10800, "m"), (21600, "m"), (43200, "m"),
    (_DAY, "D"), (2 * _DAY, "D"), (7 * _DAY, "D"), (14 * _DAY, "D"),
)
_MONTH_STEPS = (1, 2, 3, 6)
_DATE_TARGET_TICKS = 5


# -- figures ---------------------------------------------------------------------------


def histogram_figure(p: ColumnProfile, names: tuple[str, str]) -> str:
    """Both samples' shares per bin, the reference filled and the current outlined."""
    edges = np.asarray(p.bin_edges, dtype=np.float64)
    ref = np.asarray(p.reference_hist, dtype=np.float64)
    cur = np.asarray(p.current_hist, dtype=np.float64)
    if not (np.isfinite(edges).all() and np.isfinite(ref).all() and np.isfinite(cur).all()):
        return '<p class="muted">Histogram not available (non-finite profile).</p>'
    lo, hi = span(edges[0], edges[-1])
    top = max(float(ref.max()), float(cur.max()), 1e-12) * 1.08
    x = scale(lo, hi, _LEFT, _WIDTH - _RIGHT)
    y = scale(0.0, top, _HEIGHT - _BOTTOM, _TOP)
    xs, y0 = x(edges), _HEIGHT - _BOTTOM
    paths = "".join(
        f'<path class="{cls}" d="{bars_path(xs, y(shares), y0)}"/>'
        for cls, shares in (("ref", ref), ("curo", cur))
    )
    svg = _svg(_WIDTH, _HEIGHT, _axes(x, y, lo, hi, top, p.datetime) + paths
               + _legend(names, ("ref", "curo")))
    caption = ("Share of each sample's observed values per bin; bins span the 0.5-99.5 % "
               "quantile range of both samples, so the tails beyond are not drawn.")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def ecdf_figure(p: ColumnProfile, names: tuple[str, str]) -> str:
    """Both samples' empirical CDFs, drawn from their 101 percentiles."""
    ref_q = np.asarray(p.reference_quantiles, dtype=np.float64)
    cur_q = np.asarray(p.current_quantiles, dtype=np.float64)
    if ref_q.size < 2 or not (np.isfinite(ref_q).all() and np.isfinite(cur_q).all()):
        return '<p class="muted">ECDF not available.</p>'
    lo, hi = span(p.bin_edges[0], p.bin_edges[-1])
    x = scale(lo, hi, _LEFT, _WIDTH - _RIGHT)
    y = scale(0.0, 1.0, _HEIGHT - _BOTTOM, _TOP)
    paths = "".join(
        f'<path class="{cls}" d="{ecdf_path(x, y, q, lo, hi)}"/>'
        for cls, q in (("refl", ref_q), ("curl", cur_q))
    )
    svg = _svg(_WIDTH, _HEIGHT, _axes(x, y, lo, hi, 1.0, p.datetime) + paths
               + _legend(names, ("refl", "curl")))
    caption = ("Empirical CDF from each sample's percentiles (share of values at or below x) "
               "on the histogram's x range; a horizontal gap between the curves is a shift "
               "in value.")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def shares_figure(labels: Sequence[str], ref_share: Sequence[float],
                  cur_share: Sequence[float], names: tuple[str, str], *,
                  new: Sequence[str] = (), axis_label: str = "share of observed values",
                  caption: str) -> str:
    """Horizontal grouped bars of both samples' shares per label (categories or terms);
    labels in ``new`` are marked as unseen in the reference."""
    ref = np.asarray(ref_share, dtype=np.float64)
    cur = np.asarray(cur_share, dtype=np.float64)
    n = len(labels)
    height = _TOP + n * _ROW_HEIGHT + _BOTTOM
    top = max(float(ref.max()), float(cur.max()), 1e-12) * 1.05
    x0 = _LABEL_WIDTH
    x = scale(0.0, top, x0, _WIDTH - _RIGHT)
    ticks, tick_labels = nice_ticks(0.0, top, percent=True)
    grid = "".join(
        f'<line class="grid" x1="{px:.1f}" y1="{_TOP}" x2="{px:.1f}" y2="{height - _BOTTOM}"/>'
        f'<text x="{px:.1f}" y="{height - _BOTTOM + 14}" text-anchor="middle">{label}</text>'
        for px, label in zip(x(ticks), tick_labels, strict=True)
    )
    unseen = set(new)
    ref_w, cur_w = (x(ref) - x0).tolist(), (x(cur) - x0).tolist()
    rows = []
    for k, label in enumerate(labels):
        row_y = _TOP + k * _ROW_HEIGHT
        shown = truncate(label + (" (new)" if label in unseen else ""), _MAX_LABEL_CHARS)
        cls = ' class="new"' if label in unseen else ""
        rows.append(
            f"<g><title>{esc(label)}: {esc(names[0])} {ref[k]:.1%}, {esc(names[1])} "
            f"{cur[k]:.1%}</title>"
            f'<text x="{x0 - 6}" y="{row_y + 15}" text-anchor="end"{cls}>{esc(shown)}</text>'
            f'<rect class="ref" x="{x0}" y="{row_y + 3}" width="{ref_w[k]:.1f}" height="8"/>'
            f'<rect class="cur" x="{x0}" y="{row_y + 11}" width="{cur_w[k]:.1f}" height="8"/>'
            "</g>"
        )
    axis = (f'<line class="axis" x1="{x0}" y1="{_TOP}" x2="{x0}" y2="{height - _BOTTOM}"/>'
            f'<text x="{(x0 + _WIDTH - _RIGHT) / 2:.0f}" y="{height - 4}" '
            f'text-anchor="middle">{esc(axis_label)}</text>')
    svg = _svg(_WIDTH, height, grid + axis + "".join(rows) + _legend(names, ("ref", "cur")))
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def sparkline(c: ColumnDrift) -> str:
    """A table-row sized chart of both samples: histogram outlines for numeric and
    datetime columns, paired bars of the top category (or text term) shares."""
    p = c.profile
    if p.bin_edges and p.reference_hist:
        ref = np.asarray(p.reference_hist, dtype=np.float64)
        cur = np.asarray(p.current_hist, dtype=np.float64)
        if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
            return ""
        top = max(float(ref.max()), float(cur.max()), 1e-12)
        xs = scale(0, ref.size, 1, _SPARK_WIDTH - 1)(np.arange(ref.size + 1))
        y = scale(0.0, top, _SPARK_HEIGHT - 1, 2)
        low, high = p.bin_edges[0], p.bin_edges[-1]
        what = (f"from {fmt_date(low)} to {fmt_date(high)}" if p.datetime
                else f"from {low:.4g} to {high:.4g}")
        body = (f'<path class="ref" d="{bars_path(xs, y(ref), _SPARK_HEIGHT - 1)}"/>'
                f'<path class="curo" d="{bars_path(xs, y(cur), _SPARK_HEIGHT - 1)}"/>')
        return _spark_svg(f"histogram {what}", body)
    if p.categories:
        labels, ref_share, cur_share, what = (p.categories, p.reference_share,
                                              p.current_share, "category shares")
    elif p.text is not None and p.text.top_terms:
        labels, ref_share, cur_share, what = (p.text.top_terms, p.text.reference_term_share,
                                              p.text.current_term_share, "top-term shares")
    else:
        return ""
    k = min(len(labels), _SPARK_BARS)
    ref = np.asarray(ref_share[:k], dtype=np.float64)
    cur = np.asarray(cur_share[:k], dtype=np.float64)
    top = max(float(ref.max()), float(cur.max()), 1e-12)
    y = scale(0.0, top, _SPARK_HEIGHT - 1, 2)
    slot = (_SPARK_WIDTH - 2) / _SPARK_BARS
    lefts = 1 + slot * np.arange(k)
    bar = slot * 0.4
    body = "".join(
        f'<rect class="ref" x="{left:.1f}" y="{ry:.1f}" width="{bar:.1f}" '
        f'height="{_SPARK_HEIGHT - 1 - ry:.1f}"/>'
        f'<rect class="cur" x="{left + bar:.1f}" y="{cy:.1f}" width="{bar:.1f}" '
        f'height="{_SPARK_HEIGHT - 1 - cy:.1f}"/>'
        for left, ry, cy in zip(lefts.tolist(), y(ref).tolist(), y(cur).tolist(), strict=True)
    )
    shown = ", ".join(truncate(label, 12) for label in labels[:k])
    return _spark_svg(f"{what} of the {k} most frequent: {shown}", body)


# -- building blocks -------------------------------------------------------------------


def _svg(width: int, height: int, body: str) -> str:
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img">{body}</svg>')


def _spark_svg(title: str, body: str) -> str:
    return (f'<svg class="spark" width="{_SPARK_WIDTH}" height="{_SPARK_HEIGHT}" '
            f'viewBox="0 0 {_SPARK_WIDTH} {_SPARK_HEIGHT}" role="img">'
            f"<title>{esc(title)}; reference blue, current orange</title>{body}</svg>")


def _axes(x: Scale, y: Scale, x_lo: float, x_hi: float, y_hi: float, dates: bool) -> str:
    """Grid lines, tick labels and frame of a chart of shares (0 to ``y_hi``) over values
    (over dates when ``dates``)."""
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    x_ticks, x_labels = date_ticks(x_lo, x_hi) if dates else nice_ticks(x_lo, x_hi)
    y_ticks, y_labels = nice_ticks(0.0, y_hi, percent=True)
    parts = [
        f'<line class="grid" x1="{_LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
        f'<text x="{_LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{label}</text>'
        for py, label in zip(y(y_ticks), y_labels, strict=True)
    ]
    parts += [
        f'<line class="axis" x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 4}"/>'
        f'<text x="{px:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>'
        for px, label in zip(x(x_ticks), x_labels, strict=True)
    ]
    parts.append(f'<path class="axis" fill="none" d="M{_LEFT},{_TOP}V{bottom}H{right}"/>')
    return "".join(parts)


def _legend(names: tuple[str, str], classes: tuple[str, str]) -> str:
    """Sample names with their colour: a line for line classes, else a swatch."""
    out, x = [], _LEFT
    for cls, label in zip(classes, legend_labels(names), strict=True):
        mark = (f'<path class="{cls}" d="M{x},15H{x + 14}"/>' if cls.endswith("l")
                else f'<rect class="{cls}" x="{x}" y="9" width="12" height="12"/>')
        out.append(f'{mark}<text x="{x + 18}" y="19">{esc(label)}</text>')
        x += 36 + round(6.2 * len(label))
    return "".join(out)


def legend_labels(names: tuple[str, str]) -> tuple[str, str]:
    """Both sample names short enough for a legend and still told apart: long file paths
    lose the folders and file names they share (``.../january/x.parquet`` and
    ``.../july/x.parquet`` become ``january`` and ``july``)."""
    if max(map(len, names)) <= _MAX_LEGEND_CHARS:
        return names
    parts = [name.replace("\\", "/").split("/") for name in names]
    head = _common_length(*parts)
    tail = _common_length(*(p[::-1] for p in parts))
    kept = ["/".join(p[head:len(p) - tail]) or p[-1] for p in parts]
    if kept[0] == kept[1]:
        kept = [p[-1] for p in parts]
    first, second = (truncate(k, _MAX_LEGEND_CHARS, keep_end=True) for k in kept)
    return (first, second) if first != second else ("reference", "current")


def _common_length(a: Sequence[str], b: Sequence[str]) -> int:
    """How many leading items ``a`` and ``b`` share."""
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


def bars_path(xs: np.ndarray, ys: np.ndarray, y0: float) -> str:
    """Outline of a histogram as one path: up to each bar's top, across, down at the end."""
    steps = "".join(f"V{top:.1f}H{right:.1f}"
                    for top, right in zip(ys.tolist(), xs[1:].tolist(), strict=True))
    return f"M{xs[0]:.1f},{y0:.1f}{steps}V{y0:.1f}Z"


def ecdf_path(x: Scale, y: Scale, quantiles: np.ndarray, lo: float, hi: float) -> str:
    """Step ECDF through (q_k, k/(K-1)); values beyond the axis are drawn at its edges.

    Runs of equal quantiles (ties, clipped tails) become one vertical segment.
    """
    xs = x(np.clip(quantiles, lo, hi)).tolist()
    ys = y(np.linspace(0.0, 1.0, quantiles.size)).tolist()
    steps, previous = [], None
    for px, py in zip(xs, ys, strict=True):
        across = f"{px:.1f}"
        steps.append(f"V{py:.1f}" if across == previous else f"H{across}V{py:.1f}")
        previous = across
    return f"M{float(x(lo)):.1f},{float(y(0.0)):.1f}{''.join(steps)}H{float(x(hi)):.1f}"


def scale(lo: float, hi: float, px_lo: float, px_hi: float) -> Scale:
    factor = (px_hi - px_lo) / (hi - lo)
    return lambda v: px_lo + (np.asarray(v, dtype=np.float64) - lo) * factor


def span(lo: float, hi: float) -> tuple[float, float]:
    """The axis range; a degenerate one (every value equal) is widened around its value."""
    lo, hi = float(lo), float(hi)
    if hi > lo:
        return lo, hi
    pad = 0.5 * max(abs(lo), 1.0)
    return lo - pad, hi + pad


# -- ticks -----------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, *, percent: bool = False,
               target: int = 5) -> tuple[np.ndarray, list[str]]:
    """About ``target`` round tick values (1, 2 or 5 times a power of ten) in [lo, hi]."""
    step = _nice_step((hi - lo) / target)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = np.arange(first, last + 1) * step
    if percent:
        return ticks, [label + "%" for label in _tick_labels(ticks * 100, step * 100)]
    return ticks, _tick_labels(ticks, step)


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``raw``."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw * 0.999)


def _tick_labels(ticks: np.ndarray, step: float) -> list[str]:
    """Short tick texts with one style per axis: 12k (not 12000), 0.25, 1e-05."""
    largest = float(np.abs(ticks).max())
    if step < 1e-3 or largest >= 1e13:
        return [f"{v:.3g}" if v else "0" for v in ticks]
    scale_, suffix = next(((s, x) for s, x, above in _SUFFIXES if largest >= above), (1.0, ""))
    decimals = max(0, -math.floor(math.log10(step / scale_) + 1e-9))
    return [f"{v / scale_:.{decimals}f}{suffix}" if v else "0" for v in ticks]


def date_ticks(lo: float, hi: float) -> tuple[np.ndarray, list[str]]:
    """At most five calendar-aligned ticks in [lo, hi] (seconds since the epoch, UTC) with
    date labels: times of day, days, months (``2013-07``) or years, as the span needs.

    Steps are 1, 2, 5, 10, 15, 30 seconds or minutes, 1, 2, 3, 6, 12 hours, 1, 2, 7, 14
    days, 1, 2, 3, 6 months, or 1, 2 or 5 times a power of ten years; ticks fall on
    multiples of the step (midnights, first days of months, January firsts).
    """
    raw = (hi - lo) / _DATE_TARGET_TICKS
    fixed = next(((s, u) for s, u in _DATE_STEPS if s >= raw * 0.999), None)
    if fixed is not None:
        step, unit = fixed
        ticks = np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * float(step)
        stamps = ticks.astype(np.int64).astype("datetime64[s]")
        labels = np.datetime_as_string(stamps, unit=unit).tolist()
        if unit != "D":
            # Times of day: keep the date only when the axis spans more than one day.
            cut = 5 if hi - lo > _DAY else 11
            labels = [label[cut:].replace("T", " ") for label in labels]
        return ticks, labels
    months_raw = raw / (_DAY * 365.2425 / 12)
    months = next((m for m in _MONTH_STEPS if m >= months_raw * 0.999), None)
    step, unit = (months, "M") if months else (max(1, round(_nice_step(months_raw / 12))), "Y")
    first = np.datetime64(math.floor(lo), "s").astype(f"datetime64[{unit}]")
    last = np.datetime64(math.floor(hi), "s").astype(f"datetime64[{unit}]")
    candidates = np.arange(first, last + 1)
    candidates = candidates[candidates.astype(np.int64) % step == 0]
    ticks = candidates.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    keep = (ticks >= lo) & (ticks <= hi)
    return ticks[keep], np.datetime_as_string(candidates[keep], unit=unit).tolist()

"""A model's performance over time as one self-contained HTML page.

The page shows, for each metric, a chart of the estimated performance per chunk -- one
line per method with its interval as a band -- beside the realised performance (when the
chunks' labels are known) and the reference value; then a sortable table of every
estimate, each method's assumption, the accuracy of the estimates where labels allow it,
and (optionally) the Shapley attribution of a change in performance to the shifted parts
of the data distribution. Everything is inline (SVG, CSS, a few lines of script), so the
file loads nothing from anywhere; every string from the data is HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shiftguard.errors import ParameterError
from shiftguard.report._format import esc, fmt, num_cell, plural, truncate
from shiftguard.report.charts import nice_ticks, scale, span
from shiftguard.report.html import check_strings, page, writable_target

if TYPE_CHECKING:
    from shiftguard.shift.attribution import PerformanceAttribution
    from shiftguard.shift.timeline import PerformanceTimeline

#: Line and band colour of each method (the realised values are black).
METHOD_COLOURS = {
    "cbpe": "#3b75af", "atc": "#e1812c", "importance_weighted": "#3a923a",
    "doc": "#c03d3e", "label_shift": "#9372b2", "dle": "#845b53",
}
_WIDTH, _HEIGHT = 640, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 34, 40
_MAX_X_LABELS = 12
_MAX_X_LABEL_CHARS = 10


def render_performance_html(
    timeline: PerformanceTimeline,
    *,
    attribution: PerformanceAttribution | None = None,
    attribution_chunk: str = "",
    title: str = "shiftguard performance report",
    reference_name: str = "reference",
    current_name: str = "current",
) -> str:
    """Render a :class:`~shiftguard.shift.timeline.PerformanceTimeline` (and optionally a
    :class:`~shiftguard.shift.attribution.PerformanceAttribution` of the chunk named
    ``attribution_chunk``) as one self-contained HTML page.

    Raises
    ------
    ParameterError
        If ``timeline`` or ``attribution`` has the wrong type or a name is not a string.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.shift.timeline import performance_over_time
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=300); y = (rng.uniform(size=300) < p).astype(int)
    >>> tl = performance_over_time(p, y, [p[:150], rng.uniform(size=150)],
    ...                            metrics=("accuracy",), n_bootstrap=30)
    >>> html = render_performance_html(tl)
    >>> html.startswith("<!DOCTYPE html>"), html.count('class="perfchart"')
    (True, 1)
    """
    from shiftguard.shift.attribution import PerformanceAttribution
    from shiftguard.shift.timeline import PerformanceTimeline

    if not isinstance(timeline, PerformanceTimeline):
        raise ParameterError("timeline must be a PerformanceTimeline (from "
                             f"performance_over_time), got {type(timeline).__name__}")
    if attribution is not None and not isinstance(attribution, PerformanceAttribution):
        raise ParameterError("attribution must be a PerformanceAttribution (from "
                             "attribute_performance_change), got "
                             f"{type(attribution).__name__}")
    check_strings(title=title, reference_name=reference_name, current_name=current_name,
                  attribution_chunk=attribution_chunk)
    sections = [_verdict(timeline, reference_name, current_name)]
    for metric in timeline.metrics:
        sections.append(f"<h2>{esc(metric)} over time</h2>")
        sections.append(performance_chart(timeline, metric))
    sections += ["<h2>Methods and their assumptions</h2>", _assumptions(timeline),
                 "<h2>Every estimate</h2>", _estimates_table(timeline)]
    summary = timeline.summary()
    if summary:
        sections += ["<h2>How close the estimates came</h2>", _summary_table(summary,
                                                                             timeline)]
    if attribution is not None:
        sections += ["<h2>Why performance changed (attribution)</h2>",
                     attribution_table(attribution, attribution_chunk, reference_name)]
    return page(title, sections)


def write_performance_html(
    timeline: PerformanceTimeline,
    path: str | Path,
    *,
    attribution: PerformanceAttribution | None = None,
    attribution_chunk: str = "",
    title: str = "shiftguard performance report",
    reference_name: str = "reference",
    current_name: str = "current",
) -> Path:
    """Write :func:`render_performance_html`'s page to ``path`` (UTF-8) and return it.

    Raises
    ------
    ParameterError
        If the directory of ``path`` does not exist or ``path`` is a directory.
    """
    target = writable_target(path)
    target.write_text(render_performance_html(
        timeline, attribution=attribution, attribution_chunk=attribution_chunk, title=title,
        reference_name=reference_name, current_name=current_name), encoding="utf-8")
    return target


# -- sections ----------------------------------------------------------------------------


def _verdict(timeline: PerformanceTimeline, reference_name: str, current_name: str) -> str:
    drops = timeline.drops
    family = round(timeline.alpha / timeline.interval_alpha)
    level = (f"each at &alpha; = {timeline.interval_alpha:.3g}: Bonferroni-corrected for "
             f"{family} intervals at a family-wise &alpha; = {timeline.alpha:.3g}"
             if timeline.simultaneous
             else f"each at &alpha; = {timeline.alpha:.3g}, not corrected over the chunks")
    if drops:
        where = ", ".join(f"{esc(r.chunk)} ({esc(r.metric)}, {esc(r.method)})" for r in drops)
        verdict = (f'<div class="verdict drift"><strong>Performance dropped</strong>: in '
                   f"{plural(len(drops), 'estimate')} the whole interval lies below the "
                   f"{esc(reference_name)} value: {where}.</div>")
    else:
        verdict = ('<div class="verdict ok"><strong>No significant drop</strong>: no '
                   f"interval lies wholly below the {esc(reference_name)} value.</div>")
    refs = ", ".join(f"{esc(k)} {fmt(v, '.4g')}" for k, v in timeline.reference_values.items())
    return (f"{verdict}<p>{esc(current_name)}: {plural(len(timeline.chunks), 'chunk')}; "
            f"{esc(reference_name)} (labelled): {refs}. Intervals: {1 - timeline.alpha:.0%} "
            f"confidence, {level}. They hold the value that will be measured on each "
            "chunk's labels when the method's assumption holds (below).</p>")


def _assumptions(timeline: PerformanceTimeline) -> str:
    items = "".join(
        f'<li><span style="color:{METHOD_COLOURS.get(m, "#444")}">&#9632;</span> '
        f"<strong>{esc(m)}</strong>: {esc(timeline.assumptions[m])}</li>"
        for m in timeline.methods)
    skipped = "".join(f"<li>{esc(s)}</li>" for s in timeline.skipped)
    notes = f'<ul class="notes">{skipped}</ul>' if skipped else ""
    return (f"<ul>{items}</ul>{notes}<p class=\"muted\">A realised value outside a method's "
            "band means its assumption failed on that chunk -- the relation between the "
            "features and the label changed, say -- and that method's estimate there is "
            "not to be trusted.</p>")


def _estimates_table(timeline: PerformanceTimeline) -> str:
    body = []
    for r in timeline.rows:
        covered = ("&ndash;" if r.covered is None else "yes" if r.covered else "<strong>no"
                   "</strong>")
        body.append(
            f'<tr{" class=drift" if r.dropped else ""}><td>{esc(r.chunk)}</td>'
            f"<td>{esc(r.metric)}</td><td>{esc(r.method)}</td>"
            f"{num_cell(r.estimate, '.4f')}{num_cell(r.lower, '.4f')}"
            f"{num_cell(r.upper, '.4f')}{num_cell(r.realised, '.4f')}"
            f'<td data-v="{"" if r.covered is None else int(r.covered)}">{covered}</td>'
            f'<td data-v="{int(r.dropped)}">{"yes" if r.dropped else "&ndash;"}</td>'
            f'<td class="n">{r.n_rows:,}</td></tr>')
    head = ("<th>chunk</th><th>metric</th><th>method</th><th>estimate</th><th>lower</th>"
            "<th>upper</th><th>realised</th><th title=\"Does the interval hold the realised "
            "value?\">covered</th><th title=\"Whole interval below the reference value\">"
            "drop</th><th>rows</th>")
    return ('<div class="tablewrap auto"><table class="sortable" id="estimates">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _summary_table(summary: tuple[dict, ...], timeline: PerformanceTimeline) -> str:
    body = "".join(
        f"<tr><td>{esc(s['metric'])}</td><td>{esc(s['method'])}</td>"
        f"{num_cell(s['mean_absolute_error'], '.4f')}{num_cell(s['coverage'], '.0%')}"
        f'<td class="n">{s["n_chunks"]}</td></tr>' for s in summary)
    return ('<p class="muted">Over the chunks whose labels are known: the mean absolute '
            "difference between estimate and realised value, and the share of intervals "
            f"holding it (nominal {1 - timeline.interval_alpha:.3g}).</p>"
            '<div class="tablewrap auto"><table class="sortable" id="accuracy-of-estimates">'
            "<thead><tr><th>metric</th><th>method</th><th>mean abs. error</th>"
            f"<th>coverage</th><th>chunks</th></tr></thead><tbody>{body}</tbody></table></div>")


def attribution_table(attribution: PerformanceAttribution, chunk: str = "",
                      reference_name: str = "reference") -> str:
    """The Shapley attribution of a change in mean loss as an HTML table with a reading."""
    level = 1 - attribution.alpha
    rows = "".join(
        f"<tr><td>{esc(player)}</td>{num_cell(value, '+.4f')}{num_cell(lo, '+.4f')}"
        f"{num_cell(hi, '+.4f')}</tr>"
        for player, value, lo, hi in zip(attribution.players,
                                         np.asarray(attribution.attributions).tolist(),
                                         np.asarray(attribution.lower).tolist(),
                                         np.asarray(attribution.upper).tolist(), strict=True))
    where = f" {esc(chunk)}" if chunk else ""
    return (
        f"<p>Mean loss on {esc(reference_name)}: {fmt(attribution.metric_ref, '.4f')}; on"
        f"{where or ' the current rows'}: {fmt(attribution.metric_cur, '.4f')} (change "
        f"{fmt(attribution.change, '+.4f')}). The change is split among the parts of the "
        "data distribution that shifted by their Shapley values (Zhang et al., 2023), which "
        "add up to the change: a share under <em>P(X)</em> or a group of features comes from "
        "rows of a kind the model handles better or worse becoming more common; the share "
        "under <em>P(Y | X)</em> from the label of rows of the same kind changing -- "
        "which no estimate without labels can see. Intervals: "
        f"{level:.0%} percentile bootstrap ({attribution.n_bootstrap} replicates), "
        "under overlapping supports and correct density ratios.</p>"
        '<div class="tablewrap auto"><table id="attribution"><thead><tr><th>shifted part</th>'
        f"<th>attribution</th><th>lower</th><th>upper</th></tr></thead><tbody>{rows}"
        "</tbody></table></div>")


# -- chart -------------------------------------------------------------------------------


def performance_chart(timeline: PerformanceTimeline, metric: str) -> str:
    """Inline SVG of one metric per chunk: each method's estimate as a line over its
    interval band, the realised values in black, the reference value dashed."""
    chunks = timeline.chunks
    series = {m: timeline.series(metric, m) for m in timeline.methods}
    series = {m: s for m, s in series.items() if s}
    realised = np.array([next((r.realised for s in series.values() for r in s
                               if r.chunk == c), np.nan) for c in chunks])
    reference = timeline.reference_values.get(metric, np.nan)
    values = [reference, *realised[np.isfinite(realised)]]
    for s in series.values():
        values += [v for r in s for v in (r.lower, r.upper)]
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    lo, hi = span(finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    n = len(chunks)
    x = scale(-0.5, n - 0.5, _LEFT, _WIDTH - _RIGHT)
    y = scale(lo, hi, _HEIGHT - _BOTTOM, _TOP)
    index = {c: i for i, c in enumerate(chunks)}
    parts = [_axes(x, y, lo, hi, chunks)]
    if np.isfinite(reference):
        ry = float(y(reference))
        parts.append(f'<line x1="{_LEFT}" y1="{ry:.1f}" x2="{_WIDTH - _RIGHT}" y2="{ry:.1f}" '
                     'stroke="#777" stroke-dasharray="5,4"><title>reference '
                     f"{reference:.4f}</title></line>")
    for method, rows in series.items():
        colour = METHOD_COLOURS.get(method, "#444")
        xs = x([index[r.chunk] for r in rows])
        lower, upper = y([r.lower for r in rows]), y([r.upper for r in rows])
        band = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(
            np.r_[xs, xs[::-1]], np.r_[upper, lower[::-1]], strict=True))
        est = y([r.estimate for r in rows])
        parts.append(f'<polygon points="{band}" fill="{colour}" fill-opacity="0.16" '
                     'stroke="none"/>')
        parts.append(f'<polyline points="{_points(xs, est)}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"><title>'
                  f"{esc(r.chunk)}, {esc(method)}: {r.estimate:.4f} [{r.lower:.4f}, "
                  f"{r.upper:.4f}]</title></circle>"
                  for a, b, r in zip(xs.tolist(), est.tolist(), rows, strict=True)]
    seen = np.isfinite(realised)
    if seen.any():
        xs, ys = x(np.flatnonzero(seen)), y(realised[seen])
        parts.append(f'<polyline points="{_points(xs, ys)}" fill="none" stroke="#111" '
                     'stroke-width="1.5"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="#fff" stroke="#111" '
                  f'stroke-width="1.5"><title>{esc(chunks[i])}, realised: {v:.4f}</title>'
                  "</circle>"
                  for a, b, i, v in zip(xs.tolist(), ys.tolist(), np.flatnonzero(seen).tolist(),
                                        realised[seen].tolist(), strict=True)]
    parts.append(_legend(list(series), bool(seen.any())))
    svg = (f'<svg class="perfchart" width="{_WIDTH}" height="{_HEIGHT}" '
           f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img"><title>{esc(metric)} per chunk: '
           f"estimates with intervals, realised and reference values</title>"
           f"{''.join(parts)}</svg>")
    caption = (f"Estimated {esc(metric)} per chunk, one line per method with its interval as "
               "a band; black: realised on the chunk's labels; dashed: the reference value.")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs.tolist(), ys.tolist(), strict=True))


def _axes(x, y, lo: float, hi: float, chunks: tuple[str, ...]) -> str:
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    ticks, labels = nice_ticks(lo, hi)
    parts = [f'<line class="grid" x1="{_LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>'
             f'<text x="{_LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{label}</text>'
             for py, label in zip(y(ticks).tolist(), labels, strict=True)]
    step = max(1, -(-len(chunks) // _MAX_X_LABELS))
    parts += [f'<text x="{float(x(i)):.1f}" y="{bottom + 16}" text-anchor="middle">'
              f"{esc(truncate(chunks[i], _MAX_X_LABEL_CHARS))}</text>"
              for i in range(0, len(chunks), step)]
    parts.append(f'<path class="axis" fill="none" d="M{_LEFT},{_TOP}V{bottom}H{right}"/>')
    return "".join(parts)


def _legend(methods: list[str], realised: bool) -> str:
    out, pos = [], _LEFT
    entries = [(m, METHOD_COLOURS.get(m, "#444")) for m in methods]
    if realised:
        entries.append(("realised", "#111"))
    entries.append(("reference", "#777"))
    for label, colour in entries:
        dash = ' stroke-dasharray="5,4"' if label == "reference" else ""
        out.append(f'<path d="M{pos},15H{pos + 16}" stroke="{colour}" stroke-width="2"{dash}/>'
                   f'<text x="{pos + 20}" y="19">{esc(label)}</text>')
        pos += 30 + round(6.2 * len(label))
    return "".join(out)

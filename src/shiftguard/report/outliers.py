"""An outlier report as one self-contained HTML file.

The page holds the verdict, the decision rule and its guarantee in words, a histogram of
the anomaly scores of the calibration (reference) rows against those of the new rows with
the flagging cutoff, and a sortable table of the flagged rows with score, p-value and the
features contributing most to each score. It reuses the drift report's style sheet,
sorting script, formatting helpers and chart building blocks, so it too loads nothing from
anywhere; every string from the data (column and category names, notes) is HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shiftguard.errors import ParameterError
from shiftguard.report._format import esc, fmt, num_cell, p_cell, plural
from shiftguard.report.charts import (
    _BOTTOM,
    _HEIGHT,
    _LEFT,
    _RIGHT,
    _TOP,
    _WIDTH,
    _axes,
    _legend,
    _svg,
    bars_path,
    scale,
    span,
)
from shiftguard.report.html import check_strings, page, writable_target

if TYPE_CHECKING:
    from shiftguard.ood.tables import OutlierReport

__all__ = ["render_outlier_html", "write_outlier_html"]

#: Bins of the score histogram.
N_BINS = 40
#: Flagged rows listed in the table (the JSON output lists all).
MAX_ROWS = 1000


def render_outlier_html(
    report: OutlierReport,
    *,
    title: str = "shiftguard outlier report",
    reference_name: str = "reference",
    new_name: str = "new",
) -> str:
    """Render an outlier report as one self-contained HTML page.

    Parameters
    ----------
    report
        The result of :func:`shiftguard.ood.tables.outliers`.
    title
        Page title and heading.
    reference_name, new_name
        How the two tables are named on the page and in the chart legend.

    Returns
    -------
    str
        The HTML document; it references no external resource.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.tables import outliers
    >>> rng = np.random.default_rng(0)
    >>> ref = {"a": rng.normal(size=300), "b": rng.normal(size=300)}
    >>> report = outliers(ref, {"a": [0.0, 9.0], "b": [0.0, -9.0]}, alpha=0.05)
    >>> page = render_outlier_html(report)
    >>> page.startswith("<!DOCTYPE html>"), page.count('<tr class="drift">')
    (True, 1)
    """
    from shiftguard.ood.tables import OutlierReport

    if not isinstance(report, OutlierReport):
        raise ParameterError(f"report must be an OutlierReport (from shiftguard.ood.tables."
                             f"outliers), got {type(report).__name__}")
    check_strings(title=title, reference_name=reference_name, new_name=new_name)
    names = (reference_name, new_name)
    return page(title, [
        _header(report, names),
        "<h2>Decision rule</h2>",
        _rule(report),
        "<h2>Score distribution</h2>",
        score_histogram(report, names),
        "<h2>Flagged rows</h2>",
        flagged_table(report),
        "<h2>Columns</h2>",
        _columns(report),
    ])


def write_outlier_html(
    report: OutlierReport,
    path: str | Path,
    *,
    title: str = "shiftguard outlier report",
    reference_name: str = "reference",
    new_name: str = "new",
) -> Path:
    """Write :func:`render_outlier_html`'s page to ``path`` (UTF-8) and return the path.

    Raises
    ------
    ParameterError
        If the directory of ``path`` does not exist or ``path`` is a directory.
    """
    target = writable_target(path)
    page = render_outlier_html(report, title=title, reference_name=reference_name,
                               new_name=new_name)
    target.write_text(page, encoding="utf-8")
    return target


def _header(report: OutlierReport, names: tuple[str, str]) -> str:
    found = report.outliers_found
    verdict = (f"<strong>{'Outliers' if found else 'No outliers'}</strong>: "
               f"{report.n_flagged:,} of {plural(report.n_new, 'new row')} flagged")
    return (f'<div class="verdict {"drift" if found else "ok"}">{verdict}</div>'
            f'<p class="meta">Reference <code>{esc(names[0])}</code>: '
            f"{plural(report.n_reference, 'row')} ({report.n_train:,} to fit the "
            f"<code>{esc(report.detector)}</code> detector, {report.n_calibration:,} to "
            f"calibrate it); new <code>{esc(names[1])}</code>: "
            f"{plural(report.n_new, 'row')}; {plural(len(report.features), 'feature')}.</p>")


def _rule(report: OutlierReport) -> str:
    kind = "calibration-conditional" if report.conditional else "marginal"
    how = (f"Each new row gets a {kind} conformal p-value: the share of the "
           f"{report.n_calibration:,} calibration rows, held out of the detector's fit, "
           "that score at least as high (higher scores are more anomalous).")
    if report.outliers_found or report.method == "threshold":
        cut = (f" Rows with p-value &le; {fmt(report.threshold_pvalue, '.3g')} are flagged, "
               f"that is rows scoring above {fmt(report.score_cutoff, '.4g')}.")
    else:
        cut = " No p-value passed the Benjamini-Hochberg cut, so no row is flagged."
    return (f"<p>{how}{cut}</p><p><strong>Guarantee.</strong> {esc(report.guarantee())} "
            "This assumes the reference rows and the new inlier rows are drawn alike "
            "(exchangeable); nothing is assumed about the outliers or the detector, whose "
            "quality only decides how many outliers are found.</p>")


def score_histogram(report: OutlierReport, names: tuple[str, str]) -> str:
    """Shares of the calibration and the new rows' scores per bin, with the cutoff line.

    The axis spans the calibration scores and the cutoff; new rows scoring beyond it are
    counted in the last bin (said in the caption), so one extreme row does not squash the
    rest of the chart.
    """
    cal = np.asarray(report.calibration_scores, dtype=np.float64)
    new = np.asarray(report.scores, dtype=np.float64)
    cutoff = report.score_cutoff
    ends = [cal.min(), cal.max()] + ([cutoff] if np.isfinite(cutoff) else [])
    if new.size:
        ends.append(new.min())
    lo, hi = span(min(ends), max(ends))
    hi += 0.05 * (hi - lo)
    edges = np.linspace(lo, hi, N_BINS + 1)
    beyond = int(np.count_nonzero(new > hi))
    shares = [np.histogram(np.minimum(s, hi), bins=edges)[0] / max(s.size, 1)
              for s in (cal, new)]
    top = max(float(shares[0].max()), float(shares[1].max()), 1e-12) * 1.08
    x = scale(lo, hi, _LEFT, _WIDTH - _RIGHT)
    y = scale(0.0, top, _HEIGHT - _BOTTOM, _TOP)
    xs, y0 = x(edges), _HEIGHT - _BOTTOM
    body = _axes(x, y, lo, hi, top, False) + "".join(
        f'<path class="{cls}" d="{bars_path(xs, y(s), y0)}"/>'
        for cls, s in zip(("ref", "curo"), shares, strict=True))
    if np.isfinite(cutoff) and lo <= cutoff <= hi:
        px = float(x(cutoff))
        body += (f'<line class="cut" x1="{px:.1f}" y1="{_TOP}" x2="{px:.1f}" y2="{y0}" '
                 'stroke="#c62828" stroke-dasharray="4 3" stroke-width="1.5"/>')
    svg = _svg(_WIDTH, _HEIGHT, body + _legend(names, ("ref", "curo")))
    caption = ("Share of each sample's rows per score bin: the reference's calibration rows "
               "(filled) and the new rows (outlined). The dashed red line is the flagging "
               "cutoff.")
    if beyond:
        verbs = ("scores", "is") if beyond == 1 else ("score", "are")
        caption += (f" {plural(beyond, 'new row')} {verbs[0]} above the axis (up to "
                    f"{fmt(float(new.max()), '.4g')}) and {verbs[1]} counted in the last bin.")
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def flagged_table(report: OutlierReport) -> str:
    """Sortable table of the flagged rows: row, score, p-value and top features."""
    if not report.flagged:
        return '<p class="muted">No row was flagged.</p>'
    body = []
    for r in report.flagged[:MAX_ROWS]:
        features = "; ".join(
            f"<code>{esc(f.name)}</code> = {fmt(f.value, '.4g')} "
            f"({fmt(f.contribution, '+.3g')})" for f in r.top_features) or "&ndash;"
        body.append(f'<tr class="drift">{num_cell(r.row, "d")}{num_cell(r.score, ".4g")}'
                    f'{p_cell(r.pvalue)}<td class="wrap">{features}</td></tr>')
    more = (f'<p class="muted">The first {MAX_ROWS:,} of {report.n_flagged:,} flagged rows, '
            "smallest p-value first; the JSON output lists all.</p>"
            if report.n_flagged > MAX_ROWS else "")
    return ('<p class="muted">Rows count from 0 in the new table. Top features: the value '
            "in the row and, in parentheses, its contribution to the score.</p>"
            '<div class="tablewrap"><table class="sortable"><thead><tr><th>row</th>'
            "<th>score</th><th>p-value</th><th data-nosort>top features</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>{more}")


def _columns(report: OutlierReport) -> str:
    scored = ", ".join(f"<code>{esc(name)}</code>" for name in report.features)
    parts = [f"<p>Scored features: {scored}.</p>"]
    items = [f"<li><code>{esc(e.name)}</code> ({esc(e.kind)}) left out: {esc(e.reason)}</li>"
             for e in report.excluded] + [f"<li>{esc(note)}</li>" for note in report.notes]
    if items:
        parts.append(f'<ul class="notes">{"".join(items)}</ul>')
    return "".join(parts)

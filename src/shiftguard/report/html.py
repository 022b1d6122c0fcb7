"""A drift report as one self-contained HTML file.

The page holds the verdict, a sortable table of every column's tests, the multivariate
verdict, the localisation ranking and one panel per column (drifted ones first) with an
overlaid histogram and ECDF for numeric columns and grouped bars for categorical ones.
Charts are inline SVG drawn here from the report's small profiles, styling is inline CSS
and table sorting a few lines of inline JavaScript, so the file loads nothing from anywhere
and costs a few kilobytes per column. Every string that comes from the data (column names,
category labels, sample names) is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shiftguard.errors import ParameterError

if TYPE_CHECKING:
    from shiftguard.drift import ColumnDrift, ColumnProfile, DriftReport, MultivariateDrift

# Chart geometry in SVG user units (pixels at 100 % zoom).
_WIDTH = 440
_HEIGHT = 230
_LEFT = 48
_RIGHT = 14
_TOP = 30
_BOTTOM = 34
_CATEGORY_LABEL_WIDTH = 150
_CATEGORY_ROW_HEIGHT = 22
_MAX_LABEL_CHARS = 22
_MAX_LEGEND_CHARS = 24
_MAX_LISTED_UNSEEN = 10

_LOCALIZATION_LABELS = {
    "name": "feature",
    "score": "score (null SDs)",
    "pvalue": "p&#8209;value",
    "pvalue_adjusted": "adj. p",
}
# Thousands get a k from 10,000 on, so 0-2,000 axes keep plain 500, 1000, 1500 labels.
_SUFFIXES = ((1e9, "G", 1e9), (1e6, "M", 1e6), (1e3, "k", 1e4))

_EFFECT_NAMES = {
    "wasserstein_sd": "Wasserstein-1 distance in reference SDs",
    "total_variation": "total-variation distance of category shares",
}
_EFFECT_SHORT = {"wasserstein_sd": "W1/SD", "total_variation": "TV"}

_CORRECTIONS = {
    "holm": ("Holm's step-down procedure", "familywise error rate",
             "valid under any dependence between the tests"),
    "bonferroni": ("the Bonferroni correction", "familywise error rate",
                   "valid under any dependence between the tests"),
    "hochberg": ("Hochberg's step-up procedure", "familywise error rate",
                 "assuming independent or positively dependent tests"),
    "bh": ("the Benjamini-Hochberg procedure", "false discovery rate",
           "assuming independent or positively dependent tests"),
    "by": ("the Benjamini-Yekutieli procedure", "false discovery rate",
           "valid under any dependence between the tests"),
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
margin:0 auto;max-width:1240px;padding:16px 24px 48px}
h1{font-size:24px;margin:8px 0 12px}h2{font-size:19px;margin:28px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:0 0 4px}
.verdict{padding:12px 16px;border-radius:6px;margin-bottom:8px;font-size:16px}
.verdict.drift{background:#fdecea;border-left:6px solid #c62828}
.verdict.ok{background:#e8f5e9;border-left:6px solid #2e7d32}
.muted,small{color:#666}
.tablewrap{max-height:70vh;overflow:auto;border:1px solid #ddd;border-radius:4px}
.tablewrap.auto{display:inline-block;max-width:100%}.auto table{width:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 6px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{white-space:normal;vertical-align:bottom}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f5f5f5;position:sticky;top:0;user-select:none}
html.js table.sortable th{cursor:pointer}
html.js table.sortable th::after{content:"\\a0\\2195";color:#aaa}
th[aria-sort=ascending]::after{content:"\\a0\\25B2"!important;color:#333!important}
th[aria-sort=descending]::after{content:"\\a0\\25BC"!important;color:#333!important}
tr.drift td{background:#fdecea}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;
font-weight:600;vertical-align:middle}
.badge.drift{background:#c62828;color:#fff}.badge.ok{background:#e0e0e0;color:#444}
.panel{border:1px solid #ddd;border-radius:6px;padding:12px 14px;margin:14px 0}
.panel.drift{border-left:6px solid #c62828}
.meta{margin:2px 0 8px;color:#444}.unseen{color:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figcaption{font-size:12px;color:#666;max-width:440px}
svg text{font:11px system-ui,sans-serif;fill:#444}
svg .grid{stroke:#e6e6e6}svg .axis{stroke:#999}
svg .ref{fill:#3b75af;fill-opacity:.45;stroke:#3b75af}
svg .cur{fill:#e1812c;fill-opacity:.45;stroke:#e1812c}
svg .curo{fill:none;stroke:#e1812c;stroke-width:2}
svg .refl{fill:none;stroke:#3b75af;stroke-width:2}
svg .curl{fill:none;stroke:#e1812c;stroke-width:2}
svg text.new{fill:#c62828;font-weight:600}
"""

# Sorts a table by the clicked header: by each cell's data-v when present, numerically
# when every key parses as a number, with empty keys last in either direction.
_JS = """
document.documentElement.classList.add("js");
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, i) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      function key(r) {
        var c = r.cells[i];
        return c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim();
      }
      var numeric = rows.every(function (r) {
        var k = key(r); return k === "" || !isNaN(parseFloat(k));
      });
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var d = numeric ? parseFloat(x) - parseFloat(y)
                        : x.localeCompare(y, undefined, {numeric: true});
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def render_html(
    report: DriftReport,
    *,
    title: str = "shiftguard drift report",
    reference_name: str = "reference",
    current_name: str = "current",
) -> str:
    """Render a drift report as one self-contained HTML page.

    Parameters
    ----------
    report
        The result of :func:`shiftguard.drift.compare` or ``DriftDetector.compare``.
    title
        Page title and heading.
    reference_name, current_name
        How the two samples are named on the page and in chart legends (file names, say).

    Returns
    -------
    str
        The HTML document. It references no external resource (no scripts, styles, fonts
        or images by URL), so it can be mailed or archived as is.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.drift import compare
    >>> rng = np.random.default_rng(0)
    >>> report = compare(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + [0, 1])
    >>> page = render_html(report, title="demo")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<svg")  # histogram + ECDF each
    (True, 4)
    """
    from shiftguard.drift import DriftReport

    if not isinstance(report, DriftReport):
        raise ParameterError(
            f"report must be a DriftReport (from shiftguard.drift.compare), "
            f"got {type(report).__name__}"
        )
    for name, value in (("title", title), ("reference_name", reference_name),
                        ("current_name", current_name)):
        if not isinstance(value, str):
            raise ParameterError(f"{name} must be a string, got {type(value).__name__}")
    names = (reference_name, current_name)
    ordered = sorted(report.columns, key=lambda c: (not c.drifted, c.pvalue_adjusted))
    index = {id(c): i for i, c in enumerate(report.columns)}
    panels = "".join(_column_panel(c, index[id(c)], names, report.alpha) for c in ordered)
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        _header(report, names),
        "<h2>Results by column</h2>",
        '<p class="muted">Click a column header to sort; click a column name to see its '
        "charts. Adjusted p-values are corrected over the whole family of tests.</p>",
        _results_table(report.columns, report.alpha),
        "<h2>Multivariate test</h2>",
        _multivariate_section(report.multivariate, report.alpha),
        "<h2>Which features shifted (localisation)</h2>",
        _localization_section(report.localization),
        "<h2>Columns</h2>",
        panels or '<p class="muted">No columns were compared.</p>',
        f"<script>{_JS}</script></body></html>\n",
    ])


def write_html(
    report: DriftReport,
    path: str | Path,
    *,
    title: str = "shiftguard drift report",
    reference_name: str = "reference",
    current_name: str = "current",
) -> Path:
    """Write :func:`render_html`'s page to ``path`` (UTF-8) and return the path.

    Raises
    ------
    ParameterError
        If the directory of ``path`` does not exist or ``path`` is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise ParameterError(f"path {str(target)!r} is a directory; give a file name")
    if not target.parent.is_dir():
        raise ParameterError(f"path {str(target)!r}: directory {str(target.parent)!r} "
                             "does not exist")
    page = render_html(report, title=title, reference_name=reference_name,
                       current_name=current_name)
    target.write_text(page, encoding="utf-8")
    return target


# -- page sections ---------------------------------------------------------------------


def _header(report: DriftReport, names: tuple[str, str]) -> str:
    n_cols = len(report.columns)
    n_drift = sum(c.drifted for c in report.columns)
    multi = report.multivariate
    columns = f"{n_cols} column{'s' if n_cols != 1 else ''}"
    if report.drifted and n_drift == 0:
        verdict = ("<strong>Drift detected</strong> by the multivariate test, though no "
                   f"single one of the {columns} drifted on its own")
    elif report.drifted:
        verdict = f"<strong>Drift detected</strong>: {n_drift} of {columns} drifted"
        if multi is not None:
            verdict += ("; the multivariate test also finds drift" if multi.drifted
                        else "; the multivariate test does not")
    else:
        verdict = f"<strong>No drift detected</strong> in {columns}"
        if multi is not None:
            verdict += " nor by the multivariate test"
    if report.min_effect is not None:
        return _relevance_header(report, names)
    n_missing_tests = sum(c.missing_pvalue is not None for c in report.columns)
    family = ["per-column distribution tests"]
    if n_missing_tests:
        family.append("missing-rate tests")
    if multi is not None:
        family.append("the multivariate test")
    n_tests = n_cols + n_missing_tests + (multi is not None)
    procedure, rate, assumption = _CORRECTIONS[report.correction]
    alpha = report.alpha
    if rate == "false discovery rate":
        promise = (f"among the tests it flags, the expected share of false flags is at most "
                   f"{alpha:.3g} ({rate}, {assumption})")
    else:
        promise = (f"if nothing changed, the chance that this report flags anything is at "
                   f"most {alpha:.3g} ({rate}, {assumption})")
    parts = " and ".join([", ".join(family[:-1]), family[-1]]) if len(family) > 1 else family[0]
    return (
        f'<div class="verdict {"drift" if report.drifted else "ok"}">{verdict}.</div>'
        f"<p>{_esc(names[0])}: <strong>{report.n_reference:,}</strong> rows &middot; "
        f"{_esc(names[1])}: <strong>{report.n_current:,}</strong> rows.</p>"
        f"<p>All {n_tests} tests ({parts}) are corrected together with {procedure} at "
        f"&alpha; = {alpha:.3g}: {promise}.</p>"
    )


def _relevance_header(report: DriftReport, names: tuple[str, str]) -> str:
    n_cols = len(report.columns)
    n_relevant = sum(c.drifted for c in report.columns)
    n_detected = sum(c.detected for c in report.columns)
    delta = report.min_effect
    if report.drifted:
        verdict = (f"<strong>Relevant drift</strong>: {n_relevant} of {n_cols} columns changed "
                   f"by more than {delta:g}")
    else:
        verdict = f"<strong>No relevant drift</strong>: no column changed by more than {delta:g}"
    procedure, rate, assumption = _CORRECTIONS[report.correction]
    return (
        f'<div class="verdict {"drift" if report.drifted else "ok"}">{verdict}.</div>'
        f"<p>{_esc(names[0])}: <strong>{report.n_reference:,}</strong> rows &middot; "
        f"{_esc(names[1])}: <strong>{report.n_current:,}</strong> rows.</p>"
        f"<p>A column is flagged when its distribution moved by more than {delta:g} "
        "(Kolmogorov&ndash;Smirnov distance for numeric columns, total variation for "
        "categorical ones and for missing-value rates: the largest change in the share of "
        "values below any threshold, or in any set of categories). These relevance tests are "
        f"finite-sample and corrected together with {procedure} at &alpha; = "
        f"{report.alpha:.3g} ({rate}, {assumption}). {n_detected} column(s) show a "
        "statistically detectable change of any size; the table shows both.</p>"
    )


_TABLE_HEADERS = (
    ("column", "Column name"),
    ("kind", "numeric, categorical or text"),
    ("test", "Two-sample test of the column's distribution"),
    ("statistic", "Test statistic"),
    ("p&#8209;value", "Raw p-value of the distribution test"),
    ("adj. p", "p-value adjusted for multiple testing"),
    ("effect size", "W1/SD: Wasserstein-1 distance in reference standard deviations; "
                    "TV: total-variation distance of category shares"),
    ("distance (CI)", "KS distance (numeric) or total variation (categorical), 0-1, with a "
                      "finite-sample confidence interval at the report's level"),
    ("missing ref", "Missing values in the reference"),
    ("missing cur", "Missing values in the current sample"),
    ("missing p", "Fisher's exact test of equal missing rates (raw)"),
    ("missing adj. p", "Missing-rate p-value adjusted for multiple testing"),
    ("unseen", "Categories in the current sample never seen in the reference"),
    ("drift", "Flagged after correction, and by which test"),
)


def _results_table(columns: Sequence[ColumnDrift], alpha: float) -> str:
    head = "".join(f'<th title="{_esc(tip)}">{label}</th>' for label, tip in _TABLE_HEADERS)
    rows = []
    for i, c in enumerate(columns):
        short = _EFFECT_SHORT.get(c.effect_size_name, c.effect_size_name)
        effect = _num_cell(c.effect_size, ".3g", unit=short)
        unseen = len(c.unseen_categories)
        unseen_text = ""
        if unseen:
            unseen_text = f"{unseen}: " + _esc(_truncate(", ".join(c.unseen_categories[:3]), 30))
        rows.append(
            f'<tr{" class=drift" if c.drifted else ""}>'
            f'<td><a href="#col-{i}">{_esc(c.name)}</a></td><td>{_esc(c.kind)}</td>'
            f"<td>{_esc(c.test)}</td>{_num_cell(c.statistic, '.4g')}"
            f"{_p_cell(c.pvalue)}{_p_cell(c.pvalue_adjusted)}{effect}{_distance_cell(c)}"
            f'<td class="n">{c.missing_reference:,}</td><td class="n">{c.missing_current:,}</td>'
            f"{_p_cell(c.missing_pvalue)}{_p_cell(c.missing_pvalue_adjusted)}"
            f'<td data-v="{unseen}">{unseen_text}</td>'
            f'<td data-v="{int(c.drifted)}">{_drift_badge(c, alpha)}</td></tr>'
        )
    return (f'<div class="tablewrap"><table class="sortable" id="results"><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _multivariate_section(multi: MultivariateDrift | None, alpha: float) -> str:
    if multi is None:
        return ('<p class="muted">Not run: disabled, or no numeric or categorical column to '
                "test jointly.</p>")
    badge = ('<span class="badge drift">DRIFT</span>' if multi.drifted
             else '<span class="badge ok">no drift</span>')
    return (
        f"<p>{badge} The <strong>{_esc(multi.method)}</strong> two-sample test on all "
        f"{multi.n_features} features jointly (numeric columns standardised, categories "
        f"one-hot), on {multi.n_reference:,} reference and {multi.n_current:,} current rows: "
        f"statistic {_fmt(multi.statistic, '.4g')}, p = {_fmt_p(multi.pvalue)}, adjusted "
        f"p = {_fmt_p(multi.pvalue_adjusted)} (flagged when at most {alpha:.3g}). It can "
        "detect changes in the relationships between columns that no single column shows."
        "</p>"
    )


def _localization_section(localization: Any) -> str:
    """The ranking of :func:`shiftguard.drift.localize.localize_shift`, read via ``to_dict()``."""
    if localization is None:
        return '<p class="muted">Not run: disabled, or fewer than two numeric columns.</p>'
    data = localization.to_dict()
    features = sorted(data.get("features") or [],
                      key=lambda f: (f.get("rank") is None, f.get("rank")))
    settings = [f"method {_esc(data.get('method', '?'))}"]
    if "correction" in data and "alpha" in data:
        settings.append(f"{_esc(data['correction'])} correction at &alpha; = {data['alpha']:.3g}")
    if data.get("n_permutations"):
        settings.append(f"{data['n_permutations']} permutations")
    flagged = [_esc(f["name"]) for f in features if f.get("flagged")]
    intro = (
        "<p>Each numeric feature is tested for a change in its distribution <em>given the "
        "other numeric features</em> (Kulinski, Bagchi &amp; Inouye, 2020), which also "
        "catches a changed relationship that no single-column test sees. These tests form "
        f"their own family ({', '.join(settings)}), not part of the verdict above. "
        f"Flagged: {', '.join(flagged) if flagged else 'none'}.</p>"
    )
    if not features:
        return intro
    keys = [k for k, v in features[0].items() if not isinstance(v, list | dict)]
    head = "".join(f"<th>{_LOCALIZATION_LABELS.get(k, _esc(k.replace('_', ' ')))}</th>"
                   for k in keys)
    body = "".join(
        f'<tr{" class=drift" if f.get("flagged") else ""}>'
        + "".join(_any_cell(k, f.get(k)) for k in keys) + "</tr>"
        for f in features
    )
    return (intro + '<div class="tablewrap auto"><table class="sortable" id="localization">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _column_panel(c: ColumnDrift, i: int, names: tuple[str, str], alpha: float) -> str:
    effect = ""
    if c.effect_size is not None:
        label = _EFFECT_NAMES.get(c.effect_size_name, c.effect_size_name)
        effect = f" &middot; effect size {_fmt(c.effect_size, '.3g')} ({_esc(label)})"
    missing = f" &middot; missing {c.missing_reference:,} / {c.missing_current:,}"
    if c.missing_pvalue is not None:
        missing += (f" (Fisher p = {_fmt_p(c.missing_pvalue)}, adjusted "
                    f"{_fmt_p(c.missing_pvalue_adjusted)})")
    meta = (f"{_esc(c.kind)} &middot; {_esc(c.test)} statistic {_fmt(c.statistic, '.4g')}, "
            f"p = {_fmt_p(c.pvalue)}, adjusted p = {_fmt_p(c.pvalue_adjusted)}{effect}{missing}"
            f" &middot; observed {c.n_reference:,} / {c.n_current:,}")
    if c.unseen_categories:
        shown = ", ".join(_esc(label) for label in c.unseen_categories[:_MAX_LISTED_UNSEEN])
        more = len(c.unseen_categories) - _MAX_LISTED_UNSEEN
        meta += (f'<br><span class="unseen">{len(c.unseen_categories)} categor'
                 f'{"y" if len(c.unseen_categories) == 1 else "ies"} unseen in the reference: '
                 f"{shown}{f' (+{more} more)' if more > 0 else ''}</span>")
    p = c.profile
    if c.kind == "numeric" and p.bin_edges:
        charts = _histogram_figure(p, names) + _ecdf_figure(p, names)
    elif c.kind == "categorical" and p.categories:
        charts = _categories_figure(p, c.unseen_categories, names)
    elif c.kind == "text":
        charts = ('<p class="muted">Text column: compared through its embedding '
                  "distribution, which has no one-dimensional chart.</p>")
    else:
        charts = '<p class="muted">No profile to plot.</p>'
    return (
        f'<section class="panel{" drift" if c.drifted else ""}" id="col-{i}">'
        f"<h3>{_esc(c.name)} {_drift_badge(c, alpha)}</h3><p class=meta>{meta}</p>"
        f'<div class="charts">{charts}</div></section>'
    )


# -- charts ----------------------------------------------------------------------------


def _histogram_figure(p: ColumnProfile, names: tuple[str, str]) -> str:
    edges = np.asarray(p.bin_edges, dtype=np.float64)
    ref = np.asarray(p.reference_hist, dtype=np.float64)
    cur = np.asarray(p.current_hist, dtype=np.float64)
    if not (np.isfinite(edges).all() and np.isfinite(ref).all() and np.isfinite(cur).all()):
        return '<p class="muted">Histogram not available (non-finite profile).</p>'
    lo, hi = _span(edges[0], edges[-1])
    top = max(float(ref.max()), float(cur.max()), 1e-12) * 1.08
    x = _scale(lo, hi, _LEFT, _WIDTH - _RIGHT)
    y = _scale(0.0, top, _HEIGHT - _BOTTOM, _TOP)
    xs, y0 = x(edges), _HEIGHT - _BOTTOM
    paths = "".join(
        f'<path class="{cls}" d="{_bars_path(xs, y(shares), y0)}"/>'
        for cls, shares in (("ref", ref), ("curo", cur))
    )
    svg = _svg(_HEIGHT, _axes(x, y, lo, hi, top) + paths
               + _legend(names, ("ref", "curo")))
    caption = ("Share of each sample's observed values per bin; bins span the 0.5-99.5 % "
               "quantile range of both samples, so the tails beyond are not drawn.")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _ecdf_figure(p: ColumnProfile, names: tuple[str, str]) -> str:
    ref_q = np.asarray(p.reference_quantiles, dtype=np.float64)
    cur_q = np.asarray(p.current_quantiles, dtype=np.float64)
    if ref_q.size < 2 or not (np.isfinite(ref_q).all() and np.isfinite(cur_q).all()):
        return '<p class="muted">ECDF not available.</p>'
    lo, hi = _span(p.bin_edges[0], p.bin_edges[-1])
    x = _scale(lo, hi, _LEFT, _WIDTH - _RIGHT)
    y = _scale(0.0, 1.0, _HEIGHT - _BOTTOM, _TOP)
    paths = "".join(
        f'<path class="{cls}" d="{_ecdf_path(x, y, q, lo, hi)}"/>'
        for cls, q in (("refl", ref_q), ("curl", cur_q))
    )
    svg = _svg(_HEIGHT, _axes(x, y, lo, hi, 1.0) + paths
               + _legend(names, ("refl", "curl")))
    caption = ("Empirical CDF from each sample's percentiles (share of values at or below x) "
               "on the histogram's x range; a horizontal gap between the curves is a shift "
               "in value.")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _categories_figure(p: ColumnProfile, unseen: Sequence[str],
                       names: tuple[str, str]) -> str:
    ref = np.asarray(p.reference_share, dtype=np.float64)
    cur = np.asarray(p.current_share, dtype=np.float64)
    n = len(p.categories)
    height = _TOP + n * _CATEGORY_ROW_HEIGHT + _BOTTOM
    top = max(float(ref.max()), float(cur.max()), 1e-12) * 1.05
    x0 = _CATEGORY_LABEL_WIDTH
    x = _scale(0.0, top, x0, _WIDTH - _RIGHT)
    ticks, labels = _ticks(0.0, top, percent=True)
    grid = "".join(
        f'<line class="grid" x1="{px:.1f}" y1="{_TOP}" x2="{px:.1f}" y2="{height - _BOTTOM}"/>'
        f'<text x="{px:.1f}" y="{height - _BOTTOM + 14}" text-anchor="middle">{label}</text>'
        for px, label in zip(x(ticks), labels, strict=True)
    )
    new = set(unseen)
    rows = []
    for k, label in enumerate(p.categories):
        row_y = _TOP + k * _CATEGORY_ROW_HEIGHT
        shown = _truncate(label + (" (new)" if label in new else ""), _MAX_LABEL_CHARS)
        cls = ' class="new"' if label in new else ""
        rows.append(
            f'<g><title>{_esc(label)}: {_names_share(names, ref[k], cur[k])}</title>'
            f'<text x="{x0 - 6}" y="{row_y + 15}" text-anchor="end"{cls}>{_esc(shown)}</text>'
            f'<rect class="ref" x="{x0}" y="{row_y + 3}" width="{x(ref[k]) - x0:.1f}" '
            f'height="8"/><rect class="cur" x="{x0}" y="{row_y + 11}" '
            f'width="{x(cur[k]) - x0:.1f}" height="8"/></g>'
        )
    axis = (f'<line class="axis" x1="{x0}" y1="{_TOP}" x2="{x0}" y2="{height - _BOTTOM}"/>'
            f'<text x="{(x0 + _WIDTH - _RIGHT) / 2:.0f}" y="{height - 4}" '
            'text-anchor="middle">share of observed values</text>')
    svg = _svg(height, grid + axis + "".join(rows) + _legend(names, ("ref", "cur")))
    rest_ref, rest_cur = 1.0 - float(ref.sum()), 1.0 - float(cur.sum())
    caption = "Share of each sample's observed values per category"
    if max(rest_ref, rest_cur) > 5e-4:
        caption += (f"; the {n} most frequent shown, the others hold {rest_ref:.1%} of "
                    f"{_esc(names[0])} and {rest_cur:.1%} of {_esc(names[1])}")
    return f"<figure>{svg}<figcaption>{caption}.</figcaption></figure>"


def _names_share(names: tuple[str, str], ref: float, cur: float) -> str:
    return f"{_esc(names[0])} {ref:.1%}, {_esc(names[1])} {cur:.1%}"


def _svg(height: int, body: str) -> str:
    return (f'<svg width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
            f'role="img">{body}</svg>')


def _axes(x: Any, y: Any, x_lo: float, x_hi: float, y_hi: float) -> str:
    """Grid lines, tick labels and frame of a chart of shares (0 to ``y_hi``) over values."""
    bottom, right = _HEIGHT - _BOTTOM, _WIDTH - _RIGHT
    x_ticks, x_labels = _ticks(x_lo, x_hi)
    y_ticks, y_labels = _ticks(0.0, y_hi, percent=True)
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
    for cls, name in zip(classes, names, strict=True):
        label = _legend_label(name)
        mark = (f'<path class="{cls}" d="M{x},15H{x + 14}"/>' if cls.endswith("l")
                else f'<rect class="{cls}" x="{x}" y="9" width="12" height="12"/>')
        out.append(f'{mark}<text x="{x + 18}" y="19">{_esc(label)}</text>')
        x += 36 + round(6.2 * len(label))
    return "".join(out)


def _legend_label(name: str) -> str:
    """A sample name short enough for a legend; of a long file path, its file name."""
    if len(name) > _MAX_LEGEND_CHARS:
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _truncate(name, _MAX_LEGEND_CHARS, keep_end=True)


def _bars_path(xs: np.ndarray, ys: np.ndarray, y0: float) -> str:
    """Outline of a histogram as one path: up to each bar's top, across, down at the end."""
    steps = "".join(f"V{top:.1f}H{right:.1f}"
                    for top, right in zip(ys.tolist(), xs[1:].tolist(), strict=True))
    return f"M{xs[0]:.1f},{y0:.1f}{steps}V{y0:.1f}Z"


def _ecdf_path(x: Any, y: Any, quantiles: np.ndarray, lo: float, hi: float) -> str:
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


def _scale(lo: float, hi: float, px_lo: float, px_hi: float) -> Any:
    factor = (px_hi - px_lo) / (hi - lo)
    return lambda v: px_lo + (np.asarray(v, dtype=np.float64) - lo) * factor


def _span(lo: float, hi: float) -> tuple[float, float]:
    """The axis range; a degenerate one (every value equal) is widened around its value."""
    lo, hi = float(lo), float(hi)
    if hi > lo:
        return lo, hi
    pad = 0.5 * max(abs(lo), 1.0)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, *, percent: bool = False,
           target: int = 5) -> tuple[np.ndarray, list[str]]:
    """About ``target`` round tick values (1, 2 or 5 times a power of ten) in [lo, hi]."""
    raw = (hi - lo) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw * 0.999)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = np.arange(first, last + 1) * step
    if percent:
        return ticks, [label + "%" for label in _tick_labels(ticks * 100, step * 100)]
    return ticks, _tick_labels(ticks, step)


def _tick_labels(ticks: np.ndarray, step: float) -> list[str]:
    """Short tick texts with one style per axis: 12k (not 12000), 0.25, 1e-05."""
    largest = float(np.abs(ticks).max())
    if step < 1e-3 or largest >= 1e13:
        return [f"{v:.3g}" if v else "0" for v in ticks]
    scale, suffix = next(((s, x) for s, x, above in _SUFFIXES if largest >= above), (1.0, ""))
    decimals = max(0, -math.floor(math.log10(step / scale) + 1e-9))
    return [f"{v / scale:.{decimals}f}{suffix}" if v else "0" for v in ticks]


# -- small formatting helpers -------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _truncate(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "\u2026" + text[-(limit - 1):] if keep_end else text[: limit - 1] + "\u2026"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any, spec: str) -> str:
    return format(value, spec) if _finite(value) else "&ndash;"


def _fmt_p(p: float | None) -> str:
    if not _finite(p):
        return "&ndash;"
    if p == 0:
        return "&lt; 1e-300"
    return f"{p:.2g}" if p < 1e-4 else f"{p:.3g}"


def _fmt_any(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value, ".4g")
    return "\u2013" if value is None else str(value)


def _num_cell(value: Any, spec: str, unit: str = "") -> str:
    if not _finite(value):
        return '<td class="n" data-v="">&ndash;</td>'
    suffix = f" <small>{_esc(unit)}</small>" if unit else ""
    return f'<td class="n" data-v="{value!r}">{format(value, spec)}{suffix}</td>'


def _p_cell(p: float | None) -> str:
    if not _finite(p):
        return '<td class="n" data-v="">&ndash;</td>'
    return f'<td class="n" data-v="{p!r}">{_fmt_p(p)}</td>'


def _any_cell(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f'<td data-v="{int(value)}">{"yes" if value else "&ndash;"}</td>'
    if isinstance(value, int | float):
        if "pvalue" in key or key.startswith("p_"):
            return _p_cell(float(value))
        return _num_cell(value, ".4g")
    return f"<td>{_esc(_fmt_any(value))}</td>"


def _distance_cell(c: ColumnDrift) -> str:
    if c.distance is None or c.distance_ci is None:
        return "<td></td>"
    low, high = c.distance_ci
    return (f'<td class="n" data-v="{c.distance:.6g}">{c.distance:.3f} '
            f"<small>({low:.3f}&ndash;{high:.3f})</small></td>")


def _drift_badge(c: ColumnDrift, alpha: float) -> str:
    """DRIFT or no drift, saying which test flagged a drifted column."""
    if c.relevant is not None:
        if c.relevant:
            return '<span class="badge drift">RELEVANT</span>'
        if c.detected:
            return '<span class="badge ok">detected, not relevant</span>'
        return '<span class="badge ok">no drift</span>'
    if not c.drifted:
        return '<span class="badge ok">no drift</span>'
    reasons = []
    if c.pvalue_adjusted <= alpha:
        reasons.append("distribution")
    if c.missing_pvalue_adjusted is not None and c.missing_pvalue_adjusted <= alpha:
        reasons.append("missing rate")
    return f'<span class="badge drift">DRIFT</span> <small>{" + ".join(reasons)}</small>'

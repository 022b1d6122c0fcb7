"""A drift report as one self-contained HTML file.

The page holds the verdict, a dataset overview (columns by kind, how each kind was
inferred, excluded columns and why, notes), a sortable results table with a sparkline per
column, both samples' summary statistics, the multivariate verdict, a plain-language
reading of the localisation ranking and one panel per column with its charts
(:mod:`shiftguard.report.panels`, :mod:`shiftguard.report.charts`). Charts are inline SVG
drawn from the report's small profiles, styling is inline CSS and table sorting a few lines
of inline JavaScript, so the file loads nothing from anywhere and costs a few kilobytes per
column. Every string that comes from the data (column names, category labels, terms,
sample names, notes) is HTML-escaped.

The results table and the panels list drifted columns first, then by ``distance`` --
the Kolmogorov-Smirnov distance of numeric and datetime columns, the total variation of
categorical ones, one 0-1 scale for every kind, unlike the effect sizes (Wasserstein
distance in SDs, total variation) -- largest first; text columns, which have no distance,
follow by adjusted p-value. A click on a header re-sorts the table by that column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shiftguard.errors import ParameterError
from shiftguard.report._format import (
    esc,
    fmt,
    fmt_p,
    num_cell,
    p_cell,
    plural,
    share_cell,
)
from shiftguard.report.panels import column_panel
from shiftguard.report.tables import default_order, results_table, summary_table

if TYPE_CHECKING:
    from shiftguard.drift import DriftReport, MultivariateDrift

_KINDS = ("numeric", "datetime", "categorical", "text")
_MAX_NAMES_PER_GROUP = 12

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

_LOCALIZATION_METHODS = {
    "gaussian": "a Gaussian linear model of each feature given the others, refitted in "
                "every permutation: it tests whether the conditional mean or the spread "
                "of the prediction errors changed",
    "ridge": "ridge regressions of each feature on the others, fitted once on half of the "
             "reference: it tests whether the conditional mean or the spread of the "
             "prediction errors changed",
    "knn": "nearest-neighbour graphs with and without each feature: it tests how much "
           "the feature, given the others, helps to tell the samples apart",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
margin:0 auto;max-width:1320px;padding:16px 24px 48px;overflow-wrap:anywhere}
h1{font-size:24px;margin:8px 0 12px}h2{font-size:19px;margin:28px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:0 0 4px}
h4{font-size:14px;margin:4px 0}
.verdict{padding:12px 16px;border-radius:6px;margin-bottom:8px;font-size:16px}
.verdict.drift{background:#fdecea;border-left:6px solid #c62828}
.verdict.ok{background:#e8f5e9;border-left:6px solid #2e7d32}
.muted,small{color:#666}
.tablewrap{max-height:70vh;max-width:100%;overflow:auto;border:1px solid #ddd;
border-radius:4px;margin:6px 0}
.tablewrap.auto{display:inline-block}table.auto,.auto table{width:auto}
table{border-collapse:collapse;width:100%;font-size:13px;overflow-wrap:normal}
th,td{padding:4px 5px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{white-space:normal;vertical-align:bottom;background:#f5f5f5;position:sticky;top:0;
user-select:none}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.wrap,td.unseen{white-space:normal;max-width:14em;overflow-wrap:anywhere}
td.wrap{min-width:6em}td.flag{white-space:normal;overflow-wrap:normal}
td.name{white-space:normal}td.name a{display:inline-block;min-width:8.5em;max-width:16em;
overflow-wrap:anywhere}
td.spark{padding:1px 6px;line-height:0}
html.js table.sortable th:not([data-nosort]){cursor:pointer}
html.js table.sortable th:not([data-nosort])::after{content:"\\a0\\2195";color:#aaa}
th[aria-sort=ascending]::after{content:"\\a0\\25B2"!important;color:#333!important}
th[aria-sort=descending]::after{content:"\\a0\\25BC"!important;color:#333!important}
tr.drift td{background:#fdecea}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;
font-weight:600;vertical-align:middle}
.badge.drift{background:#c62828;color:#fff}.badge.ok{background:#e0e0e0;color:#444}
.panel{border:1px solid #ddd;border-radius:6px;padding:12px 14px;margin:14px 0}
.panel.drift{border-left:6px solid #c62828}
.meta{margin:2px 0 8px;color:#444}.unseen{color:#c62828}
ul.notes{margin:4px 0 8px;padding-left:20px;color:#8a4b00}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
table.stats{width:auto;align-self:flex-start}table.stats th{position:static}
table.stats th[scope=row]{background:none;font-weight:normal;color:#555}
.newvocab{max-width:440px}ul.examples{padding-left:18px;margin:4px 0;font-size:13px}
figure{margin:0;max-width:100%}figcaption{font-size:12px;color:#666;max-width:440px}
svg{max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#444}
svg .grid{stroke:#e6e6e6}svg .axis{stroke:#999}
svg .ref{fill:#3b75af;fill-opacity:.45;stroke:#3b75af}
svg .cur{fill:#e1812c;fill-opacity:.45;stroke:#e1812c}
svg .curo{fill:none;stroke:#e1812c;stroke-width:2}
svg.spark .curo{stroke-width:1.5}svg.spark .ref{stroke-width:.5}
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
    if (th.hasAttribute("data-nosort")) { return; }
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

    Raises
    ------
    ParameterError
        If ``report`` is not a :class:`~shiftguard.drift.DriftReport` or a name is not
        a string.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.drift import compare
    >>> rng = np.random.default_rng(0)
    >>> report = compare(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + [0, 1])
    >>> page = render_html(report, title="demo")
    >>> page.startswith("<!DOCTYPE html>"), page.count('<svg class="spark"')
    (True, 2)
    """
    from shiftguard.drift import DriftReport

    if not isinstance(report, DriftReport):
        raise ParameterError(
            f"report must be a DriftReport (from shiftguard.drift.compare), "
            f"got {type(report).__name__}"
        )
    check_strings(title=title, reference_name=reference_name, current_name=current_name)
    names = (reference_name, current_name)
    rows = (report.n_reference, report.n_current)
    order = default_order(report.columns)
    panels = "".join(column_panel(report.columns[i], i, names, report.alpha, rows)
                     for i in order)
    return page(title, [
        _header(report, names),
        "<h2>Dataset overview</h2>",
        _overview(report),
        "<h2>Results by column</h2>",
        '<p class="muted">Drifted columns first, then by distance (Kolmogorov&ndash;Smirnov '
        "for numeric and datetime columns, total variation for categorical ones: one 0-1 "
        "scale for every kind), largest first. Click a column header to sort by it; click a "
        "column name to see its charts. Adjusted p-values are corrected over the whole "
        "family of tests. In the small charts the reference is blue, the current sample "
        "orange.</p>",
        results_table(report, order),
        "<h2>Summary statistics</h2>",
        summary_table(report, order, names),
        "<h2>Multivariate test</h2>",
        _multivariate_section(report.multivariate, report.alpha),
        "<h2>Which features shifted given the others (localisation)</h2>",
        _localization_section(report.localization, report.drifted),
        "<h2>Columns</h2>",
        panels or '<p class="muted">No columns were compared.</p>',
    ])


def page(title: str, sections: list[str]) -> str:
    """A self-contained HTML page: the shared style sheet, ``title`` as heading, the
    ``sections`` in order, then the shared table-sorting script."""
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        *sections,
        f"<script>{_JS}</script></body></html>\n",
    ])


def check_strings(**values: object) -> None:
    """Raise ``ParameterError`` naming the first of ``values`` that is not a ``str``."""
    for name, value in values.items():
        if not isinstance(value, str):
            raise ParameterError(f"{name} must be a string, got {type(value).__name__}")


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
    target = writable_target(path)
    page = render_html(report, title=title, reference_name=reference_name,
                       current_name=current_name)
    target.write_text(page, encoding="utf-8")
    return target


def writable_target(path: str | Path) -> Path:
    """``path`` as a file a report can be written to, or a ``ParameterError`` saying why
    not (a directory, or in a directory that does not exist)."""
    target = Path(path)
    if target.is_dir():
        raise ParameterError(f"path {str(target)!r} is a directory; give a file name")
    if not target.parent.is_dir():
        raise ParameterError(f"path {str(target)!r}: directory {str(target.parent)!r} "
                             "does not exist")
    return target


# -- verdict and overview --------------------------------------------------------------


def _header(report: DriftReport, names: tuple[str, str]) -> str:
    sizes = (f"<p>{esc(names[0])}: <strong>{report.n_reference:,}</strong> rows &middot; "
             f"{esc(names[1])}: <strong>{report.n_current:,}</strong> rows.</p>")
    if report.min_effect is not None:
        return _relevance_header(report, sizes)
    n_cols = len(report.columns)
    n_drift = sum(c.drifted for c in report.columns)
    multi = report.multivariate
    columns = plural(n_cols, "column")
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
    n_missing_tests = sum(c.missing_pvalue is not None for c in report.columns)
    n_token_tests = sum(c.non_numeric_pvalue is not None for c in report.columns)
    family = ["per-column distribution tests"]
    if n_missing_tests:
        family.append("missing-rate tests")
    if n_token_tests:
        family.append("non-numeric token-rate tests")
    if multi is not None:
        family.append("the multivariate test")
    n_tests = n_cols + n_missing_tests + n_token_tests + (multi is not None)
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
        f'<div class="verdict {"drift" if report.drifted else "ok"}">{verdict}.</div>{sizes}'
        f"<p>All {n_tests} tests ({parts}) are corrected together with {procedure} at "
        f"&alpha; = {alpha:.3g}: {promise}.</p>"
    )


def _relevance_header(report: DriftReport, sizes: str) -> str:
    n_cols = len(report.columns)
    n_relevant = sum(c.drifted for c in report.columns)
    n_detected = sum(c.detected for c in report.columns)
    delta = report.min_effect
    if report.drifted:
        verdict = (f"<strong>Relevant drift</strong>: {n_relevant} of "
                   f"{plural(n_cols, 'column')} changed by more than {delta:g}")
    else:
        verdict = f"<strong>No relevant drift</strong>: no column changed by more than {delta:g}"
    procedure, rate, assumption = _CORRECTIONS[report.correction]
    return (
        f'<div class="verdict {"drift" if report.drifted else "ok"}">{verdict}.</div>{sizes}'
        f"<p>A column is flagged when its distribution moved by more than {delta:g} "
        "(Kolmogorov&ndash;Smirnov distance for numeric columns, total variation for "
        "categorical ones and for missing-value rates: the largest change in the share of "
        "values below any threshold, or in any set of categories). These relevance tests are "
        f"finite-sample and corrected together with {procedure} at &alpha; = "
        f"{report.alpha:.3g} ({rate}, {assumption}). {n_detected} column(s) show a "
        "statistically detectable change of any size; the table shows both.</p>"
    )


def _overview(report: DriftReport) -> str:
    """Columns by kind, how each kind was inferred, what was left out, and the notes."""
    cols = report.columns
    present = Counter(c.kind for c in cols)
    kinds = [k for k in _KINDS if present[k]] + sorted(set(present) - set(_KINDS))
    by_kind = ", ".join(f"{present[k]} {esc(k)}" for k in kinds)
    excluded = report.excluded
    parts = [f"<p><strong>{plural(len(cols), 'column')} compared</strong>"
             f"{': ' + by_kind if by_kind else ''}"
             f"{f'; {len(excluded)} left out (below)' if excluded else ''}.</p>"]
    groups: dict[tuple[str, str], list[str]] = {}
    for c in cols:
        groups.setdefault((c.kind, c.inferred), []).append(c.name)
    if any(inferred for _, inferred in groups):
        rows = "".join(
            f"<tr><td>{esc(kind)}</td><td>{esc(inferred) or '&ndash;'}</td>"
            f'<td class="n">{len(members)}</td><td class="wrap">{_name_list(members)}</td></tr>'
            for (kind, inferred), members in sorted(groups.items())
        )
        parts.append(
            "<h4>How each column's kind was decided</h4>"
            '<div class="tablewrap auto"><table><thead><tr><th>kind</th><th>decided from</th>'
            f"<th>columns</th><th>names</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    if excluded:
        rows = "".join(
            f"<tr><td>{esc(e.name)}</td><td>{esc(e.kind)}</td>"
            f'<td class="wrap">{esc(e.reason)}</td>'
            f"{share_cell(e.new_share)}</tr>"
            for e in excluded
        )
        parts.append(
            "<h4>Left out of the tests</h4>"
            '<div class="tablewrap auto"><table><thead><tr><th>column</th><th>kind</th>'
            '<th>why</th><th title="Share of current values never seen in the reference">'
            f"new values</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    notes = [esc(n) for n in report.notes]
    notes += [f"<strong>{esc(c.name)}</strong>: {esc(n)}" for c in cols for n in c.notes]
    if notes:
        parts.append('<h4>Notes</h4><ul class="notes">'
                     + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")
    return "".join(parts)


def _name_list(names: Sequence[str]) -> str:
    shown = ", ".join(esc(n) for n in names[:_MAX_NAMES_PER_GROUP])
    more = len(names) - _MAX_NAMES_PER_GROUP
    return shown + (f" (+{more} more)" if more > 0 else "")


# -- multivariate test and localisation ------------------------------------------------


def _multivariate_section(multi: MultivariateDrift | None, alpha: float) -> str:
    if multi is None:
        return ('<p class="muted">Not run: disabled, or no numeric or categorical column to '
                "test jointly.</p>")
    badge = ('<span class="badge drift">DRIFT</span>' if multi.drifted
             else '<span class="badge ok">no drift</span>')
    return (
        f"<p>{badge} The <strong>{esc(multi.method)}</strong> two-sample test on all "
        f"{multi.n_features} features jointly (numeric columns standardised, categories "
        f"one-hot), on {multi.n_reference:,} reference and {multi.n_current:,} current rows: "
        f"statistic {fmt(multi.statistic, '.4g')}, p = {fmt_p(multi.pvalue)}, adjusted "
        f"p = {fmt_p(multi.pvalue_adjusted)} (flagged when at most {alpha:.3g}). It can "
        "detect changes in the relationships between columns that no single column shows."
        "</p>"
    )


def _localization_section(loc: Any, drifted: bool) -> str:
    """The ranking of :func:`shiftguard.drift.localize.localize_shift` and how to read it."""
    if loc is None:
        why = ("disabled, or fewer than two numeric columns" if drifted else
               "it runs only when the report finds drift, so that its flags share the "
               "report's error bound")
        return f'<p class="muted">Not run: {why}.</p>'
    method = _LOCALIZATION_METHODS.get(loc.method, "")
    floor = loc.min_pvalue_adjusted
    reach = (f"above &alpha; = {loc.alpha:.3g}, so <strong>no feature could be flagged</strong>"
             " with these settings: more permutations are needed" if floor > loc.alpha else
             "an adjusted p-value at this floor is the strongest evidence these settings "
             "can show")
    flagged = ", ".join(f"<strong>{esc(n)}</strong>" for n in loc.flagged)
    reading = (
        f"<p><strong>What a flag means.</strong> For a flagged feature X, <em>the distribution "
        "of X given the other numeric columns changed</em>: rows whose other columns look "
        "alike now have different values of X. This catches a changed relationship between "
        "columns whose own distributions did not move, and it may leave unflagged a column "
        "that moved only because the columns it depends on moved. Flagged, most clearly "
        f"first: {flagged or 'none'}.</p>"
    )
    settings = (
        f"<p><strong>How.</strong> Method <strong>{esc(loc.method)}</strong>"
        f"{': ' + method if method else ''} (Kulinski, Bagchi &amp; Inouye, 2020). Chosen "
        f"because: {esc(loc.reason)}. {loc.n_permutations:,} permutations, "
        f"{esc(loc.correction)} correction at &alpha; = {loc.alpha:.3g}; these tests form "
        "their own family, checked only after the report found drift, and are not part of "
        f"the verdict above. The smallest adjusted p-value any feature can reach is "
        f"{fmt_p(floor)}: {reach}.</p>"
    )
    features = sorted(loc.features, key=lambda f: f.rank)
    body = "".join(
        f'<tr{" class=drift" if f.flagged else ""}><td class="n">{f.rank}</td>'
        f"<td>{esc(f.name)}</td>{num_cell(f.score, '.3g')}{p_cell(f.pvalue)}"
        f"{p_cell(f.pvalue_adjusted)}<td data-v=\"{int(f.flagged)}\">"
        f"{'yes' if f.flagged else '&ndash;'}</td></tr>"
        for f in features
    )
    head = ('<th title="1 = most clearly shifted">rank</th><th>feature</th>'
            '<th title="The statistic in standard deviations of its permutation distribution">'
            'score (null SDs)</th><th>p&#8209;value</th><th>adj. p</th><th>flagged</th>')
    table = ('<div class="tablewrap auto"><table class="sortable" id="localization">'
             f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
    return reading + settings + (table if features else "")

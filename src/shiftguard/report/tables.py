"""The page's two sortable tables: drift results and summary statistics, one row a column.

Both list the columns in :func:`default_order`. Every cell that can be sorted carries its
exact value in ``data-v``, which the page's script sorts by; cells show rounded values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from shiftguard.report._format import (
    esc,
    fmt_share,
    num_cell,
    p_cell,
    share_cell,
    truncate,
    value_cell,
)
from shiftguard.report.charts import sparkline
from shiftguard.report.panels import drift_badge

if TYPE_CHECKING:
    from shiftguard.drift import ColumnDrift, DriftReport

_EFFECT_SHORT = {"wasserstein_sd": "W1/SD", "total_variation": "TV"}


def default_order(columns: Sequence[ColumnDrift]) -> list[int]:
    """Indices of ``columns`` as the page lists them: drifted first, then by distance
    (largest first); columns without a distance (text) after, by adjusted p-value."""
    return sorted(range(len(columns)), key=lambda i: (
        not columns[i].drifted,
        columns[i].distance is None,
        -(columns[i].distance or 0.0),
        columns[i].pvalue_adjusted,
    ))


Cell = Callable[["ColumnDrift", int], str]


def _results_columns(report: DriftReport) -> list[tuple[str, str, Cell]]:
    """(header, tooltip, cell) of each results-table column that applies to the report."""
    alpha, n_ref, n_cur = report.alpha, report.n_reference, report.n_current
    columns: list[tuple[str, str, Cell]] = [
        ("column", "Column name",
         lambda c, i: f'<td class="name"><a href="#col-{i}">{esc(c.name)}</a></td>'),
        ("kind", "numeric, datetime, categorical or text",
         lambda c, i: f"<td>{esc(c.kind)}</td>"),
        ("distribution", "Reference (blue) and current (orange): histogram, or shares of the "
                         "most frequent categories or text terms",
         lambda c, i: f'<td class="spark">{sparkline(c)}</td>'),
        ("statistic", "The two-sample test of the column's distribution (below) and its "
                      "statistic", lambda c, i: num_cell(c.statistic, ".4g", note=c.test)),
        ("p&#8209;value", "Raw p-value of the distribution test", lambda c, i: p_cell(c.pvalue)),
        ("adj. p", "p-value adjusted for multiple testing",
         lambda c, i: p_cell(c.pvalue_adjusted)),
        ("effect size", "W1/SD: Wasserstein-1 distance in reference standard deviations; "
                        "TV: total-variation distance of category shares",
         lambda c, i: num_cell(c.effect_size, ".3g",
                               note=_EFFECT_SHORT.get(c.effect_size_name, c.effect_size_name))),
        ("distance (CI)", "KS distance (numeric, datetime) or total variation (categorical), "
                          "0-1, with a finite-sample confidence interval at the report's level",
         lambda c, i: _distance_cell(c)),
        ("missing ref", "Share of reference rows missing (hover for the count)",
         lambda c, i: share_cell(c.missing_reference / max(n_ref, 1),
                                 f"{c.missing_reference:,} rows")),
        ("missing cur", "Share of current rows missing (hover for the count)",
         lambda c, i: share_cell(c.missing_current / max(n_cur, 1),
                                 f"{c.missing_current:,} rows")),
        ("missing adj. p", "Fisher's exact test of equal missing rates, adjusted for multiple "
                           "testing", lambda c, i: p_cell(c.missing_pvalue_adjusted)),
    ]
    if any(c.non_numeric_reference or c.non_numeric_current for c in report.columns):
        columns += [
            ("non-numeric ref / cur", "Share of rows holding a token that is neither a number "
                                      "nor missing (\"unknown\", say), reference / current",
             lambda c, i: _non_numeric_cell(c, n_ref, n_cur)),
            ("non-numeric adj. p", "Fisher's exact test of equal non-numeric token rates, "
                                   "adjusted for multiple testing",
             lambda c, i: p_cell(c.non_numeric_pvalue_adjusted)),
        ]
    columns.append(("unseen", "Categories in the current sample never seen in the reference",
                    lambda c, i: _unseen_cell(c)))
    if report.min_effect is not None:
        columns += [
            ("rel. adj. p", "Relevance test: adjusted p-value of H0: the distance is at "
                            f"most {report.min_effect:g}",
             lambda c, i: p_cell(c.relevance_pvalue_adjusted)),
            ("missing rel. adj. p", "Relevance test of the missing rates: adjusted p-value of "
                                    f"H0: they differ by at most {report.min_effect:g}",
             lambda c, i: p_cell(c.missing_relevance_pvalue_adjusted)),
        ]
    columns.append(("drift", "Flagged after correction, and by which test",
                    lambda c, i: f'<td class="flag" data-v="{int(c.drifted)}">'
                                 f"{drift_badge(c, alpha)}</td>"))
    return columns


def results_table(report: DriftReport, order: Sequence[int]) -> str:
    columns = _results_columns(report)
    head = "".join(
        f'<th title="{esc(tip)}"{" data-nosort" if label == "distribution" else ""}>{label}</th>'
        for label, tip, _ in columns
    )
    rows = []
    for i in order:
        c = report.columns[i]
        cells = "".join(cell(c, i) for _, _, cell in columns)
        rows.append(f'<tr{" class=drift" if c.drifted else ""}>{cells}</tr>')
    return (f'<div class="tablewrap"><table class="sortable" id="results"><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _distance_cell(c: ColumnDrift) -> str:
    if c.distance is None or c.distance_ci is None:
        return '<td class="n" data-v="">&ndash;</td>'
    low, high = c.distance_ci
    return (f'<td class="n" data-v="{c.distance!r}">{c.distance:.3f}<br>'
            f"<small>{low:.3f}&ndash;{high:.3f}</small></td>")


def _non_numeric_cell(c: ColumnDrift, n_ref: int, n_cur: int) -> str:
    ref, cur = c.non_numeric_reference / max(n_ref, 1), c.non_numeric_current / max(n_cur, 1)
    if not (c.non_numeric_reference or c.non_numeric_current):
        return '<td class="n" data-v="">&ndash;</td>'
    return (f'<td class="n" data-v="{max(ref, cur)!r}" title="{c.non_numeric_reference:,} / '
            f'{c.non_numeric_current:,} rows">{fmt_share(ref)} / {fmt_share(cur)}</td>')


def _unseen_cell(c: ColumnDrift) -> str:
    unseen = len(c.unseen_categories)
    shown = ", ".join(map(repr, c.unseen_categories[:3]))  # quoted: labels may hold commas
    text = f"{unseen}: " + esc(truncate(shown, 30)) if unseen else ""
    return f'<td class="unseen" data-v="{unseen}">{text}</td>'


_SUMMARY_FIELDS = (
    ("missing", "missing_share", "Share of rows missing"),
    ("distinct", "distinct", "Distinct observed values"),
    ("mean", "mean", "Mean of the observed values (a date for datetime columns)"),
    ("sd", "std", "Standard deviation of the observed values (a span of time for datetime "
                  "columns)"),
)


def summary_table(report: DriftReport, order: Sequence[int], names: tuple[str, str]) -> str:
    """Missing share, distinct count, mean and SD of every column in both samples."""
    head = "".join(
        f'<th title="{esc(tip)}, {esc(name)}">{label} {which}</th>'
        for label, _, tip in _SUMMARY_FIELDS for which, name in zip(("ref", "cur"), names,
                                                                     strict=True)
    )
    rows = []
    for i in order:
        c = report.columns[i]
        p = c.profile
        cells = []
        for _, key, _ in _SUMMARY_FIELDS:
            for summary in (p.reference_summary, p.current_summary):
                value = None if summary is None else getattr(summary, key)
                if key == "missing_share":
                    cells.append(share_cell(value))
                elif key == "distinct":
                    cells.append(num_cell(value, ","))
                else:
                    cells.append(value_cell(value, dates=p.datetime, spread=key == "std"))
        rows.append(f'<tr><td class="name"><a href="#col-{i}">{esc(c.name)}</a></td>'
                    f"<td>{esc(c.kind)}</td>{''.join(cells)}</tr>")
    return ('<div class="tablewrap auto"><table class="sortable" id="summaries"><thead><tr>'
            f"<th>column</th><th>kind</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")

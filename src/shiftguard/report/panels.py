"""One panel per column: its tests, summary statistics, notes and charts.

Numeric and datetime columns get an overlaid histogram and ECDF (date axes for
datetimes), categorical ones grouped bars of category shares, text columns their lengths,
top terms with both samples' shares and the vocabulary new in the current sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shiftguard.report._format import (
    esc,
    fmt,
    fmt_p,
    fmt_share,
    fmt_value,
    plural,
)
from shiftguard.report.charts import ecdf_figure, histogram_figure, shares_figure

if TYPE_CHECKING:
    from shiftguard.drift import ColumnDrift

_MAX_LISTED_UNSEEN = 10

_EFFECT_NAMES = {
    "wasserstein_sd": "Wasserstein-1 distance in reference SDs",
    "total_variation": "total-variation distance of category shares",
}


def column_panel(c: ColumnDrift, i: int, names: tuple[str, str], alpha: float,
                 n_rows: tuple[int, int]) -> str:
    """The panel of column ``c`` (anchor ``col-{i}``); ``n_rows`` are both tables' rows."""
    effect = ""
    if c.effect_size is not None:
        label = _EFFECT_NAMES.get(c.effect_size_name, c.effect_size_name)
        effect = f" &middot; effect size {fmt(c.effect_size, '.3g')} ({esc(label)})"
    missing = f" &middot; missing {c.missing_reference:,} / {c.missing_current:,}"
    if c.missing_pvalue is not None:
        missing += (f" (Fisher p = {fmt_p(c.missing_pvalue)}, adjusted "
                    f"{fmt_p(c.missing_pvalue_adjusted)})")
    inferred = f" (from {esc(c.inferred)})" if c.inferred else ""
    meta = (f"{esc(c.kind)}{inferred} &middot; {esc(c.test)} statistic "
            f"{fmt(c.statistic, '.4g')}, p = {fmt_p(c.pvalue)}, adjusted p = "
            f"{fmt_p(c.pvalue_adjusted)}{effect}{missing} &middot; observed "
            f"{c.n_reference:,} / {c.n_current:,}")
    if c.relevant is not None and c.relevance_pvalue_adjusted is not None:
        meta += (f"<br>Relevance test (moved by more than the tolerance): adjusted p = "
                 f"{fmt_p(c.relevance_pvalue_adjusted)}")
    lines = [f"<p class=meta>{meta}</p>"]
    if c.non_numeric_reference or c.non_numeric_current:
        lines.append(_non_numeric_line(c, n_rows))
    if c.unseen_categories:
        lines.append(_unseen_line(c.unseen_categories))
    if c.notes:
        lines.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in c.notes)
                     + "</ul>")
    stats = _stats_table(c, names)
    return (
        f'<section class="panel{" drift" if c.drifted else ""}" id="col-{i}">'
        f"<h3>{esc(c.name)} {drift_badge(c, alpha)}</h3>{''.join(lines)}"
        f'<div class="charts">{stats}{_charts(c, names)}</div></section>'
    )


def drift_badge(c: ColumnDrift, alpha: float) -> str:
    """DRIFT or no drift, saying which test flagged a drifted column."""
    if c.relevant is not None:
        if c.relevant:
            return '<span class="badge drift">RELEVANT</span>'
        if c.detected:
            return '<span class="badge ok">detected, not relevant</span>'
        return '<span class="badge ok">no drift</span>'
    if not c.drifted:
        return '<span class="badge ok">no drift</span>'
    tests = (("distribution", c.pvalue_adjusted),
             ("missing rate", c.missing_pvalue_adjusted),
             ("non-numeric tokens", c.non_numeric_pvalue_adjusted))
    reasons = [name for name, p in tests if p is not None and p <= alpha]
    return f'<span class="badge drift">DRIFT</span> <small>{" + ".join(reasons)}</small>'


def _charts(c: ColumnDrift, names: tuple[str, str]) -> str:
    p = c.profile
    if c.kind in ("numeric", "datetime") and p.bin_edges:
        return histogram_figure(p, names) + ecdf_figure(p, names)
    if c.kind == "categorical" and p.categories:
        caption = "Share of each sample's observed values per category"
        rest_ref, rest_cur = 1.0 - sum(p.reference_share), 1.0 - sum(p.current_share)
        if max(rest_ref, rest_cur) > 5e-4:
            caption += (f"; the {len(p.categories)} most frequent shown, the others hold "
                        f"{rest_ref:.1%} of {esc(names[0])} and {rest_cur:.1%} of "
                        f"{esc(names[1])}")
        return shares_figure(p.categories, p.reference_share, p.current_share, names,
                             new=c.unseen_categories, caption=caption + ".")
    if c.kind == "text" and p.text is not None:
        return _text_panel(p.text, names)
    if c.kind == "text":
        return ('<p class="muted">Text column: compared through its embedding '
                "distribution, which has no one-dimensional chart.</p>")
    return '<p class="muted">No profile to plot.</p>'


def _text_panel(text: Any, names: tuple[str, str]) -> str:
    """Top terms with both shares, and the current sample's new vocabulary."""
    parts = []
    if text.top_terms:
        parts.append(shares_figure(
            text.top_terms, text.reference_term_share, text.current_term_share, names,
            axis_label="share of texts containing the term",
            caption="The most frequent word terms of both samples (lower-cased, stop words "
                    "removed) and the share of each sample's texts that contain them.",
        ))
    if text.new_terms:
        rows = "".join(f'<tr><td>{esc(term)}</td><td class="n">{count:,}</td></tr>'
                       for term, count in zip(text.new_terms, text.new_term_counts,
                                              strict=True))
        examples = "".join(f"<li>{esc(e)}</li>" for e in text.new_term_examples)
        parts.append(
            '<div class="newvocab"><h4>New vocabulary</h4><p class="muted">Terms of '
            f"{esc(names[1])} never seen in {esc(names[0])}, most frequent first.</p>"
            '<table class="auto"><thead><tr><th>term</th><th>count</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            + (f"<h4>Examples</h4><ul class=examples>{examples}</ul>" if examples else "")
            + "</div>"
        )
    else:
        parts.append('<p class="muted">No term of the current texts is new.</p>')
    return "".join(parts)


def _stats_table(c: ColumnDrift, names: tuple[str, str]) -> str:
    """Both samples' summary statistics side by side (rows that apply to the column)."""
    ref, cur = c.profile.reference_summary, c.profile.current_summary
    if ref is None or cur is None:
        return ""
    dates = c.profile.datetime
    rows: list[tuple[str, str, str]] = [
        ("observed", f"{ref.count:,}", f"{cur.count:,}"),
        ("missing", fmt_share(ref.missing_share), fmt_share(cur.missing_share)),
        ("distinct", f"{ref.distinct:,}", f"{cur.distinct:,}"),
    ]
    rows += [
        (label, fmt_value(getattr(ref, key), dates=dates, spread=key == "std"),
         fmt_value(getattr(cur, key), dates=dates, spread=key == "std"))
        for label, key in (("mean", "mean"), ("sd", "std"), ("min", "min"), ("max", "max"))
        if getattr(ref, key) is not None or getattr(cur, key) is not None
    ]
    text = c.profile.text
    if text is not None:
        rows += [
            ("mean characters", fmt(text.reference_mean_length, ".4g"),
             fmt(text.current_mean_length, ".4g")),
            ("mean words", fmt(text.reference_mean_words, ".3g"),
             fmt(text.current_mean_words, ".3g")),
        ]
    body = "".join(f'<tr><th scope="row">{label}</th><td class="n">{r}</td>'
                   f'<td class="n">{k}</td></tr>' for label, r, k in rows)
    return (f'<table class="stats"><thead><tr><th></th><th title="{esc(names[0])}">ref</th>'
            f'<th title="{esc(names[1])}">cur</th></tr></thead><tbody>{body}</tbody></table>')


def _non_numeric_line(c: ColumnDrift, n_rows: tuple[int, int]) -> str:
    shares = (c.non_numeric_reference / max(n_rows[0], 1),
              c.non_numeric_current / max(n_rows[1], 1))
    test = ""
    if c.non_numeric_pvalue is not None:
        test = (f" (Fisher p = {fmt_p(c.non_numeric_pvalue)}, adjusted "
                f"{fmt_p(c.non_numeric_pvalue_adjusted)})")
    return (f"<p class=meta>Non-numeric tokens (neither a number nor missing): "
            f"{c.non_numeric_reference:,} ({fmt_share(shares[0])}) / "
            f"{c.non_numeric_current:,} ({fmt_share(shares[1])}){test}</p>")


def _unseen_line(unseen: Sequence[str]) -> str:
    shown = ", ".join(esc(label) for label in unseen[:_MAX_LISTED_UNSEEN])
    more = len(unseen) - _MAX_LISTED_UNSEEN
    return (f'<p class="meta unseen">{plural(len(unseen), "category", "categories")} unseen '
            f"in the reference: {shown}{f' (+{more} more)' if more > 0 else ''}</p>")

"""The parts of the dashboard's monitor page: each feature's drift over the batches, the
model-error stream and the table of batches, from what :mod:`.storage` holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, func, select, true
from sqlalchemy import column as sql_column

from shiftguard.report._format import esc, fmt, fmt_p
from shiftguard.service import storage
from shiftguard.service.timeline import Series, line_chart


def feature_effects(session: Any, monitor_id: int, first_step: int
                    ) -> dict[int, dict[str, tuple[float | None, str]]]:
    """Per step from ``first_step`` on: each column's effect size and the effect size's
    name, read out of the stored reports inside the database (one pass over each report's
    ``columns`` array), so the profiles in them -- some 5 kB per column -- stay there."""
    batch = storage.Batch
    if session.get_bind().dialect.name == "postgresql":
        elements = func.json_array_elements(batch.report["columns"])
    else:
        elements = func.json_each(batch.report, "$.columns")
    column = elements.table_valued(sql_column("value", JSON)).alias("report_column")
    rows = session.execute(
        select(batch.step, column.c.value["name"].as_string(),
               column.c.value["effect_size"].as_float(),
               column.c.value["effect_size_name"].as_string())
        .select_from(batch).join(column, true())
        .where(batch.monitor_id == monitor_id, batch.step >= first_step))
    effects: dict[int, dict[str, tuple[float | None, str]]] = {}
    for step, name, effect, effect_name in rows:
        effects.setdefault(step, {})[name] = (effect, effect_name)
    return effects


FEATURE_NOTE = (
    '<p class="muted">Per batch: the feature\'s effect size, and its p-value adjusted over '
    "the batch's features (Holm) with, dashed, the level the batch was given by the "
    "monitor's alpha-spending; a batch alarms when an adjusted p-value falls below that "
    "level, and then has a red band; red dots are the features that drifted in it. "
    "Features that drifted in the batches shown come first.</p>")


def feature_charts(monitor: storage.Monitor, batches: list[storage.Batch],
                    effects: dict[int, dict[str, tuple[float | None, str]]]) -> str:
    steps = [b.step for b in batches]
    alarms = [b.alarm for b in batches]
    levels = [b.result["alpha_spent"] for b in batches]
    drifted = [set(b.result["drifted_columns"]) if b.alarm else set() for b in batches]
    order = sorted(range(len(monitor.columns)),
                   key=lambda i: not any(monitor.columns[i] in d for d in drifted))
    figures = []
    for i in order:
        name = monitor.columns[i]
        marked = [name in d for d in drifted]
        p_adj = [b.result["pvalues_adjusted"].get(name) for b in batches]
        effect = [effects.get(b.step, {}).get(name, (None, ""))[0] for b in batches]
        effect_name = effects.get(steps[-1], {}).get(name, (None, "effect size"))[1]
        notes = [f"batch {s}: effect size {fmt(e, '.3g')}, adjusted p {fmt_p(p)}, level "
                 f"{fmt_p(lv)}{' (drifted)' if m else ''}".replace("&ndash;", "-")
                 .replace("&lt;", "<")
                 for s, e, p, lv, m in zip(steps, effect, p_adj, levels, marked, strict=True)]
        charts = (
            line_chart(Series(steps, effect, alarms, marked, notes),
                       title=f"{name}: effect size per batch", y_label=f"effect size "
                       f"({effect_name})"),
            line_chart(Series(steps, p_adj, alarms, marked, notes, level=levels),
                       title=f"{name}: adjusted p-value per batch",
                       y_label="adjusted p-value (log scale)", log_p=True),
        )
        figures.append(f'<div class="feature{" drift" if any(marked) else ""}">'
                       f"<h3>{esc(name)}</h3>{charts[0]}<br>{charts[1]}</div>")
    return f'<div class="features">{"".join(figures)}</div>'


def error_stream(monitor: storage.Monitor, batches: list[storage.Batch]) -> str:
    spec = monitor.options.get("error_detector")
    if not spec:
        return ('<p class="muted">This monitor has no model-error detector (choose one when '
                "creating a monitor, then post errors with the batches).</p>")
    streams = [b.result.get("error_stream") for b in batches]
    if not any(streams):
        return (f'<p class="muted">Detector {esc(spec["name"])}: no model errors posted in '
                "the batches shown.</p>")
    steps = [b.step for b in batches]
    alarms = [bool(s and s["alarm"]) for s in streams]
    seen = [s["n_seen"] if s else None for s in streams]
    notes = [f"batch {b}: " + (f"{s['n_values']} errors, {s['n_seen']} since the detector's "
                               f"last reset{', alarm' if s['alarm'] else ''}" if s else
                               "no errors posted")
             for b, s in zip(steps, streams, strict=True)]
    chart = line_chart(Series(steps, seen, alarms, alarms, notes),
                       title="model-error stream: values since the detector's last reset",
                       y_label="errors seen since the last reset")
    return (f"<p>Detector {esc(spec['name'])}; it starts afresh after each alarm (red).</p>"
            f"{chart}")


def batches_table(monitor_id: int, batches: list[storage.Batch]) -> str:
    rows = "".join(_batch_row(monitor_id, b) for b in reversed(batches))
    return ('<div class="tablewrap"><table id="batches" class="sortable"><thead><tr>'
            "<th>Batch</th><th>Posted (UTC)</th><th>Rows</th><th>Drift</th>"
            "<th>Drifted columns</th><th>Smallest adjusted p</th><th>Level given</th>"
            f"<th>Error stream</th></tr></thead><tbody>{rows}</tbody></table></div>")


def _batch_row(monitor_id: int, b: storage.Batch) -> str:
    result = b.result
    badge = '<span class="badge drift">alarm</span>' if b.alarm else ""
    errors = "alarm" if (result.get("error_stream") or {}).get("alarm") else ""
    return (
        f'<tr{" class=drift" if b.alarm else ""}><td class="n" data-v="{b.step}">'
        f'<a href="/dashboard/monitors/{monitor_id}/batches/{b.step}">{b.step}</a></td>'
        f'<td>{b.created_at:%Y-%m-%d %H:%M:%S}</td><td class="n">{b.n_rows:,}</td>'
        f"<td>{badge}</td>"
        f'<td class="wrap">{esc(", ".join(result["drifted_columns"]))}</td>'
        f'<td class="n" data-v="{result["min_pvalue_adjusted"]}">'
        f'{fmt_p(result["min_pvalue_adjusted"])}</td>'
        f'<td class="n" data-v="{result["alpha_spent"]}">{fmt_p(result["alpha_spent"])}</td>'
        f"<td>{errors}</td></tr>"
    )

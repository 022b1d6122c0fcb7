"""The HTTP API through FastAPI's TestClient, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sqlalchemy import select

from shiftguard.stream import Monitor

MONITOR_OPTIONS = {"alpha": 0.05}


def test_health_needs_no_key_and_openapi_lists_the_routes(client):
    assert client.get("/health").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/projects", "/projects/{project_id}/keys", "/monitors",
                 "/monitors/{monitor_id}", "/monitors/{monitor_id}/batches",
                 "/monitors/{monitor_id}/batches/{step}", "/alerts",
                 "/alerts/{alert_id}/acknowledge"):
        assert path in paths
    body = paths["/monitors/{monitor_id}/batches"]["post"]["requestBody"]["content"]
    assert {"text/csv", "application/vnd.apache.parquet", "multipart/form-data"} <= set(body)


def test_missing_and_wrong_keys_are_401(client, new_project, new_monitor):
    project = new_project()
    monitor = new_monitor(project["headers"])
    for headers in ({}, {"X-API-Key": "sg_nope_nope"}, {"X-API-Key": project["key"] + "x"}):
        response = client.get(f"/monitors/{monitor}", headers=headers)
        assert response.status_code == 401
        assert response.json()["field"] == "X-API-Key"
    assert client.get(f"/monitors/{monitor}", headers=project["headers"]).status_code == 200


def test_only_the_admin_key_creates_projects(client, new_project, data):
    project = new_project()
    for headers in ({}, project["headers"], {"X-API-Key": data.admin_key + "x"}):
        assert client.post("/projects", json={"name": "p"}, headers=headers).status_code == 401
    response = client.post("/projects", json={"name": ""},
                           headers={"X-API-Key": data.admin_key})
    assert response.status_code == 422 and response.json()["field"] == "name"
    response = client.post("/projects", content=b'{"name": ',
                           headers={"X-API-Key": data.admin_key,
                                    "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["field"] == "body"
    assert "not valid JSON" in response.json()["detail"]


def test_another_projects_ids_are_404(client, new_project, new_monitor, data):
    mine, theirs = new_project("mine"), new_project("theirs")
    monitor = new_monitor(theirs["headers"])
    response = data.post(client, theirs["headers"], monitor, data.table(300, shift=2.0))
    alert = response.json()["alert_ids"][0]
    h = mine["headers"]
    for response in (
        client.get(f"/monitors/{monitor}", headers=h),
        client.get(f"/monitors/{monitor}/batches", headers=h),
        client.get(f"/monitors/{monitor}/batches/1", headers=h),
        data.post(client, h, monitor, data.table(300)),
        client.post(f"/alerts/{alert}/acknowledge", headers=h),
        client.post(f"/projects/{theirs['id']}/keys", headers=h),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"
    assert client.get("/monitors", headers=h).json() == []
    assert client.get("/alerts", headers=h).json() == []
    # theirs still intact and unchanged by the refused post
    assert client.get(f"/monitors/{monitor}", headers=theirs["headers"]).json()["n_batches"] == 1


def test_keys_are_stored_only_as_salted_hashes(client, new_project, settings, caplog):
    import os

    from shiftguard.service.auth import hash_key
    from shiftguard.service.storage import ApiKey

    caplog.set_level(logging.DEBUG)
    project = new_project()
    extra = client.post(f"/projects/{project['id']}/keys", headers=project["headers"])
    assert extra.status_code == 201
    keys = [project["key"], extra.json()["api_key"]]
    assert client.get("/monitors", headers={"X-API-Key": keys[1]}).status_code == 200
    client.get("/monitors", headers={"X-API-Key": keys[0] + "wrong"})
    db = client.app.state.db
    with db.read_session() as session:
        rows = list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
    assert len(rows) == 2 and rows[0].salt != rows[1].salt
    for key, row in zip(keys, rows, strict=True):
        stored = b"".join([row.key_id.encode(), row.salt, row.digest])
        assert key.encode() not in stored and key.split("_", 2)[2].encode() not in stored
        assert row.digest == hash_key(key, row.salt)
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.removeprefix("sqlite:///")
        raw = b"".join(open(p, "rb").read() for p in (path, path + "-wal")
                       if os.path.exists(p))
        assert all(k.split("_", 2)[2].encode() not in raw for k in keys)
    assert not any(k.split("_", 2)[2] in caplog.text for k in keys)


def test_failed_authentications_are_rate_limited_per_address(settings, new_project):
    import dataclasses

    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    app = create_app(dataclasses.replace(settings, auth_failures=3, auth_window=60.0))
    with TestClient(app) as client:
        key = client.post("/projects", json={"name": "p"},
                          headers={"X-API-Key": settings.admin_key}).json()["api_key"]
        for _ in range(3):
            assert client.get("/monitors", headers={"X-API-Key": "sg_a_b"}).status_code == 401
        blocked = client.get("/monitors", headers={"X-API-Key": key})
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        assert client.get("/health").status_code == 200
        other = TestClient(app, client=("10.0.0.2", 5000))
        assert other.get("/monitors", headers={"X-API-Key": key}).status_code == 200
    app.state.db.dispose()


def test_oversize_bodies_are_413_while_streaming(settings, data):
    import dataclasses

    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    app = create_app(dataclasses.replace(settings, max_request_bytes=20_000))
    with TestClient(app) as client:
        key = client.post("/projects", json={"name": "p"},
                          headers={"X-API-Key": settings.admin_key}).json()["api_key"]
        headers = {"X-API-Key": key, "Content-Type": "text/csv"}
        body = b"a,b\n" + b"1.5,2.5\n" * 5000
        sized = client.post("/monitors/1/batches", headers=headers, content=body)
        # no Content-Length: the limit must hold while the chunks arrive
        chunked = client.post("/monitors/1/batches", headers=headers,
                              content=iter([body[i:i + 4096] for i in range(0, len(body), 4096)]))
        upload = client.post("/monitors", headers={"X-API-Key": key},
                             files={"reference": ("r.csv", body)})
        for response in (sized, chunked, upload):
            assert response.status_code == 413
            assert response.json()["error"] == "too_large"
            assert "20000 bytes" in response.json()["detail"]
        assert client.get("/health").status_code == 200
    app.state.db.dispose()


def test_bad_input_gets_4xx_naming_the_problem(client, new_project, new_monitor, data):
    h = new_project()["headers"]
    monitor = new_monitor(h)
    ref = ("reference.parquet", data.parquet(data.table(500)))

    def create(options, reference=ref):
        return client.post("/monitors", headers=h, files={"reference": reference},
                           data={"options": json.dumps(options)})

    bad = create({"alpha": 1.5})
    assert bad.status_code == 422 and bad.json()["field"] == "options.alpha"
    bad = create({"alhpa": 0.1})
    assert bad.status_code == 422 and bad.json()["field"] == "options.alhpa"
    bad = create({"columns": ["a", "nope"]})
    assert bad.status_code == 422 and "'nope'" in bad.json()["detail"]
    bad = create({"error_detector": {"name": "Nonsense"}})
    assert bad.status_code == 422 and "ADWIN" in bad.json()["detail"]
    bad = create({}, ("reference.parquet", b"not parquet at all"))
    assert bad.status_code == 400 and bad.json()["error"] == "unreadable"
    bad = create({}, ("reference.xlsx", b"abc"))
    assert bad.status_code == 415
    bad = create({}, ("reference.csv", b"a,b\n"))
    assert bad.status_code == 422 and "empty" in bad.json()["detail"]

    wrong = data.table(300).drop_columns(["b"]).append_column("d", data.table(300)["b"])
    response = data.post(client, h, monitor, wrong)
    assert response.status_code == 422
    assert response.json()["error"] == "schema_mismatch"
    assert "'b'" in response.json()["detail"]
    csv = {**h, "Content-Type": "text/csv"}
    empty = client.post(f"/monitors/{monitor}/batches", headers=csv, content=b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    garbage = client.post(f"/monitors/{monitor}/batches", content=b"\x00\x01",
                          headers={**h, "Content-Type": "application/vnd.apache.parquet"})
    assert garbage.status_code == 400 and garbage.json()["detail"].startswith("batch:")
    assert client.post(f"/monitors/{monitor}/batches", content=b"{}",
                       headers={**h, "Content-Type": "application/json"}).status_code == 415
    unknown = data.post(client, h, 10_000, data.table(300))
    assert unknown.status_code == 404 and "10000" in unknown.json()["detail"]
    no_stream = data.post(client, h, monitor, data.table(300), errors_column="a")
    assert no_stream.status_code == 422 and no_stream.json()["field"] == "errors"
    assert client.get(f"/monitors/{monitor}/batches/1?format=pdf",
                      headers=h).json()["field"] == "format"
    # nothing above was stored, and the server keeps serving
    assert client.get(f"/monitors/{monitor}", headers=h).json()["n_batches"] == 0
    assert data.post(client, h, monitor, data.table(300)).status_code == 201


def test_idempotency_key_never_duplicates_a_batch(client, new_project, new_monitor, data):
    h = new_project()["headers"]
    monitor = new_monitor(h)
    batch = data.table(300, seed=5)
    first = data.post(client, h, monitor, batch, key="batch-0001")
    again = data.post(client, h, monitor, batch, key="batch-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = data.post(client, h, monitor, data.table(300, seed=6), key="batch-0001")
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"
    assert data.post(client, h, monitor, batch, key="batch-0002").json()["step"] == 2
    steps = [b["step"] for b in client.get(f"/monitors/{monitor}/batches", headers=h).json()]
    assert steps == [1, 2]


def test_batches_are_tested_by_the_monitor_and_drift_opens_an_alert(
        client, new_project, new_monitor, data):
    h = new_project()["headers"]
    monitor = new_monitor(h, alpha=0.05, name="prices")
    expected = Monitor(data.table(2000, seed=1), alpha=0.05)
    batches = [data.table(400, seed=10), data.table(400, seed=11),
               data.table(400, shift=1.0, seed=12)]
    for i, batch in enumerate(batches):
        response = data.post(client, h, monitor, batch)
        assert response.status_code == 201
        got, want = response.json(), expected.update(batch).to_dict()
        for name in ("step", "alpha_spent", "alarm", "drifted_columns", "pvalues_adjusted"):
            assert got[name if name != "step" else "step"] == want[
                name if name != "step" else "batch"], name
        assert [c["name"] for c in got["columns"]] == ["a", "b", "c"]
        assert bool(got["alert_ids"]) == (i == 2)
    assert want["drifted_columns"] == ["a"]  # the ground truth: only a moved
    alerts = client.get("/alerts", params={"status": "open"}, headers=h).json()
    assert len(alerts) == 1 and alerts[0]["step"] == 3 and alerts[0]["kind"] == "drift"
    assert "'prices'" in alerts[0]["message"] and ": a " in alerts[0]["message"]
    acked = client.post(f"/alerts/{alerts[0]['id']}/acknowledge", headers=h)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert client.get("/alerts", params={"status": "open"}, headers=h).json() == []
    assert client.get(f"/monitors/{monitor}", headers=h).json()["alarms"] == [3]
    detail = client.get(f"/monitors/{monitor}/batches/3", headers=h).json()
    assert detail["report"]["columns"][0]["name"] == "a"
    assert detail["report"]["n_current"] == 400 and detail["alert_ids"] == [alerts[0]["id"]]
    html = client.get(f"/monitors/{monitor}/batches/3", params={"format": "html"}, headers=h)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text and "batch 3" in html.text
    assert client.get(f"/monitors/{monitor}/batches/4", headers=h).status_code == 404


def test_uploads_in_every_format_read_the_same(client, new_project, new_monitor, data,
                                               tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.feather as feather

    h = new_project()["headers"]
    batch = data.table(300, seed=3)
    bodies = {}
    pacsv.write_csv(batch, tmp_path / "b.csv")
    feather.write_feather(batch, tmp_path / "b.arrow")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in batch.to_pylist()))
    bodies["text/csv"] = (tmp_path / "b.csv").read_bytes()
    bodies["application/vnd.apache.arrow.file"] = (tmp_path / "b.arrow").read_bytes()
    bodies["application/x-ndjson"] = (tmp_path / "b.jsonl").read_bytes()
    bodies["application/vnd.apache.parquet"] = data.parquet(batch)
    pvalues = []
    for content_type, body in bodies.items():
        monitor = new_monitor(h)
        response = client.post(f"/monitors/{monitor}/batches", content=body,
                               headers={**h, "Content-Type": content_type})
        assert response.status_code == 201, (content_type, response.text)
        pvalues.append(response.json()["pvalues"])
    monitor = new_monitor(h)
    multipart = client.post(f"/monitors/{monitor}/batches", headers=h,
                            files={"file": ("b.csv", bodies["text/csv"])})
    pvalues.append(multipart.json()["pvalues"])
    for p in pvalues[1:]:
        assert p == pytest.approx(pvalues[0], rel=1e-12)


def test_model_errors_feed_the_error_stream_detector(client, new_project, new_monitor, data):
    from shiftguard.stream import PageHinkley

    h = new_project()["headers"]
    spec = {"name": "PageHinkley", "params": {"threshold": 20.0}}
    monitor = new_monitor(h, error_detector=spec)
    rng = np.random.default_rng(7)
    errors = [rng.normal(0.1, 0.05, 300), rng.normal(0.6, 0.05, 300)]
    expected = PageHinkley(threshold=20.0)
    for i, values in enumerate(errors):
        batch = data.table(300, seed=20 + i).append_column("err", [values])
        response = data.post(client, h, monitor, batch, errors_column="err")
        assert response.status_code == 201, response.text
        stream = response.json()["error_stream"]
        want = expected.update_many(values).tolist()
        assert stream["alarm_positions"] == want and stream["n_values"] == 300
    assert want, "the jump in the error rate must be detected"
    kinds = [a["kind"] for a in client.get("/alerts", headers=h).json()]
    assert "error_stream" in kinds
    as_field = client.post(f"/monitors/{monitor}/batches", headers=h,
                           files={"file": ("b.parquet", data.parquet(data.table(300, seed=30)))},
                           data={"errors": json.dumps([0.1] * 10)})
    assert as_field.status_code == 201 and as_field.json()["error_stream"]["n_values"] == 10
    bad = client.post(f"/monitors/{monitor}/batches", headers=h,
                      files={"file": ("b.parquet", data.parquet(data.table(300, seed=31)))},
                      data={"errors": "[1, \"x\"]"})
    assert bad.status_code == 422 and bad.json()["field"] == "errors"

"""``shiftguard.client.Client`` and ``shiftguard push`` against a real uvicorn server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shiftguard.cli import main


def test_client_round_trip_and_push_cli(live_server, data, tmp_path, monkeypatch, capsys):
    pd = pytest.importorskip("pandas")
    from shiftguard.client import Client, ServiceRequestError

    admin = Client(live_server.url, data.admin_key)
    key = admin._request("POST", "/projects", body=b'{"name": "p"}',
                         content_type="application/json")["api_key"]
    assert key not in repr(Client(live_server.url, key))
    client = Client(live_server.url, key)
    reference = data.table(2000, seed=1)
    monitor = client.create_monitor(reference.to_pandas(), alpha=0.05, name="m",
                                    error_detector={"name": "DDM", "params": {}})
    assert monitor["columns"] == ["a", "b", "c"] and monitor["n_reference"] == 2000

    quiet = client.post_batch(monitor["id"], data.table(300, seed=2), idempotency_key="k1")
    again = client.post_batch(monitor["id"], data.table(300, seed=2), idempotency_key="k1")
    assert quiet == again and quiet["step"] == 1 and not quiet["alarm"]
    frame = data.table(300, shift=1.0, seed=3).to_pandas()
    errors = np.r_[np.zeros(150), np.ones(150)]
    drifted = client.post_batch(monitor["id"], frame, errors=errors)
    assert drifted["step"] == 2 and drifted["drifted_columns"] == ["a"]
    assert drifted["error_stream"]["n_values"] == 300
    numeric = client.create_monitor(np.random.default_rng(0).normal(size=(500, 2)))
    assert client.post_batch(numeric["id"], np.zeros((50, 2)) + 3.0)["alarm"]

    alerts = client.alerts(status="open", monitor_id=monitor["id"])
    assert {a["kind"] for a in alerts} == {"drift", "error_stream"}
    assert client.acknowledge(alerts[0]["id"])["status"] == "acknowledged"
    assert len(client.alerts(status="open")) == len(alerts)  # the numeric monitor's alert
    assert client.batch(monitor["id"], 2)["report"]["n_current"] == 300
    assert [b["step"] for b in client.batches(monitor["id"])] == [1, 2]
    with pytest.raises(ServiceRequestError) as refused:
        client.post_batch(monitor["id"], pd.DataFrame({"a": [1.0, 2.0]}))
    assert refused.value.status == 422 and "'b'" in str(refused.value)

    # shiftguard push: exit 0 without an alarm, 1 with one, 2 for refused input
    quiet_file, drifted_file = tmp_path / "quiet.parquet", tmp_path / "drifted.parquet"
    quiet_file.write_bytes(data.parquet(data.table(300, seed=4)))
    drifted_file.write_bytes(data.parquet(data.table(300, shift=1.5, seed=5)))
    monkeypatch.setenv("SHIFTGUARD_URL", live_server.url)
    monkeypatch.setenv("SHIFTGUARD_KEY", key)
    capsys.readouterr()
    assert main(["push", str(monitor["id"]), str(quiet_file)]) == 0
    assert capsys.readouterr().out.startswith("no alarm: batch 3 of monitor")
    assert main(["push", str(monitor["id"]), str(drifted_file), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["drifted_columns"] == ["a"]
    (tmp_path / "bad.csv").write_text("x\n1\n")
    assert main(["push", str(monitor["id"]), str(tmp_path / "bad.csv")]) == 2
    assert "422" in capsys.readouterr().err
    assert main(["push", "999", str(quiet_file)]) == 2
    monkeypatch.delenv("SHIFTGUARD_KEY")
    assert main(["push", str(monitor["id"]), str(quiet_file)]) == 2
    assert "SHIFTGUARD_KEY" in capsys.readouterr().err


def test_client_retries_a_lost_connection_with_the_same_idempotency_key(monkeypatch):
    import urllib.request

    from shiftguard import client as client_module

    seen = []

    class Response:
        status = 201

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b'{"step": 1}'

    def flaky(request, timeout):
        seen.append(request.get_header("Idempotency-key"))
        if len(seen) < 3:
            raise ConnectionResetError("connection reset by peer")
        return Response()

    monkeypatch.setattr(urllib.request, "urlopen", flaky)
    client = client_module.Client("http://127.0.0.1:1", "sg_x_y", backoff=0.001)
    assert client.post_batch(1, {"a": [1.0, 2.0]}) == {"step": 1}
    assert len(seen) == 3 and len(set(seen)) == 1 and seen[0]


def test_push_to_an_unreachable_server_exits_2(monkeypatch, tmp_path, capsys):
    import types

    from shiftguard import client as client_module

    monkeypatch.setattr(client_module, "time", types.SimpleNamespace(sleep=lambda s: None))
    batch = tmp_path / "b.csv"
    batch.write_text("a\n1\n")
    assert main(["push", "1", str(batch), "--key", "sg_x_y", "--url", "http://127.0.0.1:9"]) == 2
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_push_exits_3_when_the_server_fails(monkeypatch, tmp_path, capsys):
    from shiftguard import client as client_module

    def failing(self, *args, **kwargs):
        raise client_module.ServiceInternalError("HTTP 500: internal error")

    monkeypatch.setattr(client_module.Client, "post_batch", failing)
    batch = tmp_path / "b.csv"
    batch.write_text("a\n1\n")
    assert main(["push", "1", str(batch), "--key", "sg_x_y"]) == 3
    assert "HTTP 500" in capsys.readouterr().err


def test_the_cli_and_the_client_do_not_import_the_service():
    import subprocess
    import sys

    code = ("import sys, shiftguard.cli, shiftguard.client; shiftguard.cli._parser(); "
            "print(sorted({'fastapi', 'sqlalchemy', 'uvicorn'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

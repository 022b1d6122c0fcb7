"""Durability: a restarted server continues every monitor exactly, and a server killed
with SIGKILL while clients post loses no acknowledged batch and stores none twice."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from shiftguard.stream import Monitor


def test_a_new_app_on_the_same_database_continues_the_sequential_state(settings, data):
    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    reference = data.table(2000, seed=1)
    batches = [data.table(300, shift=s, seed=40 + i)
               for i, s in enumerate((0.0, 0.0, 0.4, 0.0, 0.0))]
    expected = Monitor(reference, alpha=0.05, horizon=10)
    steps = [expected.update(b).to_dict() for b in batches]

    first = create_app(settings)
    with TestClient(first) as client:
        key = client.post("/projects", json={"name": "p"},
                          headers={"X-API-Key": data.admin_key}).json()["api_key"]
        h = {"X-API-Key": key}
        monitor = client.post(
            "/monitors", headers=h, data={"options": '{"alpha": 0.05, "horizon": 10}'},
            files={"reference": ("r.parquet", data.parquet(reference))}).json()["id"]
        for batch in batches[:3]:
            assert data.post(client, h, monitor, batch).status_code == 201
    first.state.db.dispose()

    second = create_app(settings)  # nothing of the first app survives but the database
    with TestClient(second) as client:
        for want, batch in zip(steps[3:], batches[3:], strict=True):
            got = data.post(client, h, monitor, batch).json()
            assert got["step"] == want["batch"]
            assert got["alpha_spent"] == want["alpha_spent"]
            assert got["pvalues"] == pytest.approx(want["pvalues"], rel=1e-12)
            assert got["alarm"] == want["alarm"]
        history = client.get(f"/monitors/{monitor}/batches", headers=h).json()
        assert [b["step"] for b in history] == [1, 2, 3, 4, 5]
        assert [b["alarm"] for b in history] == [s["alarm"] for s in steps]
    second.state.db.dispose()


def _post_raw(url: str, key: str, monitor: int, body: bytes, idempotency_key: str) -> int:
    request = urllib.request.Request(
        f"{url}/monitors/{monitor}/batches", data=body, method="POST",
        headers={"X-API-Key": key, "Idempotency-Key": idempotency_key,
                 "Content-Type": "application/vnd.apache.parquet"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_sigkill_while_clients_post_loses_no_acknowledged_batch(start_server, database_url,
                                                                data):
    from shiftguard.client import Client
    from shiftguard.service.storage import Batch, Database
    from shiftguard.service.storage import Monitor as MonitorRow

    live_server = start_server()
    admin = Client(live_server.url, data.admin_key)
    key = admin._request("POST", "/projects", body=b'{"name": "p"}',
                         content_type="application/json")["api_key"]
    client = Client(live_server.url, key)
    monitor = client.create_monitor(data.table(2000, seed=1), alpha=0.05)["id"]
    bodies = [data.parquet(data.table(200, seed=100 + i)) for i in range(8)]

    acknowledged: list[str] = []
    sent: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(w: int) -> None:
        for i in range(10_000):
            ident, body = f"w{w}-{i}", bodies[(w + i) % len(bodies)]
            with lock:
                sent.append((ident, body))
            try:
                status = _post_raw(live_server.url, key, monitor, body, ident)
            except (urllib.error.URLError, ConnectionError, OSError):
                return
            if status in (200, 201):
                with lock:
                    acknowledged.append(ident)
            if stop.is_set():
                return

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(live_server.process.pid, signal.SIGKILL)  # mid-request: posts are in flight
    live_server.process.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 12
    assert len(sent) > len(acknowledged), "the kill should interrupt posts in flight"

    db = Database(database_url)
    with db.read_session() as session:
        keys = list(session.scalars(select(Batch.idempotency_key)))
        steps = sorted(session.scalars(select(Batch.step).where(Batch.monitor_id == monitor)))
        row = session.get(MonitorRow, monitor)
        n_history = row.state["n_batches"]
        assert row.state["history"] == []  # constant size: the steps are the batch rows
        n_batches = row.n_batches
    assert set(acknowledged) <= set(keys), "an acknowledged batch was lost"
    assert len(keys) == len(set(keys)), "a batch was stored twice"
    assert steps == list(range(1, len(steps) + 1)) == list(range(1, n_history + 1))
    assert n_batches == len(steps)

    # A restarted server continues, and clients retrying their unacknowledged posts with
    # the same keys never create duplicates: each is either replayed or stored once.
    restarted = start_server()
    for ident, body in sent:
        status = _post_raw(restarted.url, key, monitor, body, ident)
        assert status == (200 if ident in keys else 201)
    restarted.stop()
    with db.read_session() as session:
        count = session.scalar(select(func.count()).select_from(Batch))
        distinct = session.scalar(select(func.count(func.distinct(Batch.idempotency_key))))
        steps = sorted(session.scalars(select(Batch.step)))
    assert count == distinct == len({ident for ident, _ in sent})
    assert steps == list(range(1, count + 1))
    db.dispose()

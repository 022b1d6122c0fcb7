"""Webhooks: an alert is POSTed to the monitor's URL, retried with back-off, and every
attempt is recorded."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time

import pytest
from sqlalchemy import select


class _FlakyReceiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first two deliveries, then 200."""

    received: list[tuple[float, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((time.monotonic(), body))
        self.send_response(500 if len(self.received) <= 2 else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _settled(client, headers: dict, timeout: float = 20.0) -> dict:
    """The project's first alert once its webhook is no longer pending."""
    deadline = time.monotonic() + timeout
    while True:
        alert = client.get("/alerts", headers=headers).json()[0]
        if alert["webhook_status"] != "pending" or time.monotonic() > deadline:
            return alert
        time.sleep(0.05)


def test_an_alert_is_delivered_with_retries_and_every_attempt_recorded(
        client, new_project, new_monitor, data):
    from shiftguard.service.storage import WebhookDelivery

    _FlakyReceiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        h = new_project()["headers"]
        url = f"http://127.0.0.1:{server.server_port}/hook"
        monitor = new_monitor(h, webhook_url=url)
        started = time.monotonic()
        response = data.post(client, h, monitor, data.table(300, shift=1.5, seed=9))
        assert response.status_code == 201
        assert time.monotonic() - started < 2.0  # the post did not wait for the webhook
        alert_id = response.json()["alert_ids"][0]
        assert _settled(client, h)["webhook_status"] == "delivered"
    finally:
        server.shutdown()
    times = [t for t, _ in _FlakyReceiver.received]
    assert len(times) == 3
    assert all(body["alert_id"] == alert_id and body["monitor_id"] == monitor
               for _, body in _FlakyReceiver.received)
    backoff = client.app.state.settings.webhook_backoff
    assert times[1] - times[0] >= backoff and times[2] - times[1] >= 2 * backoff
    with client.app.state.db.read_session() as session:
        attempts = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert all(a.alert_id == alert_id for a in attempts)


def test_an_unreachable_webhook_ends_failed_after_the_last_attempt(
        client, new_project, new_monitor, data):
    h = new_project()["headers"]
    monitor = new_monitor(h, webhook_url="http://127.0.0.1:9/nothing-listens-here")
    data.post(client, h, monitor, data.table(300, shift=1.5, seed=9))
    assert _settled(client, h)["webhook_status"] == "failed"
    from shiftguard.service.storage import WebhookDelivery

    with client.app.state.db.read_session() as session:
        attempts = list(session.scalars(select(WebhookDelivery)))
    assert len(attempts) == client.app.state.settings.webhook_attempts
    assert all(a.status_code is None and a.error for a in attempts)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest",
    "http://10.1.2.3/hook", "http://[::1]:9/hook", "https://app.localhost/hook"])
def test_webhooks_into_private_networks_are_refused_unless_allowed(settings, url):
    from fastapi.testclient import TestClient

    from shiftguard.service import create_app

    from .conftest import ADMIN_KEY, parquet, table

    app = create_app(dataclasses.replace(settings, webhook_private=False))
    with TestClient(app) as private_client:
        key = private_client.post("/projects", json={"name": "p"},
                                  headers={"X-API-Key": ADMIN_KEY}).json()["api_key"]
        response = private_client.post(
            "/monitors", headers={"X-API-Key": key},
            files={"reference": ("reference.parquet", parquet(table(500, seed=1)))},
            data={"options": json.dumps({"webhook_url": url})})
    app.state.db.dispose()
    assert response.status_code == 422
    assert "options.webhook_url" in response.text
    assert "SHIFTGUARD_WEBHOOK_PRIVATE" in response.text


def test_the_target_is_checked_again_before_each_delivery(client, new_project, new_monitor,
                                                          data):
    h = new_project()["headers"]
    monitor = new_monitor(h, webhook_url="http://127.0.0.1:9/hook")  # allowed at creation
    client.app.state.webhooks.allow_private = False  # ... but not when the alert is sent
    data.post(client, h, monitor, data.table(300, shift=1.5, seed=9))
    assert _settled(client, h)["webhook_status"] == "failed"
    from shiftguard.service.storage import WebhookDelivery

    with client.app.state.db.read_session() as session:
        attempts = list(session.scalars(select(WebhookDelivery)))
    assert len(attempts) == 1  # a refusal is not retried
    assert attempts[0].status_code is None and "non-public address" in attempts[0].error


def test_private_target_resolves_names_and_accepts_public_addresses():
    from shiftguard.service.webhooks import private_target

    assert private_target("http://93.184.215.14/hook") is None
    assert "non-public" in private_target("http://localhost:8000/hook")  # resolved
    assert "loopback name" in private_target("http://localhost:8000/hook", resolve=False)
    assert "no host" in private_target("http:///hook")


class _Redirecting(http.server.BaseHTTPRequestHandler):
    """Answers every delivery with a redirect to ``target``."""

    target = ""

    def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_redirects_are_not_followed(client, new_project, new_monitor, data):
    from shiftguard.service.storage import WebhookDelivery

    _FlakyReceiver.received = []
    inner = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyReceiver)
    outer = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    _Redirecting.target = f"http://127.0.0.1:{inner.server_port}/internal"
    for server in (inner, outer):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        h = new_project()["headers"]
        monitor = new_monitor(h, webhook_url=f"http://127.0.0.1:{outer.server_port}/hook")
        data.post(client, h, monitor, data.table(300, shift=1.5, seed=9))
        assert _settled(client, h)["webhook_status"] == "failed"
    finally:
        inner.shutdown()
        outer.shutdown()
    assert _FlakyReceiver.received == []
    with client.app.state.db.read_session() as session:
        statuses = [a.status_code for a in session.scalars(select(WebhookDelivery))]
    assert statuses == [307] * client.app.state.settings.webhook_attempts

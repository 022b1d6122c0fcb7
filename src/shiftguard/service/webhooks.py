"""Webhook delivery: each alert of a monitor with a ``webhook_url`` is POSTed there as
JSON by a background thread, so a batch post never waits for it.

A delivery that fails (a connection error, a timeout or a status outside 2xx) is retried
after ``backoff``, ``2 backoff``, ``4 backoff``... seconds, up to ``attempts`` tries; every
attempt is a ``webhook_deliveries`` row, and the alert's ``webhook_status`` ends as
``delivered`` or ``failed``. Alerts still ``pending`` when the server starts (it stopped
mid-delivery) are sent again, so a receiver may see an alert twice and should use its id.

Unless the settings allow private targets, a URL whose host is or resolves to an address
that is not globally routable is refused when the monitor is created and again before each
delivery (the name may resolve elsewhere by then), and redirects are not followed (a public
receiver could otherwise forward the request inwards). The check resolves the name just
before the request, which resolves it again: a DNS server that answers differently within
that moment is not stopped -- keep receivers on names you control.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import logging
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from sqlalchemy import select

from shiftguard.service.storage import Alert, Database, Monitor, WebhookDelivery

log = logging.getLogger("shiftguard.service.webhooks")


class WebhookSender:
    """One daemon thread delivering alerts in order of their due time."""

    def __init__(self, db: Database, *, attempts: int, backoff: float, timeout: float,
                 allow_private: bool = False) -> None:
        self.db = db
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.allow_private = allow_private
        self._queue: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="shiftguard-webhooks",
                                        daemon=True)

    def start(self) -> None:
        """Start the thread, queueing the alerts left pending by an earlier run."""
        with self.db.read_session() as session:
            pending = session.scalars(select(Alert.id).where(Alert.webhook_status == "pending"))
            for alert_id in pending:
                self.submit(alert_id)
        self._thread.start()

    def submit(self, alert_id: int) -> None:
        self._queue.put((alert_id, 1))

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        due: list[tuple[float, int, int]] = []
        while True:
            wait = None if not due else max(0.0, due[0][0] - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = ()  # a retry fell due
            if item is None:
                return
            if item:
                heapq.heappush(due, (time.monotonic(), *item))
            while due and due[0][0] <= time.monotonic():
                _, alert_id, attempt = heapq.heappop(due)
                try:
                    retry = self._deliver(alert_id, attempt)
                except Exception as exc:  # the database is away: try again later
                    log.warning("webhook of alert %d: %s", alert_id, type(exc).__name__)
                    retry = attempt < self.attempts
                if retry:
                    delay = self.backoff * 2 ** (attempt - 1)
                    heapq.heappush(due, (time.monotonic() + delay, alert_id, attempt + 1))

    def _deliver(self, alert_id: int, attempt: int) -> bool:
        """One attempt; returns whether to try again."""
        with self.db.read_session() as session:
            alert = session.get(Alert, alert_id)
            monitor = None if alert is None else session.get(Monitor, alert.monitor_id)
            if alert is None or monitor is None or not monitor.webhook_url:
                return False
            payload = alert_payload(alert, monitor)
            url = monitor.webhook_url
        refusal = None if self.allow_private else private_target(url)
        if refusal is None:
            status, error = _post(url, payload, self.timeout)
        else:
            status, error = None, refusal
        delivered = status is not None and 200 <= status < 300
        retry = not delivered and refusal is None and attempt < self.attempts
        with self.db.write_session() as session:
            session.add(WebhookDelivery(alert_id=alert_id, attempt=attempt, status_code=status,
                                        error=error, delivered=delivered))
            row = session.get(Alert, alert_id)
            if row is not None:
                row.webhook_status = ("delivered" if delivered
                                      else "pending" if retry else "failed")
        return retry


def alert_payload(alert: Alert, monitor: Monitor) -> dict:
    return {
        "alert_id": alert.id, "kind": alert.kind, "message": alert.message,
        "monitor_id": monitor.id, "monitor_name": monitor.name, "step": alert.step,
        "created_at": alert.created_at.isoformat(),
    }


def private_target(url: str, resolve: bool = True) -> str | None:
    """Why ``url`` may not be called with private targets refused, or None if it may.

    Refused: a host that is, or (with ``resolve``) resolves to, an address that is not
    globally routable -- loopback, private, link-local (cloud metadata), reserved, multicast
    or unspecified. A name that does not resolve is left to the delivery, which records it.
    """
    host = urllib.parse.urlsplit(url).hostname
    if not host:
        return "the webhook URL has no host"
    try:
        addresses = [host] if _is_address(host) or not resolve else [
            info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except OSError:
        return None
    for address in addresses:
        if not _is_address(address):
            if host.lower() == "localhost" or host.lower().endswith(".localhost"):
                return (f"webhook host {host!r} is a loopback name; set "
                        "SHIFTGUARD_WEBHOOK_PRIVATE=1 to allow private targets")
            continue
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            return (f"webhook host {host!r} is the non-public address {address}; set "
                    "SHIFTGUARD_WEBHOOK_PRIVATE=1 to allow private targets")
    return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn every redirect into an HTTPError carrying its 3xx status (a failed delivery)."""

    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, payload: dict, timeout: float) -> tuple[int | None, str | None]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "shiftguard-webhook"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:500]

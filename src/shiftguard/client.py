"""``Client``: talk to a ``shiftguard serve`` instance from Python (standard library only).

>>> client = Client("http://127.0.0.1:8000", key)                     # doctest: +SKIP
>>> monitor = client.create_monitor("reference.parquet", alpha=0.05)  # doctest: +SKIP
>>> report = client.post_batch(monitor["id"], frame)                  # doctest: +SKIP
>>> report["alarm"], report["drifted_columns"]                        # doctest: +SKIP

Tables go over the wire as Arrow IPC files (a DataFrame, Arrow table, NumPy array or
mapping of columns) or as the bytes of a file path. ``post_batch`` sends an
``Idempotency-Key`` made once per call and retries connection failures with that same
key, so a retry after a lost response never stores the batch twice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shiftguard.errors import ShiftguardError

#: Content type of a file sent as it is, by suffix.
_FILE_TYPES = {
    ".csv": "text/csv", ".txt": "text/csv", ".tsv": "text/tab-separated-values",
    ".tab": "text/tab-separated-values", ".parquet": "application/vnd.apache.parquet",
    ".pq": "application/vnd.apache.parquet", ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file", ".ipc": "application/vnd.apache.arrow.file",
    ".jsonl": "application/x-ndjson", ".ndjson": "application/x-ndjson",
}
_ARROW = "application/vnd.apache.arrow.file"
#: Statuses worth retrying: the server or a proxy in front of it is restarting.
_RETRY_STATUSES = (502, 503, 504)


class ServiceRequestError(ShiftguardError):
    """The service refused a request (4xx) or could not be reached.

    Attributes
    ----------
    status
        HTTP status, or ``None`` when no response came.
    body
        The JSON error body (``error``, ``detail``, ``column``, ``field``), or ``{}``.
    """

    def __init__(self, message: str, status: int | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


class ServiceInternalError(RuntimeError):
    """The service failed on its side (5xx)."""


class Client:
    """Client of the monitoring service at ``url`` with API key ``key``.

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:8000``.
    key
        The project's API key (sent in the ``X-API-Key`` header).
    timeout
        Seconds to wait for each response.
    retries
        Further attempts after a connection failure or a 502/503/504 response.
    backoff
        Seconds before the first retry; doubled for each further one.
    """

    def __init__(self, url: str, key: str, *, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"Client({self.url!r})"  # never the key

    def create_monitor(self, reference: Any, **options: Any) -> dict[str, Any]:
        """Create a monitor from ``reference`` (a file path or any table) and the options
        of :class:`shiftguard.stream.Monitor` (``alpha``, ``horizon``, ``columns``...),
        plus ``name``, ``error_detector`` (``{"name": "ADWIN", "params": {}}``) and
        ``webhook_url``. Returns the monitor (its ``id`` is what the other calls take)."""
        data, content_type, filename = _encode_table(reference, "reference")
        body, multipart = _multipart({"options": json.dumps(options)},
                                     ("reference", filename, content_type, data))
        return self._request("POST", "/monitors", body=body, content_type=multipart)

    def post_batch(self, monitor_id: int, data: Any, idempotency_key: str | None = None,
                   errors: Sequence[float] | Any | None = None) -> dict[str, Any]:
        """Post ``data`` as the monitor's next batch; return the outcome and report summary.

        ``errors`` are the model's errors on these rows (0/1 or real values), fed to the
        monitor's error-stream detector. ``idempotency_key`` defaults to a new random key,
        reused for every retry of this call.
        """
        key = idempotency_key or uuid.uuid4().hex
        payload, content_type, filename = _encode_table(data, "batch")
        headers = {"Idempotency-Key": key}
        if errors is None:
            return self._request("POST", f"/monitors/{int(monitor_id)}/batches", body=payload,
                                 content_type=content_type, headers=headers)
        values = [float(v) for v in _as_list(errors)]
        body, multipart = _multipart({"errors": json.dumps(values)},
                                     ("file", filename, content_type, payload))
        return self._request("POST", f"/monitors/{int(monitor_id)}/batches", body=body,
                             content_type=multipart, headers=headers)

    def monitors(self) -> list[dict[str, Any]]:
        return self._request("GET", "/monitors")

    def monitor(self, monitor_id: int) -> dict[str, Any]:
        return self._request("GET", f"/monitors/{int(monitor_id)}")

    def batches(self, monitor_id: int) -> list[dict[str, Any]]:
        return self._request("GET", f"/monitors/{int(monitor_id)}/batches")

    def batch(self, monitor_id: int, step: int) -> dict[str, Any]:
        """One stored batch with its full drift report (``report``)."""
        return self._request("GET", f"/monitors/{int(monitor_id)}/batches/{int(step)}")

    def alerts(self, status: str | None = None, monitor_id: int | None = None
               ) -> list[dict[str, Any]]:
        """Alerts of the project, optionally only ``"open"`` or ``"acknowledged"`` ones."""
        query = {k: v for k, v in (("status", status), ("monitor_id", monitor_id))
                 if v is not None}
        return self._request("GET", "/alerts", query=query)

    def acknowledge(self, alert_id: int) -> dict[str, Any]:
        return self._request("POST", f"/alerts/{int(alert_id)}/acknowledge")

    def _request(self, method: str, path: str, *, body: bytes | None = None,
                 content_type: str | None = None, headers: dict[str, str] | None = None,
                 query: dict[str, Any] | None = None) -> Any:
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        all_headers = {"X-API-Key": self.key, "Accept": "application/json", **(headers or {})}
        if content_type:
            all_headers["Content-Type"] = content_type
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=body, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_STATUSES or attempt == self.retries:
                    raise _http_error(exc) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise ServiceRequestError(f"cannot reach {self.url}: {reason}") from None
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")


def _http_error(exc: urllib.error.HTTPError) -> Exception:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = body.get("detail") or exc.reason
    if exc.code >= 500:
        return ServiceInternalError(f"HTTP {exc.code}: {detail}")
    return ServiceRequestError(f"HTTP {exc.code}: {detail}", exc.code, body)


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _encode_table(source: Any, label: str) -> tuple[bytes, str, str]:
    """Bytes, content type and file name of a table to send."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        suffixes = [s.lower() for s in path.suffixes]
        content_type = _FILE_TYPES.get(suffixes[-1] if suffixes else "", "")
        if not content_type or not path.is_file():
            from shiftguard.errors import ReadError

            problem = "no such file" if not path.is_file() else "unknown file type"
            raise ReadError(f"{label}: {problem}: {path}")
        return path.read_bytes(), content_type, path.name
    import pyarrow as pa

    from shiftguard.io.sources import to_arrow

    table = to_arrow(source, label)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes(), _ARROW, f"{label}.arrow"


def _multipart(fields: dict[str, str], upload: tuple[str, str, str, bytes]
               ) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with text ``fields`` and one file part."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode() for name, value in fields.items()]
    name, filename, content_type, data = upload
    filename = filename.replace('"', "%22")
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                 f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                 + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"

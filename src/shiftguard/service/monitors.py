"""Monitors and batches: :class:`shiftguard.stream.Monitor` driven through the database.

No statistics here: a batch goes to ``Monitor.update`` (and its model errors, if any, to
the monitor's :mod:`shiftguard.stream` detector); this module only restores their state
from the monitor row, stores what they return and opens alerts, in one transaction.
"""

from __future__ import annotations

import collections
import threading
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from shiftguard.errors import InputError, ParameterError
from shiftguard.report import render_html
from shiftguard.service import storage
from shiftguard.service.errors import ServiceError
from shiftguard.service.schemas import ErrorDetectorSpec, MonitorOptions
from shiftguard.service.storage import Alert, Batch, Database
from shiftguard.stream import Monitor as StreamMonitor
from shiftguard.stream import StreamDetector, detector_from_dict


def not_found(what: str, ident: Any) -> ServiceError:
    return ServiceError(404, f"{what} {ident} not found", error="not_found")


def error_detector(spec: ErrorDetectorSpec) -> StreamDetector:
    """A fresh :mod:`shiftguard.stream` detector named by ``spec``."""
    import shiftguard.stream as stream

    known = sorted(n for n in stream.__all__
                   if isinstance(getattr(stream, n), type)
                   and issubclass(getattr(stream, n), StreamDetector)
                   and getattr(stream, n) is not StreamDetector)
    if spec.name not in known:
        raise ParameterError(f"error_detector.name: unknown detector {spec.name!r}; "
                             f"use one of {', '.join(known)}")
    try:
        return getattr(stream, spec.name)(**spec.params)
    except TypeError as exc:
        raise ParameterError(f"error_detector.params: {exc}") from None


class MonitorCache:
    """Fitted monitors by id, so that a batch does not re-read and re-fit the reference.

    An entry is used only while its batch count is the row's ``n_batches``: after
    another process posted to the monitor, or a transaction failed after the update, the
    monitor is restored from the row instead.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: collections.OrderedDict[int, StreamMonitor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, row: storage.Monitor) -> StreamMonitor:
        with self._lock:
            monitor = self._entries.get(row.id)
            if monitor is not None and monitor.n_batches_ == row.n_batches:
                self._entries.move_to_end(row.id)
                return monitor
        monitor = StreamMonitor.from_dict(row.state, storage.decode_table(row.reference))
        self.put(row.id, monitor)
        return monitor

    def put(self, monitor_id: int, monitor: StreamMonitor) -> None:
        with self._lock:
            self._entries[monitor_id] = monitor
            self._entries.move_to_end(monitor_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, monitor_id: int) -> None:
        with self._lock:
            self._entries.pop(monitor_id, None)


def create_monitor(db: Database, cache: MonitorCache, project_id: int,
                   options: MonitorOptions, reference: pa.Table) -> storage.Monitor:
    """Fit a monitor on ``reference`` (options checked by the library) and store it."""
    monitor = StreamMonitor(reference, **options.monitor_params())
    errors = None if options.error_detector is None else error_detector(options.error_detector)
    row = storage.Monitor(
        project_id=project_id, name=options.name, options=options.model_dump(),
        columns=list(monitor.detector_.reference_.names),
        reference=storage.encode_batch_data(reference), n_reference=reference.num_rows,
        state=monitor.to_dict(history=False),
        error_state=None if errors is None else errors.to_dict(),
        webhook_url=options.webhook_url, n_batches=0,
    )
    with db.write_session() as session:
        session.add(row)
    cache.put(row.id, monitor)
    return row


@dataclass(frozen=True)
class PostedBatch:
    """A stored batch, its alerts, and whether this request created it."""

    batch: Batch
    alert_ids: list[int]
    created: bool
    webhook_alerts: list[int]


def errors_array(table: pa.Table, column: str | None,
                 values: list[float] | None) -> tuple[pa.Table, np.ndarray | None]:
    """Split the model errors off a batch: a column of it, or values sent alongside."""
    if column is None:
        return table, None if values is None else np.asarray(values, dtype=float)
    if values is not None:
        raise ServiceError(422, "send the model errors either as errors_column or as "
                                "errors, not both", field="errors")
    if column not in table.column_names:
        raise InputError(f"batch has no column {column!r} (errors_column)", column)
    data = table.column(column).to_numpy(zero_copy_only=False)
    try:
        data = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise InputError("the model errors must be numbers", column) from None
    return table.drop_columns([column]), data


def post_batch(db: Database, cache: MonitorCache, project_id: int, monitor_id: int,
               table: pa.Table, *, content_sha256: str, idempotency_key: str | None,
               errors: np.ndarray | None) -> PostedBatch:
    """Test ``table`` as the monitor's next batch and store everything in one transaction.

    The monitor row is locked for the whole transaction, so concurrent posts to one
    monitor are serialised: each restores the state the previous one committed. A post
    whose ``idempotency_key`` is stored already returns the stored batch (409 when the
    body differs).
    """
    if idempotency_key is not None:
        with db.read_session() as session:
            if storage.get_monitor(session, project_id, monitor_id) is None:
                raise not_found("monitor", monitor_id)
            stored = _replayed(session, monitor_id, idempotency_key, content_sha256)
            if stored is not None:
                return stored
    try:
        with db.write_session() as session:
            row = storage.locked_monitor(session, project_id, monitor_id)
            if row is None:
                raise not_found("monitor", monitor_id)
            if idempotency_key is not None:
                stored = _replayed(session, monitor_id, idempotency_key, content_sha256)
                if stored is not None:
                    return stored
            if errors is not None and row.error_state is None:
                raise ServiceError(422, "this monitor has no error_detector: model errors "
                                        "cannot be monitored", field="errors")
            # The error stream first: its input checks are cheap, the drift tests are not.
            stream, error_alarms = None, []
            if errors is not None:
                detector = detector_from_dict(row.error_state)
                error_alarms = detector.update_many(errors).tolist()
                row.error_state = detector.to_dict()
                stream = {
                    "detector": type(detector).__name__, "n_values": int(errors.size),
                    "n_seen": detector.n_seen, "alarm_positions": error_alarms,
                    "alarm": bool(error_alarms),
                }
            monitor = cache.get(row)
            step = monitor.update(table)
            report = monitor.last_report_
            result = {**step.to_dict(), "error_stream": stream}
            html = render_html(report, title=f"{row.name}: batch {step.batch}",
                               current_name=f"batch {step.batch}")
            batch = Batch(
                monitor_id=row.id, step=step.batch, idempotency_key=idempotency_key,
                content_sha256=content_sha256, data=storage.encode_batch_data(table),
                result=result, report=report.to_dict(),
                report_html=zlib.compress(html.encode(), 1), alarm=step.alarm,
                n_rows=step.n_rows,
            )
            session.add(batch)
            session.flush()
            alerts = _alerts(row, batch, step, error_alarms)
            session.add_all(alerts)
            # Constant size: the steps are the batch rows, not part of the state.
            row.state = monitor.to_dict(history=False)
            row.n_batches = step.batch
            session.flush()
            alert_ids = [a.id for a in alerts]
    except BaseException:
        cache.drop(monitor_id)
        raise
    webhook_alerts = alert_ids if row.webhook_url else []
    return PostedBatch(batch=batch, alert_ids=alert_ids, created=True,
                       webhook_alerts=webhook_alerts)


def _replayed(session: Any, monitor_id: int, key: str, sha: str) -> PostedBatch | None:
    stored = storage.batch_by_key(session, monitor_id, key)
    if stored is None:
        return None
    if stored.content_sha256 != sha:
        raise ServiceError(409, f"Idempotency-Key {key!r} was used for a different batch "
                                f"(step {stored.step}); use a new key for new data",
                           error="idempotency_conflict", field="Idempotency-Key")
    return PostedBatch(batch=stored, alert_ids=storage.alert_ids_of_batch(session, stored.id),
                       created=False, webhook_alerts=[])


def _alerts(row: storage.Monitor, batch: Batch, step: Any, error_alarms: list[int]
            ) -> list[Alert]:
    pending = "pending" if row.webhook_url else "none"
    alerts = []
    if step.alarm:
        alerts.append(Alert(
            project_id=row.project_id, monitor_id=row.id, batch_id=batch.id, step=step.batch,
            kind="drift", status="open", webhook_status=pending,
            message=(f"batch {step.batch} of monitor {row.name!r} drifted: "
                     f"{', '.join(step.drifted_columns)} (Holm-adjusted p <= "
                     f"{step.alpha_spent:.3g}, the level this batch was given)")[:2000],
        ))
    if error_alarms:
        alerts.append(Alert(
            project_id=row.project_id, monitor_id=row.id, batch_id=batch.id, step=step.batch,
            kind="error_stream", status="open", webhook_status=pending,
            message=(f"batch {step.batch} of monitor {row.name!r}: the model-error stream's "
                     f"detector alarmed at row(s) {', '.join(map(str, error_alarms[:20]))}"),
        ))
    return alerts

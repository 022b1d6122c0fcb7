"""The HTTP routes: projects and keys, monitors, batches, alerts (JSON; OpenAPI at
``/openapi.json``). Each route checks the key, then calls :mod:`.monitors` or a query of
:mod:`.storage`; rows of another project are reported as not found."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import zlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from shiftguard.service import storage
from shiftguard.service.auth import add_key
from shiftguard.service.errors import ServiceError
from shiftguard.service.monitors import create_monitor, errors_array, not_found, post_batch
from shiftguard.service.schemas import (
    AlertOut,
    BatchOut,
    ColumnSummary,
    ErrorOut,
    KeyOut,
    MonitorOptions,
    MonitorOut,
    ProjectIn,
    ProjectOut,
)
from shiftguard.service.uploads import CONTENT_TYPES, read_upload, suffix_of
from shiftguard.service.webhooks import private_target

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 415, 422, 429)
}
router = APIRouter(responses=_ERRORS)
KeyHeader = Annotated[str | None, Header(alias="X-API-Key", description="API key")]


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _check_rate(request: Request) -> None:
    wait = request.app.state.limiter.retry_after(_client(request))
    if wait > 0:
        seconds = str(math.ceil(wait))
        raise ServiceError(429, f"too many failed authentications from this address; retry "
                                f"in {seconds} s", headers={"Retry-After": seconds})


def _fail_auth(request: Request, detail: str) -> ServiceError:
    request.app.state.limiter.record(_client(request))
    return ServiceError(401, detail, field="X-API-Key")


def project_of_key(request: Request, x_api_key: KeyHeader = None) -> int:
    """The project whose key the request carries (401 without a valid key)."""
    _check_rate(request)
    if not x_api_key:
        raise _fail_auth(request, "missing API key: send it in the X-API-Key header")
    with request.app.state.db.read_session() as session:
        project_id = request.app.state.keys.project_of(session, x_api_key)
    if project_id is None:
        raise _fail_auth(request, "invalid API key")
    return project_id


def _is_admin(request: Request, key: str | None) -> bool:
    admin = request.app.state.settings.admin_key
    return bool(admin and key) and hmac.compare_digest(key.encode(), admin.encode())


ProjectId = Annotated[int, Depends(project_of_key)]


@router.get("/health", tags=["service"])
def health(request: Request) -> dict[str, str]:
    """Liveness and database check; needs no key."""
    from sqlalchemy import text

    with request.app.state.db.read_session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.post("/projects", status_code=201, response_model=ProjectOut, tags=["projects"])
def create_project(body: ProjectIn, request: Request, x_api_key: KeyHeader = None) -> Any:
    """Create a project and its first key (admin key only; the key is shown once)."""
    _check_rate(request)
    if request.app.state.settings.admin_key is None:
        raise ServiceError(403, "project creation is disabled: start the server with "
                                "SHIFTGUARD_ADMIN_KEY set")
    if not _is_admin(request, x_api_key):
        raise _fail_auth(request, "creating a project needs the admin key")
    with request.app.state.db.write_session() as session:
        project = storage.Project(name=body.name)
        session.add(project)
        session.flush()
        made = add_key(session, project.id)
    return ProjectOut(id=project.id, name=project.name, created_at=project.created_at,
                      api_key=made.key)


@router.post("/projects/{project_id}/keys", status_code=201, response_model=KeyOut,
             tags=["projects"])
def create_key(project_id: int, request: Request, x_api_key: KeyHeader = None) -> Any:
    """Add a key to a project (the admin key or a key of that project; shown once)."""
    if not _is_admin(request, x_api_key) and project_of_key(request, x_api_key) != project_id:
        raise not_found("project", project_id)
    with request.app.state.db.write_session() as session:
        if session.get(storage.Project, project_id) is None:
            raise not_found("project", project_id)
        made = add_key(session, project_id)
    return KeyOut(project_id=project_id, key_id=made.key_id, api_key=made.key)


def _monitor_out(row: storage.Monitor, session: Any = None) -> MonitorOut:
    alarms = storage.alarm_steps(session, row.id) if row.n_batches else []
    return MonitorOut(id=row.id, name=row.name, created_at=row.created_at, options=row.options,
                      columns=row.columns, n_reference=row.n_reference,
                      n_batches=row.n_batches, alarms=alarms)


def _options(text: str) -> MonitorOptions:
    try:
        return MonitorOptions.model_validate_json(text or "{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["options", *map(str, first["loc"])])
        raise ServiceError(422, f"{field}: {first['msg']}", field=field) from None


@router.post("/monitors", status_code=201, response_model=MonitorOut, tags=["monitors"])
def create_monitor_route(
    project_id: ProjectId,
    request: Request,
    reference: Annotated[UploadFile, File(description="Reference table: CSV, TSV, Parquet, "
                                                      "Arrow or JSON Lines")],
    options: Annotated[str, Form(description="MonitorOptions as JSON")] = "{}",
) -> Any:
    """Create a monitor from an uploaded reference table and options (JSON)."""
    parsed = _options(options)
    refusal = (None if parsed.webhook_url is None or request.app.state.settings.webhook_private
               else private_target(parsed.webhook_url, resolve=False))
    if refusal is not None:
        raise ServiceError(422, f"options.webhook_url: {refusal}", field="options.webhook_url")
    suffix = suffix_of(reference.content_type, reference.filename)
    if suffix is None:
        raise _unsupported(reference.content_type, reference.filename)
    table = read_upload(reference.file.read(), suffix, "reference")
    state = request.app.state
    return _monitor_out(create_monitor(state.db, state.cache, project_id, parsed, table))


@router.get("/monitors", response_model=list[MonitorOut], tags=["monitors"])
def list_monitors(project_id: ProjectId, request: Request) -> Any:
    with request.app.state.db.read_session() as session:
        return [_monitor_out(m, session) for m in storage.list_monitors(session, project_id)]


@router.get("/monitors/{monitor_id}", response_model=MonitorOut, tags=["monitors"])
def get_monitor(monitor_id: int, project_id: ProjectId, request: Request) -> Any:
    with request.app.state.db.read_session() as session:
        row = storage.get_monitor(session, project_id, monitor_id)
        if row is None:
            raise not_found("monitor", monitor_id)
        return _monitor_out(row, session)


def _unsupported(content_type: str | None, filename: str | None = None) -> ServiceError:
    what = f"file {filename!r}" if filename else f"content type {content_type!r}"
    return ServiceError(415, f"cannot tell the table format of {what}; use one of "
                             f"{', '.join(sorted(CONTENT_TYPES))} or a file name ending in "
                             ".csv, .tsv, .parquet, .arrow, .feather or .jsonl")


def _batch_out(batch: storage.Batch, alert_ids: list[int], columns: bool) -> BatchOut:
    result = batch.result
    summary = []
    if columns:
        summary = [ColumnSummary(
            name=c["name"], kind=c["kind"], test=c["test"], pvalue=c["pvalue"],
            pvalue_adjusted=c["pvalue_adjusted"], effect_size=c["effect_size"],
            effect_size_name=c["effect_size_name"], drifted_at_alpha=c["drifted"],
        ) for c in batch.report["columns"]]
    return BatchOut(
        monitor_id=batch.monitor_id, step=batch.step, created_at=batch.created_at,
        idempotency_key=batch.idempotency_key, n_rows=batch.n_rows, alarm=batch.alarm,
        alpha_spent=result["alpha_spent"], drifted_columns=result["drifted_columns"],
        min_pvalue_adjusted=result["min_pvalue_adjusted"], pvalues=result["pvalues"],
        pvalues_adjusted=result["pvalues_adjusted"], error_stream=result["error_stream"],
        columns=summary, alert_ids=alert_ids,
    )


_BATCH_BODY = {
    "requestBody": {"required": True, "content": {
        **{media: {"schema": {"type": "string", "format": "binary"}} for media in CONTENT_TYPES},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"},
            "errors": {"type": "string", "description": "model errors, a JSON array"},
        }}},
    }},
}


@router.post("/monitors/{monitor_id}/batches", status_code=201, response_model=BatchOut,
             tags=["batches"], openapi_extra=_BATCH_BODY,
             responses={200: {"model": BatchOut, "description": "replay of a stored batch"}})
async def post_batch_route(
    monitor_id: int,
    request: Request,
    project_id: ProjectId,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1,
                                                  max_length=200)] = None,
    errors_column: Annotated[str | None, Query(description="column of the batch holding "
                                                           "model errors")] = None,
) -> Any:
    """Test a batch (raw body or multipart ``file``) as the monitor's next batch.

    201 with the outcome; 200 with the stored outcome when ``Idempotency-Key`` was seen.
    """
    content_type = request.headers.get("content-type", "")
    errors = None
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise ServiceError(422, "multipart body without a 'file' part", field="file")
        data = await upload.read()
        suffix = suffix_of(upload.content_type, upload.filename)
        if suffix is None:
            raise _unsupported(upload.content_type, upload.filename)
        errors = _errors_field(form.get("errors"))
    else:
        data = await request.body()
        suffix = suffix_of(content_type)
        if suffix is None:
            raise _unsupported(content_type)
    digest = hashlib.sha256(data)
    digest.update(json.dumps([errors_column, errors]).encode())
    state = request.app.state

    def work() -> Any:
        table, values = errors_array(read_upload(data, suffix, "batch"), errors_column, errors)
        return post_batch(state.db, state.cache, project_id, monitor_id, table,
                          content_sha256=digest.hexdigest(), idempotency_key=idempotency_key,
                          errors=values)

    posted = await run_in_threadpool(work)
    for alert_id in posted.webhook_alerts:
        state.webhooks.submit(alert_id)
    body = _batch_out(posted.batch, posted.alert_ids, columns=True)
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if posted.created else 200)


def _errors_field(value: Any) -> list[float] | None:
    if value is None:
        return None
    try:
        values = json.loads(value if isinstance(value, str) else "")
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ServiceError(422, "errors must be a JSON array of numbers", field="errors")
    return [float(v) for v in values]


def _owned_monitor(session: Any, project_id: int, monitor_id: int) -> storage.Monitor:
    row = storage.get_monitor(session, project_id, monitor_id)
    if row is None:
        raise not_found("monitor", monitor_id)
    return row


@router.get("/monitors/{monitor_id}/batches", response_model=list[BatchOut], tags=["batches"])
def list_batches(monitor_id: int, project_id: ProjectId, request: Request,
                 offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """The monitor's batches in step order (outcome only; the report per batch below)."""
    with request.app.state.db.read_session() as session:
        _owned_monitor(session, project_id, monitor_id)
        batches = storage.batch_history(session, monitor_id, offset=offset, limit=limit)
        alerts: dict[int, list[int]] = {}
        for alert in storage.list_alerts(session, project_id, monitor_id=monitor_id):
            alerts.setdefault(alert.batch_id, []).append(alert.id)
        return [_batch_out(b, alerts.get(b.id, []), columns=False) for b in batches]


@router.get("/monitors/{monitor_id}/batches/{step}", tags=["batches"],
            responses={200: {"content": {"text/html": {}}, "description": "the batch's "
                             "outcome and full drift report (JSON) or the HTML report"}})
def get_batch(monitor_id: int, step: int, project_id: ProjectId, request: Request,
              format: Literal["json", "html"] = "json") -> Any:
    """One batch: outcome and stored drift report; ``?format=html`` gives the HTML report."""
    with request.app.state.db.read_session() as session:
        _owned_monitor(session, project_id, monitor_id)
        batch = storage.get_batch(session, monitor_id, step)
        if batch is None:
            raise not_found(f"batch {step} of monitor", monitor_id)
        if format == "html":
            return HTMLResponse(zlib.decompress(batch.report_html).decode())
        out = _batch_out(batch, storage.alert_ids_of_batch(session, batch.id), columns=True)
        return {**out.model_dump(mode="json"), "report": batch.report}


def _alert_out(alert: storage.Alert) -> AlertOut:
    return AlertOut(id=alert.id, monitor_id=alert.monitor_id, step=alert.step, kind=alert.kind,
                    message=alert.message, status=alert.status,
                    webhook_status=alert.webhook_status, created_at=alert.created_at,
                    acknowledged_at=alert.acknowledged_at)


@router.get("/alerts", response_model=list[AlertOut], tags=["alerts"])
def list_alerts(project_id: ProjectId, request: Request,
                status: Literal["open", "acknowledged"] | None = None,
                monitor_id: int | None = None) -> Any:
    with request.app.state.db.read_session() as session:
        return [_alert_out(a) for a in storage.list_alerts(session, project_id, status=status,
                                                           monitor_id=monitor_id)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, tags=["alerts"])
def acknowledge(alert_id: int, project_id: ProjectId, request: Request) -> Any:
    """Mark an alert acknowledged (acknowledging twice changes nothing)."""
    with request.app.state.db.write_session() as session:
        alert = session.get(storage.Alert, alert_id)
        if alert is None or alert.project_id != project_id:
            raise not_found("alert", alert_id)
        if alert.status != "acknowledged":
            alert.status = "acknowledged"
            alert.acknowledged_at = storage.utcnow()
        return _alert_out(alert)

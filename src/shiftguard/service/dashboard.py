"""The dashboard: server-rendered pages of a project's monitors, under ``/dashboard``.

One logs in with an API key through a form; the key then travels in an ``HttpOnly``,
``SameSite=Strict`` cookie scoped to ``/dashboard`` (never in a URL, so never in an
access log) and is checked on every page exactly as the ``X-API-Key`` header is, failure
limit included. Pages: the project's monitors and open alerts, with a form that creates
a monitor from an uploaded reference; per monitor, each feature's effect size and
Holm-adjusted p-value per batch (the level each batch was given dashed, alarms in red),
the model-error stream, the batches and alerts, and a form that posts a batch; a batch's
full HTML report, as stored when it was tested.

No statistics here: the pages read what :mod:`.storage` holds, and the forms go through
the same functions as the HTTP API (:func:`.monitors.create_monitor`,
:func:`.monitors.post_batch`); the monitor page's parts are in :mod:`.monitor_page`.
Charts are inline SVG drawn on the server (:mod:`.timeline`), styles and the
table-sorting script inline, so the dashboard works offline; every response forbids
loading anything from elsewhere (``Content-Security-Policy``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shiftguard.errors import ShiftguardError
from shiftguard.report._format import esc, fmt
from shiftguard.report.html import page
from shiftguard.service import storage
from shiftguard.service.api import project_of_key
from shiftguard.service.errors import ServiceError, _library_status
from shiftguard.service.monitor_page import (
    FEATURE_NOTE,
    batches_table,
    error_stream,
    feature_charts,
    feature_effects,
)
from shiftguard.service.monitors import create_monitor, errors_array, post_batch
from shiftguard.service.schemas import MonitorOptions
from shiftguard.service.timeline import CSS as TIMELINE_CSS
from shiftguard.service.uploads import read_upload, suffix_of

router = APIRouter(prefix="/dashboard", include_in_schema=False)

COOKIE = "shiftguard_key"
#: Batches the monitor page charts and lists by default (the most recent ones).
DEFAULT_WINDOW = 200
MAX_WINDOW = 5000
MAX_ALERTS = 100
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "script-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    # Not no-referrer: Chromium then sends "Origin: null" with the forms' posts.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
_CSS = TIMELINE_CSS + """
nav.top{display:flex;gap:16px;align-items:center;border-bottom:1px solid #ddd;
padding-bottom:8px}nav.top form{margin-left:auto}
.flash{padding:8px 12px;border-radius:4px;background:#e8f5e9;margin:8px 0}
.flash.error{background:#fdecea;border-left:6px solid #c62828}
form.box{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:10px 0;
display:flex;flex-wrap:wrap;gap:10px 16px;align-items:flex-end}
form.box label{display:flex;flex-direction:column;font-size:13px;color:#444}
.features{display:flex;flex-wrap:wrap;gap:14px}
.feature{border:1px solid #ddd;border-radius:6px;padding:8px 10px}
.feature.drift{border-left:6px solid #c62828}
svg text.ylabel{font-weight:600;fill:#222}
"""


class _LoginRequired(Exception):
    """No valid key in the cookie: the page redirects to the login form."""


class _Refused(Exception):
    """A request the dashboard answers with an error page."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def install(app: Any) -> None:
    """Mount the dashboard on ``app`` (its login redirect needs an exception handler)."""

    @app.exception_handler(_LoginRequired)
    async def _to_login(_request: Request, _exc: _LoginRequired) -> Response:
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(COOKIE, path="/dashboard")
        return response

    @app.exception_handler(_Refused)
    async def _refused(_request: Request, exc: _Refused) -> Response:
        return _error_page(exc.status, exc.detail)

    app.include_router(router)


def _html(title: str, sections: list[str], status: int = 200, *, nav: bool = True) -> Response:
    top = ('<nav class="top"><a href="/dashboard">Monitors</a>'
           '<form method="post" action="/dashboard/logout"><button>Log out</button></form>'
           "</nav>") if nav else ""
    body = page(title, [f"<style>{_CSS}</style>", top, *sections])
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _error_page(status: int, detail: str) -> Response:
    return _html("shiftguard: error", [f'<p class="flash error">{esc(detail)}</p>',
                                       '<p><a href="/dashboard">Back to the monitors</a></p>'],
                 status)


def _project(request: Request) -> int:
    """The project of the key in the login cookie (the API's check, failure limit too)."""
    key = request.cookies.get(COOKIE)
    if not key:
        raise _LoginRequired
    try:
        return project_of_key(request, key)
    except ServiceError as exc:
        if exc.status == 401:
            raise _LoginRequired from None
        raise _Refused(exc.status, exc.detail) from None


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another site (the cookie is ``SameSite=Strict`` too)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise _Refused(403, "form posted from another origin")


# -- login --------------------------------------------------------------------------------

_LOGIN_FORM = """<form class="box" method="post" action="/dashboard/login">
<label>API key<input type="password" name="key" required autocomplete="off" size="60">
</label><button>Log in</button></form>
<p class="muted">The key of your project (shown once, when the project or key was made).
It is kept in a cookie this site only can read, until you log out.</p>"""


@router.get("/login")
def login_page() -> Response:
    return _html("shiftguard: log in", [_LOGIN_FORM], nav=False)


@router.post("/login")
def login(request: Request, key: Annotated[str, Form()] = "") -> Response:
    _same_origin(request)
    try:
        project_of_key(request, key)
    except ServiceError as exc:
        return _html("shiftguard: log in", [f'<p class="flash error">{esc(exc.detail)}</p>',
                                             _LOGIN_FORM], exc.status, nav=False)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(COOKIE, key, path="/dashboard", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    _same_origin(request)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


# -- the project's monitors ---------------------------------------------------------------


def _detector_names() -> list[str]:
    import shiftguard.stream as stream

    return sorted(n for n in stream.__all__ if isinstance(getattr(stream, n), type)
                  and issubclass(getattr(stream, n), stream.StreamDetector)
                  and getattr(stream, n) is not stream.StreamDetector)


def _create_form() -> str:
    detectors = "".join(f"<option>{esc(n)}</option>" for n in _detector_names())
    return f"""<h2>New monitor</h2>
<form class="box" method="post" action="/dashboard/monitors" enctype="multipart/form-data">
<label>Name<input name="name" value="monitor" required maxlength="200"></label>
<label>Reference table<input type="file" name="reference" required
 accept=".csv,.tsv,.parquet,.arrow,.feather,.jsonl,.ndjson"></label>
<label>&alpha; (whole-run false-alarm bound)<input name="alpha" value="0.05" size="6"></label>
<label>Horizon (batches, if known)<input name="horizon" size="6"></label>
<label>Model-error detector<select name="error_detector"><option value="">none</option>
{detectors}</select></label>
<button>Create monitor</button></form>"""


def _alerts_table(alerts: list[storage.Alert], names: dict[int, str]) -> str:
    """The newest :data:`MAX_ALERTS` of ``alerts`` (oldest first), newest first."""
    if not alerts:
        return '<p class="muted">No open alerts.</p>'
    note = (f'<p class="muted">The newest {MAX_ALERTS} of {len(alerts):,} open alerts.</p>'
            if len(alerts) > MAX_ALERTS else "")
    rows = "".join(
        f'<tr class="drift"><td class="n">{a.id}</td>'
        f'<td><a href="/dashboard/monitors/{a.monitor_id}">{esc(names.get(a.monitor_id, ""))}'
        f'</a></td><td class="n"><a href="/dashboard/monitors/{a.monitor_id}/batches/{a.step}">'
        f"{a.step}</a></td><td>{esc(a.kind)}</td><td class=\"wrap\">{esc(a.message)}</td>"
        f"<td>{a.created_at:%Y-%m-%d %H:%M:%S}</td>"
        f'<td><form method="post" action="/dashboard/alerts/{a.id}/acknowledge">'
        f"<button>Acknowledge</button></form></td></tr>"
        for a in reversed(alerts[-MAX_ALERTS:])
    )
    return note + ('<div class="tablewrap"><table id="alerts"><thead><tr><th>Alert</th><th>Monitor'
            "</th><th>Batch</th><th>Kind</th><th>Message</th><th>Opened (UTC)</th><th></th>"
            f"</tr></thead><tbody>{rows}</tbody></table></div>")


@router.get("")
def monitors_page(request: Request) -> Response:
    project_id = _project(request)
    with request.app.state.db.read_session() as session:
        monitors = storage.list_monitors(session, project_id)
        alerts = storage.list_alerts(session, project_id, status="open")
    names = {m.id: m.name for m in monitors}
    open_by_monitor: dict[int, int] = {}
    for a in alerts:
        open_by_monitor[a.monitor_id] = open_by_monitor.get(a.monitor_id, 0) + 1
    rows = "".join(
        f'<tr{" class=drift" if open_by_monitor.get(m.id) else ""}><td class="n">{m.id}</td>'
        f'<td><a href="/dashboard/monitors/{m.id}">{esc(m.name)}</a></td>'
        f'<td class="n">{len(m.columns)}</td><td class="n">{m.n_reference:,}</td>'
        f'<td class="n">{m.n_batches:,}</td><td class="n">{open_by_monitor.get(m.id, 0)}</td>'
        f'<td class="n">{fmt(m.options.get("alpha"), ".3g")}</td>'
        f"<td>{m.created_at:%Y-%m-%d %H:%M}</td></tr>"
        for m in monitors
    )
    table = ('<div class="tablewrap"><table id="monitors" class="sortable"><thead><tr>'
             "<th>Id</th><th>Monitor</th><th>Columns</th><th>Reference rows</th>"
             "<th>Batches</th><th>Open alerts</th><th>&alpha;</th><th>Created (UTC)</th>"
             f"</tr></thead><tbody>{rows}</tbody></table></div>") if monitors else \
        '<p class="muted">No monitors yet: create one below.</p>'
    return _html("shiftguard: monitors", [
        "<h2>Monitors</h2>", table, "<h2>Open alerts</h2>", _alerts_table(alerts, names),
        _create_form()])


@router.post("/monitors")
async def create_monitor_form(
    request: Request,
    reference: UploadFile,
    name: Annotated[str, Form()] = "monitor",
    alpha: Annotated[str, Form()] = "0.05",
    horizon: Annotated[str, Form()] = "",
    error_detector: Annotated[str, Form()] = "",
) -> Response:
    _same_origin(request)
    project_id = _project(request)
    fields: dict[str, Any] = {"name": name, "alpha": alpha, "horizon": horizon or None}
    if error_detector:
        fields["error_detector"] = {"name": error_detector}
    try:
        options = MonitorOptions.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _error_page(422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
    data = await reference.read()
    suffix = suffix_of(reference.content_type, reference.filename)
    if suffix is None:
        return _error_page(415, f"cannot tell the table format of {reference.filename!r}; "
                                "use .csv, .tsv, .parquet, .arrow, .feather or .jsonl")
    state = request.app.state

    def work() -> storage.Monitor:
        table = read_upload(data, suffix, "reference")
        return create_monitor(state.db, state.cache, project_id, options, table)

    try:
        row = await run_in_threadpool(work)
    except (ShiftguardError, ServiceError) as exc:
        return _failure(exc)
    return RedirectResponse(f"/dashboard/monitors/{row.id}", status_code=303)


def _failure(exc: ShiftguardError | ServiceError) -> Response:
    if isinstance(exc, ServiceError):
        return _error_page(exc.status, exc.detail)
    status, _ = _library_status(exc)
    return _error_page(status, str(exc) if status < 500 else "internal error")


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_form(alert_id: int, request: Request) -> Response:
    _same_origin(request)
    project_id = _project(request)
    with request.app.state.db.write_session() as session:
        alert = session.get(storage.Alert, alert_id)
        if alert is None or alert.project_id != project_id:
            return _error_page(404, f"alert {alert_id} not found")
        if alert.status != "acknowledged":
            alert.status = "acknowledged"
            alert.acknowledged_at = storage.utcnow()
        monitor_id = alert.monitor_id
    return RedirectResponse(f"/dashboard/monitors/{monitor_id}", status_code=303)


# -- one monitor --------------------------------------------------------------------------


@router.get("/monitors/{monitor_id}")
def monitor_page(monitor_id: int, request: Request, last: int = DEFAULT_WINDOW,
                 posted: int | None = None) -> Response:
    project_id = _project(request)
    last = min(max(last, 1), MAX_WINDOW)
    with request.app.state.db.read_session() as session:
        monitor = storage.get_monitor(session, project_id, monitor_id)
        if monitor is None:
            return _error_page(404, f"monitor {monitor_id} not found")
        first = max(monitor.n_batches - last + 1, 1)
        batches = storage.batch_history(session, monitor_id, offset=first - 1)
        effects = feature_effects(session, monitor_id, first)
        alerts = storage.list_alerts(session, project_id, monitor_id=monitor_id)
    flash = (f'<p class="flash">Batch {posted} posted.</p>' if posted is not None else "")
    shown = (f"batches {first:,} to {monitor.n_batches:,} of {monitor.n_batches:,}"
             if monitor.n_batches else "no batches yet")
    if first > 1 and last < MAX_WINDOW:
        more = min(MAX_WINDOW, 5 * last)
        shown += (f' (<a href="/dashboard/monitors/{monitor.id}?last={more}">show the last '
                  f"{more:,}</a>)")
    sections = [
        flash,
        f"<p>Reference: {monitor.n_reference:,} rows, {len(monitor.columns)} columns "
        f"&middot; &alpha; = {fmt(monitor.options.get('alpha'), '.3g')} over the monitor's "
        f"life &middot; {shown}.</p>",
        "<h2>Open alerts</h2>",
        _alerts_table([a for a in alerts if a.status == "open"], {monitor.id: monitor.name}),
        _post_form(monitor),
    ]
    if batches:
        sections += ["<h2>Drift by feature</h2>", FEATURE_NOTE,
                     feature_charts(monitor, batches, effects),
                     "<h2>Model-error stream</h2>", error_stream(monitor, batches),
                     "<h2>Batches</h2>", batches_table(monitor.id, batches)]
    return _html(f"{monitor.name} (monitor {monitor.id})", sections)


def _post_form(monitor: storage.Monitor) -> str:
    # A fresh idempotency key per rendered form: submitting the same form twice (a
    # reload, a double click) stores the batch once.
    return f"""<h2>Post a batch</h2>
<form class="box" method="post" action="/dashboard/monitors/{monitor.id}/batches"
 enctype="multipart/form-data"><input type="hidden" name="idempotency_key"
 value="{uuid.uuid4().hex}"><label>Batch table<input type="file" name="batch" required
 accept=".csv,.tsv,.parquet,.arrow,.feather,.jsonl,.ndjson"></label>
<label>Column of model errors (optional)<input name="errors_column" size="16"></label>
<button>Post batch</button></form>"""


@router.post("/monitors/{monitor_id}/batches")
async def post_batch_form(
    monitor_id: int,
    request: Request,
    batch: UploadFile,
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    errors_column: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    _same_origin(request)
    project_id = _project(request)
    data = await batch.read()
    suffix = suffix_of(batch.content_type, batch.filename)
    if suffix is None:
        return _error_page(415, f"cannot tell the table format of {batch.filename!r}; use "
                                ".csv, .tsv, .parquet, .arrow, .feather or .jsonl")
    column = errors_column or None
    # The same content digest as the API's, so a key replayed there or here agrees.
    digest = hashlib.sha256(data)
    digest.update(json.dumps([column, None]).encode())
    state = request.app.state

    def work() -> int:
        table, values = errors_array(read_upload(data, suffix, "batch"), column, None)
        posted = post_batch(state.db, state.cache, project_id, monitor_id, table,
                            content_sha256=digest.hexdigest(),
                            idempotency_key=idempotency_key or None, errors=values)
        for alert_id in posted.webhook_alerts:
            state.webhooks.submit(alert_id)
        return posted.batch.step

    try:
        step = await run_in_threadpool(work)
    except (ShiftguardError, ServiceError) as exc:
        return _failure(exc)
    return RedirectResponse(f"/dashboard/monitors/{monitor_id}?posted={step}", status_code=303)


@router.get("/monitors/{monitor_id}/batches/{step}")
def batch_report(monitor_id: int, step: int, request: Request) -> Response:
    """The batch's HTML report as stored when it was tested, with a way back."""
    project_id = _project(request)
    with request.app.state.db.read_session() as session:
        if storage.get_monitor(session, project_id, monitor_id) is None:
            return _error_page(404, f"monitor {monitor_id} not found")
        batch = storage.get_batch(session, monitor_id, step)
        if batch is None:
            return _error_page(404, f"batch {step} of monitor {monitor_id} not found")
        html = zlib.decompress(batch.report_html).decode()
    back = (f'<nav class="top"><a href="/dashboard/monitors/{monitor_id}">&larr; back to the '
            "monitor</a></nav>")
    return HTMLResponse(html.replace("<body>", f"<body>{back}", 1), headers=_HEADERS)

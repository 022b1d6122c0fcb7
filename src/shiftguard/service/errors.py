"""Errors as JSON: every failure becomes ``{"error", "detail", "column", "field"}``.

shiftguard's typed exceptions map to 4xx statuses: a batch whose columns do not match the
reference (:class:`~shiftguard.errors.SchemaError`) and any other unusable input or option
give 422 naming the column or argument; an unreadable upload 400; a monitor whose horizon
is spent 409. Anything else is a 500 whose body says nothing of the request; the log line
names the exception type and the route, never a key or the body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from shiftguard.errors import (
    BudgetExhaustedError,
    InputError,
    ParameterError,
    ReadError,
    SchemaError,
    ShiftguardError,
)

log = logging.getLogger("shiftguard.service")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


class BodyTooLarge(HTTPException):
    """The request body passed the configured size."""

    def __init__(self) -> None:
        super().__init__(413)


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, decided from Content-Length
    before anything is read, or while the chunks arrive (the route's read then raises
    :class:`BodyTooLarge`, which the handlers below turn into the JSON body)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        total = 0

        async def limited() -> Any:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited, send)


def too_large(limit: int) -> JSONResponse:
    return error_response(413, "too_large", f"request body too large: the limit is {limit} "
                                            "bytes (SHIFTGUARD_MAX_REQUEST_BYTES)")


class ServiceError(Exception):
    """An error a route raises on purpose: a status, a code and a message."""

    def __init__(self, status: int, detail: str, *, error: str | None = None,
                 field: str | None = None, column: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error or _CODES.get(status, "error")
        self.field = field
        self.column = column
        self.headers = headers


def error_response(status: int, error: str, detail: str, *, column: str | None = None,
                   field: str | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    body = {"error": error, "detail": detail, "column": column, "field": field}
    return JSONResponse(body, status_code=status, headers=headers)


def _library_status(exc: ShiftguardError) -> tuple[int, str]:
    if isinstance(exc, SchemaError):
        return 422, "schema_mismatch"
    if isinstance(exc, ReadError):
        return 400, "unreadable"
    if isinstance(exc, (InputError, ParameterError)):
        return 422, "invalid"
    if isinstance(exc, BudgetExhaustedError):
        return 409, "budget_exhausted"
    return 500, "internal"


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(map(str, loc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into :class:`ErrorOut` bodies."""

    @app.exception_handler(ServiceError)
    async def _service(_request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, field=exc.field,
                              column=exc.column, headers=exc.headers)

    @app.exception_handler(ShiftguardError)
    async def _library(request: Request, exc: ShiftguardError) -> JSONResponse:
        status, code = _library_status(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path,
                      type(exc).__name__)
            return error_response(status, code, "internal error")
        return error_response(status, code, str(exc), column=getattr(exc, "column", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            reason = first.get("ctx", {}).get("error", "")
            return error_response(422, "invalid", f"the body is not valid JSON: {reason} at "
                                                  f"character {first['loc'][-1]}", field="body")
        field = _field_name(tuple(first.get("loc", ())))
        detail = "; ".join(f"{_field_name(tuple(e.get('loc', ())))}: {e.get('msg')}"
                           for e in errors)
        return error_response(422, "invalid", detail, field=field)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return too_large(app.state.settings.max_request_bytes)
        return error_response(exc.status_code, _CODES.get(exc.status_code, "error"),
                              str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(500, "internal", "internal error")

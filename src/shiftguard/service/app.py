"""``create_app(settings)``: the FastAPI application of ``shiftguard serve``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shiftguard.service import api, dashboard
from shiftguard.service.auth import FailureLimiter, KeyVerifier
from shiftguard.service.errors import BodyLimit, install_error_handlers
from shiftguard.service.monitors import MonitorCache
from shiftguard.service.settings import Settings
from shiftguard.service.storage import Database, migrate
from shiftguard.service.webhooks import WebhookSender


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service on ``settings`` (default: from the environment).

    Opens the database and applies its migrations now; the webhook thread runs while the
    application does (its lifespan).
    """
    settings = Settings.from_env() if settings is None else settings
    db = Database(settings.database_url)
    migrate(db.engine)
    webhooks = WebhookSender(db, attempts=settings.webhook_attempts,
                             backoff=settings.webhook_backoff, timeout=settings.webhook_timeout,
                             allow_private=settings.webhook_private)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        webhooks.start()
        try:
            yield
        finally:
            webhooks.stop()
            db.dispose()

    from shiftguard import __version__

    app = FastAPI(
        title="shiftguard", version=__version__, lifespan=lifespan,
        description="Drift monitoring with a whole-run false-alarm bound: batches posted to "
                    "a monitor are tested on arrival by shiftguard.stream.Monitor.",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.keys = KeyVerifier()
    app.state.limiter = FailureLimiter(settings.auth_failures, settings.auth_window)
    app.state.cache = MonitorCache()
    app.state.webhooks = webhooks
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.include_router(api.router)
    dashboard.install(app)
    return app

"""The FastAPI application of ``radcycle serve``: API, web UI, worker.

:func:`create_app` opens the store (upgrading its schema), mounts the JSON API
(``/api/...``, OpenAPI at ``/openapi.json``), the server-rendered UI and its
static files, and runs the analysis worker for the life of the app.

Logs name users, jobs and cases by their numbers only: no patient name,
identifier, UID or report text is ever logged (``access_log`` is off: URLs can
carry UIDs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from radcycle.errors import RadcycleError
from radcycle.service import api, ui
from radcycle.service.gateways import GatewayRegistry
from radcycle.service.jobs import Worker, recover
from radcycle.service.security import LoginLimiter
from radcycle.service.settings import ServiceSettings
from radcycle.store.db import Store, upgrade

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
}
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _HEADERS.items()]


class SecurityHeaders:
    """Adds :data:`_HEADERS` to every HTTP response that does not set them itself.

    A plain ASGI middleware that edits the ``http.response.start`` message: unlike
    ``@app.middleware("http")`` (Starlette's ``BaseHTTPMiddleware``) it starts no task
    and copies no body per request, which under load cost throughput and tail latency.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _RAW_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: ServiceSettings, gateways: GatewayRegistry | None = None) -> FastAPI:
    """The service over the store at ``settings.database_url``."""
    for folder in (settings.data, settings.cases, settings.uploads):
        folder.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.database_url)
    upgrade(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        recover(store, settings)
        worker = Worker(store, settings, app.state.gateways) if settings.run_worker else None
        app.state.worker = worker
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            store.close()

    app = FastAPI(
        title="radcycle review service",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.gateways = gateways or GatewayRegistry()
    app.state.case_json = {}
    app.state.case_json_lock = threading.Lock()
    app.state.limiter = LoginLimiter(settings.login_attempts, settings.login_window.total_seconds())
    app.include_router(api.router)
    app.include_router(ui.router)
    static = Path(str(resources.files("radcycle.service").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RadcycleError)
    async def radcycle_error(request: Request, exc: RadcycleError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(401)
    async def unauthorised(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            detail = getattr(exc, "detail", "not signed in")
            return JSONResponse({"detail": detail}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    return app

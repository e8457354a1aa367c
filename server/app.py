"""The ASGI application: ``create_app(settings)`` wires everything and returns a Starlette app.

Routes:
- ``POST /v4/{service}/{command}``: TIM REST API (server/tim/rest.py)
- ``WS /tim/ws``: TIM WebSocket protocol for logged-in users (server/tim/session.py), served
  straight from ASGI: it is the hot path, and needs none of Starlette's per-message layers
- ``WS /tim/sdk/binfo``, ``/tim/sdk/info``: Tencent's own Chat SDK (``proxyServer``),
  server/tim/sdk_session.py, also straight from ASGI
- ``GET /healthz``: liveness and a few counters

Every error answer, 404/405/500 included, is JSON in the vendor's envelope of the path it hit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from protocol.tim import errors as E
from server.core.clock import Clock, SystemClock
from server.feishu.envelope import feishu_envelope
from server.settings import Settings
from server.sim.routes import routes as sim_routes
from server.tim.rest import envelope
from server.tim.sdk_session import PATH_PREFIX as SDK_PREFIX
from server.wiring import Wiring

log = logging.getLogger("server.app")


def _error_response(request: Request, status: int, detail: str) -> Response:
    if request.url.path.startswith("/v4/"):
        code = E.INTERNAL if status >= 500 else E.REST_URL_ERROR
        return envelope(code, detail)
    # Feishu's SDK json-decodes every answer: the open-apis envelope, with a log id, everywhere
    return feishu_envelope(status, status, detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    detail = {404: f"no route for {path}", 405: f"{request.method} is not allowed here"}
    if path.startswith("//"):  # an SDK's domain (or base URL) given with a trailing slash
        detail[404] += (
            ": the path starts with '//'; drop the trailing slash from the SDK's domain "
            "(http://host:port, not http://host:port/)"
        )
    return _error_response(request, exc.status_code, detail.get(exc.status_code, str(exc.detail)))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "internal server error")


def create_app(settings: Settings, *, clock: Clock | None = None) -> App:
    """Build the application; state is opened and closed by its lifespan."""
    wiring = Wiring(settings, clock or SystemClock())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await wiring.start()
        try:
            yield
        finally:
            await wiring.stop()

    async def healthz(request: Request) -> Response:
        return JSONResponse(wiring.stats())

    async def tim_rest(request: Request) -> Response:
        return await wiring.tim_rest(request)

    routes: list[Any] = [
        Route("/v4/{service}/{command}", tim_rest, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/healthz", healthz),
        *wiring.feishu.routes(),
        *sim_routes(wiring),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.wiring = wiring
    return App(app, {"/tim/ws": wiring.tim_ws, **wiring.feishu.websockets()}, wiring.tim_sdk)


class App:
    """Starlette for HTTP; WebSocket endpoints that are hot paths get the raw ASGI callables."""

    def __init__(self, http: Starlette, websockets: dict[str, ASGIApp], sdk: ASGIApp) -> None:
        self.http = http
        self.websockets = websockets
        self.sdk = sdk  # every path under /tim/sdk (the SDK appends /binfo or /info)
        self.state = http.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.websockets.get(scope["path"])
            if endpoint is None and scope["path"].startswith(SDK_PREFIX):
                endpoint = self.sdk
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.http(scope, receive, send)

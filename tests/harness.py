"""Start the real server in-process on a pre-bound port-0 socket and wait until it is ready."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from clients.tim import TimClient
from clients.tim_rest import TimRestClient
from protocol.feishu.ids import FeishuIds
from protocol.tim.usersig import gen_usersig
from server.app import create_app
from server.core.clock import Clock
from server.settings import (
    DEFAULT_SDKAPPID,
    DEFAULT_SECRET_KEY,
    AppSettings,
    FeishuAppSettings,
    FeishuSettings,
    ServerSettings,
    Settings,
)
from server.wiring import Wiring

SDKAPPID = DEFAULT_SDKAPPID
KEY = DEFAULT_SECRET_KEY


@dataclass
class Running:
    base_url: str
    ws_url: str
    sdk_url: str  # the proxyServer value for Tencent's Chat SDK
    settings: Settings
    wiring: Wiring

    def usersig(
        self, user: str, *, sdkappid: int = SDKAPPID, key: str = KEY, expire: int = 86400
    ) -> str:
        return gen_usersig(sdkappid, key, user, expire=expire, now=int(time.time()))

    def client(self, user: str, *, sdkappid: int = SDKAPPID, key: str = KEY) -> TimClient:
        return TimClient(
            self.ws_url, sdkappid, user, self.usersig(user, sdkappid=sdkappid, key=key)
        )

    def admin(self, *, sdkappid: int = SDKAPPID, key: str = KEY) -> TimRestClient:
        return TimRestClient(self.base_url, sdkappid, key)

    @property
    def ids(self) -> FeishuIds:
        """This server's om_/oc_/rc_ ids (they differ per database)."""
        return self.wiring.feishu.ids


def bound_socket(port: int = 0) -> socket.socket:
    """A listening socket on loopback: a free port, or ``port`` again (a restarted server)."""
    sock = socket.socket(
        socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # proto: asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


@contextlib.asynccontextmanager
async def running_server(
    db_path: Path | str,
    *,
    apps: list[AppSettings] | None = None,
    clock: Clock | None = None,
    feishu_apps: list[FeishuAppSettings] | None = None,
    port: int = 0,
    **server_settings: object,
) -> AsyncIterator[Running]:
    sock = bound_socket(port)
    port = sock.getsockname()[1]
    settings = Settings(
        server=ServerSettings(db=str(db_path), port=port, **server_settings),  # type: ignore[arg-type]
        apps=apps or [],
        feishu=FeishuSettings(apps=feishu_apps or []),
    )
    app = create_app(settings, clock=clock)
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        http=settings.server.http,  # h11 by default: keeps Feishu's X-Tt-Logid casing
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws_max_size=1 << 20,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # readiness: uvicorn sets this after the lifespan startup
            if task.done():
                task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.005)
        yield Running(
            base_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}/tim/ws",
            sdk_url=f"ws://127.0.0.1:{port}/tim/sdk",
            settings=settings,
            wiring=app.state.wiring,
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()

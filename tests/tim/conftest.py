"""TIM end-to-end fixtures: a real server on a pre-bound port-0 socket, REST over raw HTTP and
the admin client, and WebSocket connections made with the asyncio client or by hand."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from TLSSigAPIv2 import TLSSigAPIv2
from websockets.asyncio.client import ClientConnection, connect

from clients.tim import TimClient
from clients.tim_rest import TimRestClient
from tests.harness import KEY, SDKAPPID, Running, running_server

ADMIN = "administrator"
OTHER_KEY = "0" * 64  # a well-formed key that is not the app's


def tencent_sig(user: str, *, sdkappid: int = SDKAPPID, key: str = KEY, expire: int = 86400) -> str:
    """A UserSig minted by Tencent's official generator (tls-sig-api-v2)."""
    return str(TLSSigAPIv2(sdkappid, key).gen_sig(user, expire))


def rest_url(
    srv: Running, service: str, command: str, *, drop: tuple[str, ...] = (), **query: object
) -> str:
    """A REST URL with the admin's official UserSig; ``query`` overrides, ``drop`` removes keys."""
    params: dict[str, object] = {
        "sdkappid": SDKAPPID,
        "identifier": ADMIN,
        "usersig": tencent_sig(ADMIN),
        "random": 12345,
        "contenttype": "json",
    }
    params.update(query)
    for key in drop:
        params.pop(key, None)
    return f"{srv.base_url}/v4/{service}/{command}?{urlencode(params)}"


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    body: dict[str, Any] | bytes | None = None,
    *,
    method: str = "POST",
) -> dict[str, Any]:
    """Send a REST request and return its body, checking TIM's transport promises on the way:
    HTTP 200 and a JSON envelope, failures included."""
    content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    resp = await http.request(method, url, content=content)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    result: dict[str, Any] = resp.json()
    assert result["ActionStatus"] in ("OK", "FAIL")
    assert isinstance(result["ErrorCode"], int) and isinstance(result["ErrorInfo"], str)
    return result


def assert_fail(result: dict[str, Any], code: int) -> None:
    """``result`` is a FAIL envelope with ``code`` and a non-empty ``ErrorInfo``."""
    assert (result["ActionStatus"], result["ErrorCode"]) == ("FAIL", code), result
    assert result["ErrorInfo"]


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[Running]:
    """A server with the embedded sample app (1400000000, admin ``administrator``)."""
    async with running_server(tmp_path / "im.sqlite3") as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def admin(srv: Running) -> AsyncIterator[TimRestClient]:
    async with srv.admin() as client:
        yield client


class Clients:
    """Logged-in WebSocket clients, all closed at the end of the test."""

    def __init__(self, srv: Running, stack: contextlib.AsyncExitStack) -> None:
        self.srv = srv
        self.stack = stack

    async def login(self, user: str, **kwargs: Any) -> TimClient:
        client = self.srv.client(user, **kwargs)
        await client.login()
        self.stack.push_async_callback(client.close)
        return client


@pytest.fixture
async def clients(srv: Running) -> AsyncIterator[Clients]:
    async with contextlib.AsyncExitStack() as stack:
        yield Clients(srv, stack)


class RawWs:
    """A hand-driven WebSocket connection: send any frame, read the next one as JSON."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: str | bytes | dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame) if isinstance(frame, dict) else frame)

    async def recv(self, within: float = 5.0) -> dict[str, Any]:
        """The next frame, which must arrive within ``within`` seconds."""
        async with asyncio.timeout(within):
            raw = await self.ws.recv(decode=True)
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def request(self, frame: str | bytes | dict[str, Any]) -> dict[str, Any]:
        """Send a frame and return the next response (pushes are skipped)."""
        await self.send(frame)
        while True:
            got = await self.recv()
            if "event" not in got:
                return got

    async def login(self, user: str, sig: str | None = None, req_id: int = 1) -> dict[str, Any]:
        """Send a login (with an official UserSig unless ``sig`` is given); its response."""
        return await self.request(
            {
                "cmd": "login",
                "reqId": req_id,
                "sdkAppID": SDKAPPID,
                "userID": user,
                "userSig": sig or tencent_sig(user),
            }
        )

    async def closed_code(self, within: float = 5.0) -> int | None:
        """Read (and drop) frames until the server closes; the close code it sent."""
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(within):
                async for _ in self.ws:
                    pass
        return self.ws.close_code


async def small_window_socket(srv: Running, rcvbuf: int) -> socket.socket:
    """A TCP connection to the server with a tiny receive buffer (set before connecting, so it
    is the window): a client on it that stops reading backs up the server quickly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    host, port = srv.base_url.removeprefix("http://").split(":")
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return sock


@contextlib.asynccontextmanager
async def raw_ws(srv: Running, *, rcvbuf: int | None = None) -> AsyncIterator[RawWs]:
    """Open a raw connection; ``rcvbuf`` shrinks the client's socket receive buffer (to make a
    client that stops reading back up quickly)."""
    sock = None if rcvbuf is None else await small_window_socket(srv, rcvbuf)
    ws = await connect(srv.ws_url, sock=sock, compression=None, max_queue=1, max_size=1 << 20)
    try:
        yield RawWs(ws)
    finally:
        await ws.close()


def now_s() -> int:
    return int(time.time())


async def import_users(admin: TimRestClient, users: list[str]) -> None:
    """Import any number of accounts (multiaccount_import takes 100 at a time)."""
    for i in range(0, len(users), 100):
        await admin.import_accounts(*users[i : i + 100])

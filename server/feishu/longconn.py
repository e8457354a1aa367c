"""The long connection: ``POST /callback/ws/endpoint``, the pbbp2 WebSocket at ``/ws/v2``, and
the outbox channel that pushes each app's events over it (feishu.md §3).

* Discovery checks ``AppID``/``AppSecret`` and answers the WebSocket URL (on the host the client
  used) with a signed, short-lived ``ticket``, plus the app's ``ClientConfig``. Bad credentials
  get a code the SDKs treat as fatal (:data:`CODE_BAD_CREDENTIALS`).
* The WebSocket endpoint checks the ticket (a refused upgrade is an HTTP 403 with
  ``handshake-status``/``handshake-msg`` headers, fatal for the SDKs), answers pings with pongs
  carrying the ``ClientConfig``, and matches acks to pushes by ``message_id``.
* Each connection pushes events as DATA frames (fragmented over ~1 MiB) and reports the ack's
  code; the outbox channel that uses it is ``longconn_channel.py``.

All state lives in one :class:`LongConnHub` per dialect (:func:`hub`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import logging
import secrets
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from protocol import codec
from protocol.feishu import frames as F
from protocol.feishu import longconn as L
from server.core.clock import Clock
from server.core.events import StoredEvent
from server.feishu.envelope import feishu_envelope
from server.feishu.longconn_channel import LongConnChannel
from server.outbox import Channel
from server.settings import FeishuAppSettings

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect

log = logging.getLogger("server.feishu.longconn")

WS_PATH: Final = "/ws/v2"
CODE_BAD_REQUEST: Final = 10003
"""Discovery: the body is not ``{"AppID", "AppSecret"}`` JSON, or the app is in webhook mode."""
CODE_BAD_CREDENTIALS: Final = 10014
"""Discovery: unknown ``AppID`` or wrong ``AppSecret`` (Feishu's "app secret invalid")."""
TICKET_TTL_MS: Final = 300_000
"""How long a discovered URL may be used to connect."""
MAX_CONNECTIONS: Final = 50
"""Connections per app; one more is refused with 514 + 1000040350, fatal for the SDKs."""


def client_config(app: FeishuAppSettings) -> L.ClientConfig:
    """The ``ClientConfig`` of ``app``: retry forever, its intervals and nonce."""
    return L.ClientConfig(
        reconnect_count=-1,
        reconnect_interval=app.reconnect_interval,
        reconnect_nonce=app.reconnect_nonce,
        ping_interval=app.ping_interval,
    )


def _service_id(app_id: str) -> int:
    """A stable positive int32 per app (the URL's ``service_id``, echoed in every frame)."""
    return int(hashlib.sha256(f"service:{app_id}".encode()).hexdigest()[:7], 16) + 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Claims(msgspec.Struct, array_like=True, frozen=True):
    app_id: str
    conn_id: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Ack:
    """How one push ended: the ack's ``code`` (200, 500...) or None with no ack."""

    code: int | None
    detail: str


class LongConnection:
    """One accepted WebSocket of one app: answers pings, pushes events, collects acks."""

    def __init__(self, hub: LongConnHub, app: FeishuAppSettings, conn_id: str, send: Send) -> None:
        self.hub = hub
        self.app = app
        self.conn_id = conn_id
        self.service = _service_id(app.app_id)
        self.connected_ms = hub.clock.now_ms()
        self.pings = 0
        self.pushes = 0
        self.acks = 0
        self.closed = False
        self._send = send
        self._send_lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[int | None]] = {}

    async def run(self, receive: Receive) -> None:
        """Read client frames until the connection ends."""
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes")
                if message["type"] != "websocket.receive" or data is None:
                    log.debug("connection %s: ignored a non-binary message", self.conn_id)
                    continue
                await self._handle(data)
        finally:
            self.closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_result(None)

    async def _handle(self, data: bytes) -> None:
        try:
            frame = F.decode_frame(data)
        except F.FrameError as exc:
            log.warning("connection %s: undecodable frame (%s)", self.conn_id, exc)
            return
        if frame.method == F.METHOD_CONTROL:
            if frame.header(F.HEADER_TYPE) == F.TYPE_PING:
                self.pings += 1
                config = L.encode_client_config(client_config(self.app))
                await self._write([F.encode_frame(F.pong_frame(frame.service, config))])
        elif frame.method == F.METHOD_DATA:
            future = self._pending.get(frame.header(F.HEADER_MESSAGE_ID) or "")
            if future is not None and not future.done():
                self.acks += 1
                future.set_result(F.ack_code(frame))

    async def _write(self, messages: list[bytes]) -> bool:
        """Send binary messages back to back (the fragments of one event stay together)."""
        async with self._send_lock:
            if self.closed:
                return False
            try:
                for data in messages:
                    await self._send({"type": "websocket.send", "bytes": data})
            except Exception as exc:  # the client went away (uvicorn: ClientDisconnected)
                log.info("connection %s: send failed (%r)", self.conn_id, exc)
                self.closed = True
                return False
        return True

    async def push(self, payload: bytes, timeout: float) -> Ack:  # noqa: ASYNC109
        """Push one event (fragmented when over ``hub.max_fragment``) and wait for its ack."""
        message_id = uuid.uuid4().hex
        number = next(self.hub.numbers)
        frames = F.event_frames(
            seq_id=number,
            log_id=number,
            service=self.service,
            message_id=message_id,
            trace_id=uuid.uuid4().hex,
            payload=payload,
            timestamp_ms=self.hub.clock.now_ms(),
            max_fragment=self.hub.max_fragment,
        )
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            if not await self._write([F.encode_frame(f) for f in frames]):
                return Ack(None, f"connection {self.conn_id} closed before the push")
            self.pushes += 1
            try:
                async with asyncio.timeout(timeout):
                    code = await future
            except TimeoutError:
                return Ack(None, f"no ack from connection {self.conn_id} within {timeout:g} s")
        finally:
            self._pending.pop(message_id, None)
        if code is None:
            if self.closed:
                return Ack(None, f"connection {self.conn_id} closed before its ack")
            return Ack(None, f"connection {self.conn_id} acked without an integer code")
        parts = f" in {len(frames)} fragments" if len(frames) > 1 else ""
        return Ack(code, f"connection {self.conn_id} acked {code}{parts}")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server side (the SDK then rediscovers and reconnects)."""
        async with self._send_lock:
            if self.closed:
                return
            self.closed = True
            try:
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
            except Exception as exc:
                log.debug("connection %s: close failed (%r)", self.conn_id, exc)


class LongConnHub:
    """Tickets, the connected clients of every app, and waiting for one to connect.

    ``accepting`` False makes discovery answer "system busy" (code 1, which the SDKs retry after
    their ``ReconnectInterval``): an outage, for tests of reconnection.
    """

    def __init__(self, apps: dict[str, FeishuAppSettings], clock: Clock) -> None:
        self.apps = apps
        self.clock = clock
        self.accepting = True
        self.max_fragment = F.MAX_FRAGMENT
        self.numbers = itertools.count(1)
        self.discoveries = 0
        self._key = secrets.token_bytes(32)
        self._connections: dict[str, list[LongConnection]] = {}
        self._arrivals: dict[str, asyncio.Event] = {}

    # -- discovery ---------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        """``POST /callback/ws/endpoint``: the WebSocket URL and ``ClientConfig``, or a fatal
        code naming the problem (always HTTP 200: another status is retried by the SDK)."""
        self.discoveries += 1
        try:
            body = L.decode_endpoint_request(await request.body())
        except msgspec.DecodeError as exc:
            return _refuse(CODE_BAD_REQUEST, f"the body must be JSON {{AppID, AppSecret}}: {exc}")
        if not body.app_id:
            return _refuse(CODE_BAD_REQUEST, "AppID is missing")
        app = self.apps.get(body.app_id)
        if app is None:
            return _refuse(CODE_BAD_CREDENTIALS, f"app {body.app_id!r} is not configured")
        if not hmac.compare_digest(body.app_secret.encode(), app.app_secret.encode()):
            return _refuse(CODE_BAD_CREDENTIALS, f"wrong AppSecret for app {app.app_id!r}")
        if app.event_url is not None:
            return _refuse(
                CODE_BAD_REQUEST,
                f"app {app.app_id!r} receives events at its event_url; remove event_url to "
                "receive them over the long connection",
            )
        if not self.accepting:
            return _refuse(L.CODE_SYSTEM_BUSY, "system busy")
        conn_id = str(secrets.randbits(62))
        host = request.headers.get("host") or _authority(request.scope)
        scheme = "wss" if request.url.scheme in ("https", "wss") else "ws"
        query = urlencode(
            {
                "fpid": "1",  # a dummy first: Node's qs.parse swallows the first key
                "device_id": conn_id,
                "access_key": secrets.token_hex(16),
                "service_id": str(_service_id(app.app_id)),
                "ticket": self._ticket(app.app_id, conn_id),
            }
        )
        endpoint = L.Endpoint(f"{scheme}://{host}{WS_PATH}?{query}", client_config(app))
        return feishu_envelope(200, L.CODE_OK, "ok", endpoint)

    def _ticket(self, app_id: str, conn_id: str) -> str:
        claims = msgspec.json.encode(_Claims(app_id, conn_id, self.clock.now_ms() + TICKET_TTL_MS))
        return f"{_b64(claims)}.{_b64(self._sign(claims))}"

    def _sign(self, claims: bytes) -> bytes:
        return hmac.digest(self._key, claims, "sha256")[:18]

    def _check_ticket(self, ticket: str, device_id: str) -> _Claims | str:
        """The ticket's claims, or why it is refused."""
        encoded, _, signature = ticket.partition(".")
        try:
            claims_raw, mac = _unb64(encoded), _unb64(signature)
        except ValueError:
            return "the ticket is malformed"
        if not hmac.compare_digest(mac, self._sign(claims_raw)):
            return "the ticket is not valid (get a new URL from /callback/ws/endpoint)"
        claims = codec.decode(claims_raw, _Claims)
        if claims.expires_ms < self.clock.now_ms():
            return "the ticket has expired (get a new URL from /callback/ws/endpoint)"
        if claims.conn_id != device_id:
            return f"device_id {device_id!r} is not the one the ticket was issued for"
        if claims.app_id not in self.apps:
            return f"app {claims.app_id!r} is no longer configured"
        return claims

    # -- the WebSocket endpoint --------------------------------------------------------------

    async def endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/ws/v2``: check the ticket, accept, serve the connection until it ends."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ticket = query.get("ticket", [""])[0]
        checked = self._check_ticket(ticket, query.get("device_id", [""])[0])
        if isinstance(checked, str):
            await _reject(scope, send, [(L.HEADER_HANDSHAKE_STATUS, "403")], checked)
            return
        app = self.apps[checked.app_id]
        if len(self._connections.get(app.app_id, [])) >= MAX_CONNECTIONS:
            headers = [
                (L.HEADER_HANDSHAKE_STATUS, str(L.HANDSHAKE_AUTH_FAILED)),
                (L.HEADER_HANDSHAKE_AUTH_ERRCODE, str(L.EXCEED_CONN_LIMIT)),
            ]
            msg = f"app {app.app_id!r} already has {MAX_CONNECTIONS} connections"
            await _reject(scope, send, headers, msg)
            return
        await send({"type": "websocket.accept"})
        connection = LongConnection(self, app, checked.conn_id, send)
        self._add(connection)
        log.info("app %s: long connection %s opened", app.app_id, connection.conn_id)
        try:
            await connection.run(receive)
        finally:
            self._remove(connection)
            log.info("app %s: long connection %s closed", app.app_id, connection.conn_id)

    def _add(self, connection: LongConnection) -> None:
        app_id = connection.app.app_id
        self._connections.setdefault(app_id, []).append(connection)
        arrival = self._arrivals.pop(app_id, None)
        if arrival is not None:
            arrival.set()

    def _remove(self, connection: LongConnection) -> None:
        live = self._connections.get(connection.app.app_id, [])
        if connection in live:
            live.remove(connection)

    # -- for channels, tests and inspection --------------------------------------------------

    def connections(self, app_id: str) -> list[LongConnection]:
        """The open connections of an app, oldest first."""
        return [c for c in self._connections.get(app_id, []) if not c.closed]

    async def client(self, app_id: str, wait: float) -> LongConnection | None:
        """The newest open connection of the app, waiting up to ``wait`` s for one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            live = self.connections(app_id)
            if live:
                return live[-1]
            arrival = self._arrivals.setdefault(app_id, asyncio.Event())
            try:
                async with asyncio.timeout_at(deadline):
                    await arrival.wait()
            except TimeoutError:
                return None

    async def disconnect(self, app_id: str, code: int = 1000, reason: str = "") -> int:
        """Close every connection of an app from the server side; how many there were."""
        live = self.connections(app_id)
        for connection in live:
            await connection.close(code, reason)
        return len(live)


def _refuse(code: int, msg: str) -> Response:
    return feishu_envelope(200, code, msg)


def _authority(scope: Scope) -> str:
    server = scope.get("server") or ("127.0.0.1", 80)
    return f"{server[0]}:{server[1]}"


async def _reject(scope: Scope, send: Send, headers: list[tuple[str, str]], msg: str) -> None:
    """Refuse the upgrade with an HTTP answer carrying ``handshake-*`` headers. Without the ASGI
    HTTP-response extension the server can only answer a bare 403 (retried by the SDKs)."""
    log.info("refused a long connection: %s", msg)
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": msg[:120]})
        return
    text = msg.encode("ascii", "replace").decode()
    body = msgspec.json.encode({"code": int(headers[0][1]), "msg": msg})
    raw = [(k.encode(), v.encode()) for k, v in [*headers, (L.HEADER_HANDSHAKE_MSG, text)]]
    raw.append((b"content-type", b"application/json; charset=utf-8"))
    await send({"type": "websocket.http.response.start", "status": 403, "headers": raw})
    await send({"type": "websocket.http.response.body", "body": body})


# -- what the dialect includes -----------------------------------------------------------------

_hubs: weakref.WeakKeyDictionary[Any, LongConnHub] = weakref.WeakKeyDictionary()


def hub(dialect: FeishuDialect) -> LongConnHub:
    """The long-connection state of ``dialect`` (made on first use, one per dialect)."""
    found = _hubs.get(dialect)
    if found is None:
        found = _hubs[dialect] = LongConnHub(dialect.apps, dialect.clock)
    return found


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    return [Route(L.DISCOVERY_PATH, hub(dialect).discovery, methods=["POST"])]


def websockets(dialect: FeishuDialect) -> dict[str, ASGIApp]:
    return {WS_PATH: hub(dialect).endpoint}


def channels(dialect: FeishuDialect) -> list[Channel]:
    """One channel per app without an ``event_url``; events rendered by ``dialect.renderer``
    (looked up at each delivery)."""

    async def render(app: FeishuAppSettings, event: StoredEvent) -> list[bytes]:
        return await dialect.renderer.render(app, event)

    shared = hub(dialect)
    return [
        LongConnChannel(shared, app, render)
        for app in dialect.apps.values()
        if app.event_url is None
    ]

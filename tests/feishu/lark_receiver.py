"""A Feishu app's webhook for tests: the official lark-oapi ``EventDispatcherHandler`` behind aiohttp.

::

    async with LarkReceiver(encrypt_key="k", verification_token="t") as receiver:
        ... FeishuAppSettings(event_url=receiver.url, ...) ...
        await receiver.wait_until(lambda: len(receiver.events) >= 1, what="one event")
        receiver.events[0].sdk            # the SDK's typed object (P2ImMessageReceiveV1, ...)
        receiver.events[0].plain          # the decrypted JSON the server sent

Each request goes, unchanged (raw header names, raw body), into ``handler.do(RawRequest)`` in
a worker thread; the SDK's status and body are the answer. ``fail`` can answer a request with
an error status before the SDK sees it; ``stop()`` closes the port, ``start()`` opens the same
port again. Tests wait on :meth:`wait_until`, which wakes on each request, never on a sleep.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lark_oapi as lark
from aiohttp import web
from lark_oapi.core.utils.decryptor import AESCipher

PATH = "/feishu/events"


@dataclass
class Hit:
    """One request as it arrived, and how it was answered."""

    headers: dict[str, str]  # header names exactly as sent
    body: bytes
    plain: dict[str, Any]  # the JSON the server meant (decrypted when encrypted)
    status: int
    answer: bytes
    handled: list[Any] = field(default_factory=list)  # what the SDK passed to our handlers

    @property
    def event_type(self) -> str:
        if self.plain.get("type") == "url_verification":
            return "url_verification"
        return str(self.plain.get("header", {}).get("event_type", ""))

    @property
    def event_id(self) -> str:
        return str(self.plain.get("header", {}).get("event_id", ""))

    @property
    def sdk(self) -> Any:
        """The SDK's typed event (the one our handler received)."""
        assert len(self.handled) == 1, self.handled
        return self.handled[0]


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


class LarkReceiver:
    def __init__(self, encrypt_key: str = "", verification_token: str = "") -> None:
        self.encrypt_key = encrypt_key
        self.verification_token = verification_token
        self.port = 0
        self.fail: Callable[[Hit], int | None] | None = None  # a status: answered without the SDK
        self.hits: list[Hit] = []
        self._handled: list[Any] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.handler = (
            lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
            .register_p2_im_message_receive_v1(self._handled.append)
            .register_p2_im_message_message_read_v1(self._handled.append)
            .register_p2_im_message_reaction_created_v1(self._handled.append)
            .register_p2_im_message_reaction_deleted_v1(self._handled.append)
            .build()
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    @property
    def events(self) -> list[Hit]:
        """The events the SDK accepted (HTTP 200, not the challenge), in arrival order."""
        return [h for h in self.hits if h.status == 200 and h.event_type != "url_verification"]

    def of(self, event_type: str) -> list[Hit]:
        return [h for h in self.events if h.event_type == event_type]

    @property
    def challenges(self) -> list[Hit]:
        return [h for h in self.hits if h.event_type == "url_verification"]

    async def start(self) -> None:
        """Listen (again) on ``self.port``; port 0 picks a free one on the first start."""
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening: the port is closed until the next start()."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LarkReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_until(
        self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = "a condition"
    ) -> None:
        """Return once ``predicate()`` holds; it is checked again after each request."""
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = "\n".join(f"  {h.status} {h.event_type} {h.plain}" for h in self.hits)
            raise AssertionError(f"no {what} within {within}s; requests:\n{seen}") from None

    def _plain(self, body: bytes) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(body)
        if "encrypt" in data and self.encrypt_key:
            decrypted: dict[str, Any] = json.loads(
                AESCipher(self.encrypt_key).decrypt_str(data["encrypt"])
            )
            return decrypted
        return data

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.decode(): v.decode() for k, v in request.raw_headers}
        hit = Hit(headers, body, self._plain(body), 0, b"")
        status = self.fail(hit) if self.fail is not None else None
        if status is not None:
            hit.status, hit.answer = status, b'{"msg":"told to fail"}'
        else:
            raw = lark.RawRequest()
            raw.uri = request.path_qs
            raw.headers = headers
            raw.body = body
            before = len(self._handled)
            response = await asyncio.to_thread(self.handler.do, raw)
            assert response.status_code is not None
            hit.status, hit.answer = response.status_code, response.content or b""
            hit.handled = self._handled[before:]
        self.hits.append(hit)
        self._changed.set()
        return web.Response(
            status=hit.status, body=hit.answer, content_type="application/json", charset="utf-8"
        )

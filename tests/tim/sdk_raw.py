"""A hand-driven socket in Tencent's Chat SDK protocol (``/tim/sdk/binfo`` or ``/info``):
send any frame, read answers and pushes as JSON, as the SDK would see them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import SDKAPPID, Running
from tests.tim.conftest import small_window_socket, tencent_sig

PUSH = "im_open_push.msg_push"


class RawSdk:
    def __init__(self, ws: ClientConnection, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.seq = itertools.count(51880743)
        self.a2 = ""
        self.tinyid = ""
        self.pushes: list[dict[str, Any]] = []
        self.kinds: list[type] = []  # the Python type of each frame received (bytes or str)

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, within: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            raw = await self.ws.recv()
        self.kinds.append(type(raw))
        frame: dict[str, Any] = json.loads(raw)
        return frame

    async def answer(self, within: float = 5.0) -> dict[str, Any]:
        """The next frame that is not a push (pushes are kept in ``pushes``)."""
        while True:
            frame = await self.recv(within)
            if frame["head"].get("servcmd") == PUSH:
                self.pushes.append(frame)
                continue
            return frame

    def head(self, servcmd: str, **extra: Any) -> dict[str, Any]:
        head: dict[str, Any] = {
            "ver": "v4",
            "platform": 7,
            "sdkappid": SDKAPPID,
            "contenttype": "json",
            "servcmd": servcmd,
            "seq": next(self.seq),
        }
        if self.a2:
            head.update(a2=self.a2, tinyid=self.tinyid)
        head.update(extra)
        return head

    async def call(self, servcmd: str, body: Any = None, **head: Any) -> dict[str, Any]:
        """Send a request and return its answer's body (checking servcmd and seq are echoed)."""
        h = self.head(servcmd, **head)
        text = json.dumps({"head": h, "body": {} if body is None else body})
        await self.send_raw(text.encode() if self.binary else text)
        frame = await self.answer()
        assert frame["head"] == {"servcmd": servcmd, "seq": h["seq"]}, frame
        body_out: dict[str, Any] = frame["body"]
        return body_out

    async def login(self, user: str, sig: str | None = None) -> dict[str, Any]:
        body = await self.call(
            "im_open_status.wslogin",
            {"State": "Online", "is_web_uniapp": 0, "InstType": 0, "CustomInfo": ""},
            identifier=user,
            usersig=sig or tencent_sig(user),
        )
        if body.get("ErrorCode", 0) == 0:
            self.a2, self.tinyid = body["A2Key"], body["TinyId"]
        return body

    async def next_push(self, key: str, within: float = 5.0) -> dict[str, Any]:
        """The next ``EventArray`` item carrying ``key`` (pushes read earlier included)."""
        async with asyncio.timeout(within):
            while True:
                for frame in self.pushes:
                    for item in frame["body"]["EventArray"]:
                        if key in item:
                            frame["body"]["EventArray"].remove(item)
                            return dict(item)
                frame = await self.recv(within)
                if frame["head"].get("servcmd") == PUSH:
                    self.pushes.append(frame)

    async def closed_code(self, within: float = 5.0) -> int | None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(within):
                async for _ in self.ws:
                    pass
        return self.ws.close_code


@contextlib.asynccontextmanager
async def raw_sdk(
    srv: Running, *, binary: bool = True, path: str | None = None, rcvbuf: int | None = None
) -> AsyncIterator[RawSdk]:
    """A socket on ``/tim/sdk/binfo`` (or ``/info``, or ``path``); ``rcvbuf`` shrinks its
    receive buffer, to make a client that stops reading back up quickly."""
    url = f"{srv.sdk_url}/{path or ('binfo' if binary else 'info')}?sdkappid={SDKAPPID}&platform=7"
    sock = None if rcvbuf is None else await small_window_socket(srv, rcvbuf)
    # a client that is to stop reading buffers nothing; others keep the default queue (a full
    # one would stall the closing handshake behind pushes nobody read)
    queue = 1 if rcvbuf is not None else 16
    ws = await connect(url, sock=sock, compression=None, max_size=1 << 22, max_queue=queue)
    try:
        yield RawSdk(ws, binary)
    finally:
        await ws.close()


def text_body(text: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]

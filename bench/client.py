"""A lean load-generator connection for the TIM WebSocket protocol.

Leaner than ``clients/tim.py`` on purpose: requests are pre-encoded byte templates (only the
``reqId`` is spliced in), incoming frames are decoded once into a small Struct whose ``data``
stays raw until someone needs it, and pushes go straight to callbacks instead of a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

from protocol.tim import elements as el
from protocol.tim import ws as W


class Frame(msgspec.Struct):
    """Any server frame: a response (``reqId``) or a push (``event``)."""

    event: str = ""
    cmd: str = ""
    reqId: int = -1
    code: int = 0
    desc: str = ""
    data: msgspec.Raw = msgspec.Raw(b"null")


class ReceiptItem(msgspec.Struct):
    msgID: str
    readCount: int = 0
    unreadCount: int = 0


class ReceiptListData(msgspec.Struct):
    receiptList: list[ReceiptItem]


class _MsgRef(msgspec.Struct):
    msgID: str


class _SendResult(msgspec.Struct):
    message: _MsgRef


frame_decoder = msgspec.json.Decoder(Frame)
receipts_decoder = msgspec.json.Decoder(ReceiptListData)
send_result_decoder = msgspec.json.Decoder(_SendResult)

_RECEIPT_HEAD = b'{"cmd":"sendMessageReadReceipts","reqId":'
_GET_RECEIPTS_HEAD = b'{"cmd":"getMessageReadReceipts","reqId":'


def msg_ids_tail(msg_ids: list[str]) -> bytes:
    """The pre-encoded rest of a receipt request after its reqId: ``,"msgIDList":[...]}``."""
    return b',"msgIDList":' + msgspec.json.encode(msg_ids) + b"}"


class RequestError(Exception):
    def __init__(self, cmd: str, code: int, desc: str) -> None:
        super().__init__(f"{cmd} failed: {code} {desc}")
        self.code = code


PushHandler = Callable[[Any, int, "list[ReceiptItem]"], None]  # (conn, receive time ns, items)


class BaseConn:
    """What the load connections of both protocols share: pending requests by number, pushes
    to callbacks, writes that skip the library's async path when nothing stands in the way."""

    text_frames = True  # /tim/ws speaks text frames; Tencent's SDK protocol binary ones

    def __init__(self, user: str, ws: ClientConnection) -> None:
        self.user = user
        self.ws = ws
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.on_receipts: PushHandler | None = None
        self.new_message_pushes = 0
        self.receipt_pushes = 0
        self.other_pushes = 0
        self.closed_code: int | None = None
        self.closed = False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    def _send_now(self, frame: bytes) -> bool:
        """Write a frame synchronously when nothing stands in the way (open, not paused by
        flow control): ``Connection.send`` does the same two steps, but through an async
        context manager and, for open-loop use, a task per frame, which cost the generator more
        than the frame itself. False: take the ordinary path."""
        ws = self.ws
        if ws.paused or ws.protocol.state is not State.OPEN:
            return False
        if self.text_frames:
            ws.protocol.send_text(frame)
        else:
            ws.protocol.send_binary(frame)
        ws.send_data()
        return True

    def _request_nowait(self, number: int, frame: bytes) -> asyncio.Future[Frame]:
        """Send ``frame`` (request ``number``) without ever waiting; its answer's future."""
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[number] = fut
        if not self._send_now(frame):
            task = asyncio.ensure_future(self._send_later(frame, number))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return fut

    async def _send_later(self, frame: bytes, number: int) -> None:
        try:
            await self.ws.send(frame, text=self.text_frames)
        except Exception as exc:
            fut = self._pending.pop(number, None)
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    async def _exchange(self, number: int, frame: bytes, limit: float = 60.0) -> Frame:
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[number] = fut
        try:
            if not self._send_now(frame):
                await self.ws.send(frame, text=self.text_frames)
            async with asyncio.timeout(limit):
                return await fut
        finally:
            self._pending.pop(number, None)

    def _answer(self, number: int, frame: Frame) -> None:
        fut = self._pending.pop(number, None)
        if fut is not None and not fut.done():
            fut.set_result(frame)

    def _gone(self) -> None:
        """The socket closed: every pending request fails now."""
        self.closed = True
        self.closed_code = self.ws.close_code
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(
                    ConnectionError(f"connection of {self.user} closed ({self.closed_code})")
                )
        self._pending.clear()


class Conn(BaseConn):
    """One logged-in user on one WebSocket connection."""

    def __init__(self, user: str, ws: ClientConnection) -> None:
        super().__init__(user, ws)
        self._ids = itertools.count(1)

    receipts_tail = staticmethod(msg_ids_tail)

    @classmethod
    async def open(cls, url: str, user: str, *, compression: str | None) -> Conn:
        ws = await connect(
            url,
            compression=compression,
            max_size=8 << 20,
            ping_interval=None,
            open_timeout=60,
            close_timeout=5,
        )
        conn = cls(user, ws)
        conn._reader = asyncio.create_task(conn._read_loop())
        return conn

    async def login(self, sdkappid: int, user_sig: str) -> None:
        frame = W.encoder.encode(
            W.Login(reqId=0, sdkAppID=sdkappid, userID=self.user, userSig=user_sig)
        )
        await self._roundtrip(b"login", frame, 0)

    async def send_group_message(self, group_id: str, text: str) -> str:
        """Send a needReadReceipt text message; returns its msgID."""
        req_id = next(self._ids)
        frame = W.encoder.encode(
            W.SendMessage(
                reqId=req_id,
                groupID=group_id,
                message=W.OutgoingMessage(elemList=[el.text(text)], needReadReceipt=True),
            )
        )
        reply = await self._roundtrip(b"sendMessage", frame, req_id)
        return send_result_decoder.decode(reply.data).message.msgID

    def send_receipts_nowait(self, tail: bytes) -> asyncio.Future[Frame]:
        """Send a sendMessageReadReceipts (``tail`` from :func:`msg_ids_tail`) without ever
        waiting, so an open-loop scheduler keeps its schedule; returns the response's future."""
        return self.request_nowait(lambda req_id: _RECEIPT_HEAD + str(req_id).encode() + tail)

    def send_c2c_nowait(
        self, receiver: str, text: str, *, need_read_receipt: bool = False
    ) -> asyncio.Future[Frame]:
        """Send a one-to-one text message without waiting; returns the response's future."""
        message = W.OutgoingMessage(elemList=[el.text(text)], needReadReceipt=need_read_receipt)
        return self.request_nowait(
            lambda req_id: W.encoder.encode(
                W.SendMessage(reqId=req_id, receiver=receiver, message=message)
            )
        )

    def request_nowait(self, build: Callable[[int], bytes]) -> asyncio.Future[Frame]:
        """Send the frame ``build(reqId)`` without ever waiting; returns the response's future."""
        req_id = next(self._ids)
        return self._request_nowait(req_id, build(req_id))

    async def send_receipts(self, tail: bytes) -> Frame:
        req_id = next(self._ids)
        return await self._roundtrip(
            b"", _RECEIPT_HEAD + str(req_id).encode() + tail, req_id, check=False
        )

    async def get_receipts(self, msg_ids: list[str]) -> list[ReceiptItem]:
        req_id = next(self._ids)
        frame = _GET_RECEIPTS_HEAD + str(req_id).encode() + msg_ids_tail(msg_ids)
        reply = await self._roundtrip(b"getMessageReadReceipts", frame, req_id)
        return receipts_decoder.decode(reply.data).receiptList

    # -- plumbing ---------------------------------------------------------------------------

    async def _roundtrip(
        self, cmd: bytes, frame: bytes, req_id: int, *, check: bool = True, limit: float = 60.0
    ) -> Frame:
        reply = await self._exchange(req_id, frame, limit)
        if check and reply.code != 0:
            raise RequestError(cmd.decode() or reply.cmd, reply.code, reply.desc)
        return reply

    async def _read_loop(self) -> None:
        decode = frame_decoder.decode
        try:
            while True:
                raw = await self.ws.recv(decode=False)
                now = time.monotonic_ns()
                frame = decode(raw)
                if frame.event:
                    if frame.event == "onRecvMessageReadReceipts":
                        self.receipt_pushes += 1
                        if self.on_receipts is not None:
                            self.on_receipts(self, now, decode_receipts(frame.data))
                    elif frame.event == "onRecvNewMessage":
                        self.new_message_pushes += 1
                    else:
                        self.other_pushes += 1
                    continue
                self._answer(frame.reqId, frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self._gone()


def decode_receipts(data: bytes) -> list[ReceiptItem]:
    return receipts_decoder.decode(data).receiptList

"""An asyncio client for this server's TIM WebSocket protocol, in the style of V2TIM.

Methods mirror V2TIMManager in snake_case; listeners mirror V2TIMAdvancedMsgListener::

    client = TimClient("ws://127.0.0.1:8080/tim/ws", 1400000000, "alice", user_sig)
    client.on_recv_message_read_receipts = lambda receipts: print(receipts)
    await client.login()
    msg = await client.send_group_message("group1", "hello", need_read_receipt=True)
    ...
    await client.close()

Every method raises :class:`TimClientError` (with TIM's ``code`` and ``desc``) when the server
refuses. Besides the listener callbacks, every push is also put on ``client.pushes`` (an
asyncio.Queue of ``(event, data)``), which tests can await with :meth:`TimClient.next_push`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from protocol import codec
from protocol.tim import elements as el
from protocol.tim import usersig as sig
from protocol.tim import ws as W

T = TypeVar("T")

Message = W.V2TIMMessage
Receipt = W.V2TIMMessageReceipt
MessageRef = W.V2TIMMessage | str  # a message or its msgID

READ = 0
UNREAD = 1

_response_decoder = codec.Decoder(dict[str, Any])


class TimClientError(Exception):
    """The server answered a request with a non-zero code."""

    def __init__(self, cmd: str, code: int, desc: str) -> None:
        super().__init__(f"{cmd} failed: {code} {desc}")
        self.cmd = cmd
        self.code = code
        self.desc = desc


def _ids(messages: Sequence[MessageRef]) -> list[str]:
    return [m if isinstance(m, str) else m.msgID for m in messages]


def _elems(content: str | Sequence[el.MsgElem]) -> list[el.MsgElem]:
    return [el.text(content)] if isinstance(content, str) else list(content)


class TimClient:
    def __init__(
        self,
        url: str,
        sdkappid: int,
        user_id: str,
        user_sig: str | None = None,
        *,
        secret_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """``user_sig`` or ``secret_key`` (to mint one locally, as a test harness may) is needed."""
        if user_sig is None:
            if secret_key is None:
                raise ValueError("give user_sig, or secret_key to mint one")
            import time

            user_sig = sig.gen_usersig(sdkappid, secret_key, user_id, now=int(time.time()))
        self.url = url
        self.sdkappid = sdkappid
        self.user_id = user_id
        self.user_sig = user_sig
        self.timeout = timeout
        self.on_recv_new_message: Callable[[Message], Any] | None = None
        self.on_recv_message_read_receipts: Callable[[list[Receipt]], Any] | None = None
        self.on_recv_c2c_read_receipt: Callable[[list[Receipt]], Any] | None = None
        self.on_closed: Callable[[int | None, str], Any] | None = None
        self.pushes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._req_ids = itertools.count(1)
        self.close_code: int | None = None
        self.close_reason = ""
        self._closed = asyncio.Event()  # set when the connection has ended, however it ended

    # -- connection -------------------------------------------------------------------------

    async def login(self) -> W.LoginResult:
        """Connect and log in."""
        self._ws = await connect(self.url, max_size=8 << 20, compression=None)
        self._closed.clear()
        self._reader = asyncio.create_task(self._read_loop())
        return await self._call(
            W.Login(sdkAppID=self.sdkappid, userID=self.user_id, userSig=self.user_sig),
            W.LoginResult,
        )

    async def logout(self) -> None:
        await self._call(W.Logout(), W.Empty)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._ws = None

    async def __aenter__(self) -> TimClient:
        await self.login()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- messages ---------------------------------------------------------------------------

    async def send_c2c_message(
        self,
        user_id: str,
        content: str | Sequence[el.MsgElem],
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> Message:
        req = W.SendMessage(
            message=W.OutgoingMessage(elemList=_elems(content), needReadReceipt=need_read_receipt),
            receiver=user_id,
            onlineUserOnly=online_user_only,
        )
        return (await self._call(req, W.SendResult)).message

    async def send_group_message(
        self,
        group_id: str,
        content: str | Sequence[el.MsgElem],
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> Message:
        req = W.SendMessage(
            message=W.OutgoingMessage(elemList=_elems(content), needReadReceipt=need_read_receipt),
            groupID=group_id,
            onlineUserOnly=online_user_only,
        )
        return (await self._call(req, W.SendResult)).message

    async def get_c2c_history_message_list(
        self, user_id: str, count: int = 20, last_msg: MessageRef | None = None
    ) -> W.MessageList:
        last = _ids([last_msg])[0] if last_msg is not None else None
        return await self._call(
            W.GetC2CHistoryMessageList(userID=user_id, count=count, lastMsgID=last), W.MessageList
        )

    async def get_group_history_message_list(
        self, group_id: str, count: int = 20, last_msg: MessageRef | None = None
    ) -> W.MessageList:
        last = _ids([last_msg])[0] if last_msg is not None else None
        return await self._call(
            W.GetGroupHistoryMessageList(groupID=group_id, count=count, lastMsgID=last),
            W.MessageList,
        )

    async def history(
        self,
        *,
        user_id: str | None = None,
        group_id: str | None = None,
        count: int = 20,
        last_msg: MessageRef | None = None,
    ) -> list[Message]:
        """Newest-first history of a C2C (``user_id``) or group (``group_id``) conversation."""
        if (user_id is None) == (group_id is None):
            raise ValueError("give exactly one of user_id and group_id")
        if user_id is not None:
            return (await self.get_c2c_history_message_list(user_id, count, last_msg)).messageList
        assert group_id is not None
        return (await self.get_group_history_message_list(group_id, count, last_msg)).messageList

    # -- receipts ---------------------------------------------------------------------------

    async def send_message_read_receipts(self, messages: Sequence[MessageRef]) -> None:
        await self._call(W.SendMessageReadReceipts(msgIDList=_ids(messages)), W.Empty)

    async def get_message_read_receipts(self, messages: Sequence[MessageRef]) -> list[Receipt]:
        result = await self._call(W.GetMessageReadReceipts(msgIDList=_ids(messages)), W.ReceiptList)
        return result.receiptList

    async def get_group_message_read_member_list(
        self, message: MessageRef, filter: int = READ, next_seq: int = 0, count: int = 100
    ) -> W.ReadMemberList:
        req = W.GetGroupMessageReadMemberList(
            msgID=_ids([message])[0], filter=filter, nextSeq=next_seq, count=count
        )
        return await self._call(req, W.ReadMemberList)

    # -- conversation reads -----------------------------------------------------------------

    async def mark_c2c_message_as_read(self, user_id: str) -> None:
        await self._call(W.MarkC2CMessageAsRead(userID=user_id), W.Empty)

    async def mark_group_message_as_read(self, group_id: str) -> None:
        await self._call(W.MarkGroupMessageAsRead(groupID=group_id), W.Empty)

    async def clean_conversation_unread_message_count(
        self, conversation_id: str, clean_timestamp: int = 0, clean_sequence: int = 0
    ) -> None:
        await self._call(
            W.CleanConversationUnreadMessageCount(
                conversationID=conversation_id,
                cleanTimestamp=clean_timestamp,
                cleanSequence=clean_sequence,
            ),
            W.Empty,
        )

    async def get_conversation(self, conversation_id: str) -> W.ConversationInfo:
        return await self._call(
            W.GetConversation(conversationID=conversation_id), W.ConversationInfo
        )

    # -- pushes -----------------------------------------------------------------------------

    async def next_push(self, event: str | None = None, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """The data of the next push (of ``event``, skipping others), decoded to its type.

        Pushes received before the connection closed are still returned; after them, raises
        ConnectionError at once (not at the timeout)."""
        deadline = timeout if timeout is not None else self.timeout
        async with asyncio.timeout(deadline):
            while True:
                if self.pushes.empty():
                    if self._closed.is_set():
                        raise self._closed_error()
                    getter = asyncio.ensure_future(self.pushes.get())
                    closed = asyncio.ensure_future(self._closed.wait())
                    try:
                        await asyncio.wait((getter, closed), return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        closed.cancel()
                        if not getter.done():
                            getter.cancel()
                    if not getter.done() or getter.cancelled():
                        continue  # closed: raise unless a push came in meanwhile
                    name, data = getter.result()
                else:
                    name, data = self.pushes.get_nowait()
                if event is None or name == event:
                    return data

    def _closed_error(self) -> ConnectionError:
        reason = f": {self.close_reason}" if self.close_reason else ""
        return ConnectionError(f"connection to {self.url} closed (code {self.close_code}{reason})")

    # -- plumbing ---------------------------------------------------------------------------

    async def send_raw(self, frame: str | bytes) -> None:
        """Send any frame as is (for tests of bad input)."""
        assert self._ws is not None
        await self._ws.send(frame)

    async def _call(self, request: W.Request, result_type: type[T]) -> T:
        if self._ws is None:
            raise RuntimeError("not connected: call login() first")
        if self._closed.is_set():
            raise self._closed_error()
        req_id = next(self._req_ids)
        request = msgspec.structs.replace(request, reqId=req_id)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            try:
                await self._ws.send(W.encoder.encode(request).decode())
            except websockets.ConnectionClosed:
                raise self._closed_error() from None
            async with asyncio.timeout(self.timeout):
                response = await fut
        finally:
            self._pending.pop(req_id, None)
        cmd = type(request).__struct_config__.tag
        if response.get("code", 0) != 0:
            raise TimClientError(str(cmd), response["code"], response.get("desc", ""))
        return msgspec.convert(response.get("data") or {}, result_type)

    async def _read_loop(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                frame = _response_decoder.decode(raw)
                if "event" in frame:
                    self._dispatch_push(frame["event"], frame.get("data") or {})
                else:
                    fut = self._pending.get(frame.get("reqId", -1))
                    if fut is not None and not fut.done():
                        fut.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            ws = self._ws
            if ws is not None and ws.close_code is not None:
                self.close_code = ws.close_code
                self.close_reason = ws.close_reason or ""
            self._closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(self._closed_error())
            if self.on_closed is not None:
                self.on_closed(self.close_code, self.close_reason)

    def _dispatch_push(self, event: str, data: dict[str, Any]) -> None:
        if event == "onRecvNewMessage":
            message = msgspec.convert(data["message"], Message)
            self.pushes.put_nowait((event, message))
            if self.on_recv_new_message is not None:
                self.on_recv_new_message(message)
        elif event in ("onRecvMessageReadReceipts", "onRecvC2CReadReceipt"):
            receipts = msgspec.convert(data["receiptList"], list[Receipt])
            self.pushes.put_nowait((event, receipts))
            callback = (
                self.on_recv_message_read_receipts
                if event == "onRecvMessageReadReceipts"
                else self.on_recv_c2c_read_receipt
            )
            if callback is not None:
                callback(receipts)
        else:
            self.pushes.put_nowait((event, data))

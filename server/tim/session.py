"""The TIM WebSocket endpoint: one connection = one V2TIM session.

The first request must be ``login`` (within ``login_timeout``). Requests are handled in order,
one at a time; every request gets exactly one response with the same ``cmd``/``reqId``, errors
included (``code`` != 0, ``desc`` says what is wrong), and the connection stays open. Responses
and pushes share the session's bounded queue, so a client that stops reading is cut off
(close code 4008) rather than slowing anyone else down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from protocol.tim import errors as E
from protocol.tim import ws as W
from server.core.errors import CoreError
from server.core.service import Core
from server.fanout import Fanout, PushSession
from server.settings import ServerSettings
from server.tim import messages, reads, receipts
from server.tim.auth import TimApps, TimError
from server.tim.context import Caller
from server.tim.errors import WS, code_for
from server.tim.push import current_session

log = logging.getLogger("server.tim.session")

CLOSE_LOGIN_TIMEOUT = 4001
_ids = itertools.count(1)

WsHandler = Callable[[Caller, Any], Awaitable[msgspec.Struct]]

HANDLERS: dict[type[W.Request], WsHandler] = {
    W.SendMessage: messages.ws_send,
    W.SendMessageReadReceipts: receipts.ws_send_receipts,
    W.GetMessageReadReceipts: receipts.ws_get_receipts,
    W.GetGroupMessageReadMemberList: receipts.ws_read_members,
    W.MarkC2CMessageAsRead: reads.ws_mark_c2c,
    W.MarkGroupMessageAsRead: reads.ws_mark_group,
    W.CleanConversationUnreadMessageCount: reads.ws_clean_unread,
    W.GetConversation: reads.ws_get_conversation,
    W.GetC2CHistoryMessageList: messages.ws_c2c_history,
    W.GetGroupHistoryMessageList: messages.ws_group_history,
}


class TimSessions:
    def __init__(self, core: Core, apps: TimApps, fanout: Fanout, settings: ServerSettings) -> None:
        self.core = core
        self.apps = apps
        self.fanout = fanout
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The endpoint as a plain ASGI app (mounted ahead of Starlette's middleware and router,
        which would otherwise wrap every single frame in two more layers)."""
        websocket = AsgiSocket(receive, send)
        if not await websocket.accept():
            return
        conn = _Connection(self, websocket, next(_ids))
        try:
            await conn.run()
        finally:
            await conn.close_session()


class AsgiSocket:
    """The four WebSocket operations a session needs, straight on the ASGI callables."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self._send = send

    async def accept(self) -> bool:
        """Wait for the handshake and accept it; False if the client left first."""
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return False
        await self._send({"type": "websocket.accept"})
        return True

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


class _Connection:
    def __init__(self, owner: TimSessions, websocket: AsgiSocket, number: int) -> None:
        self.owner = owner
        self.ws = websocket
        self.number = number
        self.caller: Caller | None = None
        self.push: PushSession | None = None

    async def run(self) -> None:
        # The login deadline runs from the connection (and from each logout) until a login
        # succeeds: other frames, refused logins included, do not extend it.
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            if self.caller is None:
                deadline = deadline or loop.time() + self.owner.settings.login_timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        raw = await self._receive()
                except TimeoutError:
                    await self.ws.close(CLOSE_LOGIN_TIMEOUT, "no login within the login timeout")
                    return
            else:
                deadline = None
                raw = await self._receive()
            if raw is None:
                return
            await self._handle(raw)
            if self.push is not None and self.push.closed:
                return

    async def _receive(self) -> str | bytes | None:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def _handle(self, raw: str | bytes) -> None:
        limit = self.owner.settings.max_frame_bytes
        # a str of n characters is n to 4n UTF-8 bytes: only measure the bytes when it matters
        small = len(raw) * 4 <= limit if isinstance(raw, str) else len(raw) <= limit
        size = 0 if small else len(raw.encode() if isinstance(raw, str) else raw)
        if size > limit:
            cmd, req_id = W.peek_address(raw)  # every request gets its answer, this one too
            await self._reply(
                W.Response(
                    cmd=cmd,
                    reqId=req_id,
                    code=E.SDK_INVALID_PARAMETERS,
                    desc=f"frame of {size} bytes is over the {limit}-byte limit",
                )
            )
            return
        try:
            request = W.decode_request(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            cmd, req_id = W.peek_address(raw)
            if not isinstance(exc, msgspec.ValidationError):  # not JSON at all
                desc = f"frame is not valid JSON: {exc}"
            elif cmd and cmd not in W.COMMANDS:
                desc = f"unknown command {cmd!r}; known: {', '.join(W.COMMANDS)}"
            elif not cmd:
                desc = f"not a request frame (need a JSON object with cmd): {exc}"
            else:
                desc = f"invalid {cmd}: {exc}"
            await self._reply(
                W.Response(cmd=cmd, reqId=req_id, code=E.SDK_INVALID_PARAMETERS, desc=desc)
            )
            return
        cmd = str(type(request).__struct_config__.tag)
        try:
            data = await self._dispatch(request)
        except TimError as exc:
            await self._reply(
                W.Response(cmd=cmd, reqId=request.reqId, code=exc.code, desc=exc.message)
            )
        except CoreError as exc:
            await self._reply(
                W.Response(
                    cmd=cmd, reqId=request.reqId, code=code_for(exc.reason, WS), desc=exc.message
                )
            )
        except Exception:
            log.exception("connection %d: %s failed", self.number, cmd)
            await self._reply(
                W.Response(
                    cmd=cmd, reqId=request.reqId, code=E.INTERNAL, desc="internal server error"
                )
            )
        else:
            await self._reply(W.Response(cmd=cmd, reqId=request.reqId, data=data))

    async def _dispatch(self, request: W.AnyRequest) -> msgspec.Struct:
        if isinstance(request, W.Login):
            return await self._login(request)
        if self.caller is None:
            raise TimError(E.SDK_NOT_LOGGED_IN, "not logged in: send login first")
        if isinstance(request, W.Logout):
            await self.close_session()
            return W.Empty()
        handler = HANDLERS[type(request)]
        token = current_session.set(self.push)
        try:
            return await handler(self.caller, request)
        finally:
            current_session.reset(token)

    async def _login(self, req: W.Login) -> W.LoginResult:
        if self.caller is not None:
            raise TimError(E.SDK_INVALID_OPERATION, f"already logged in as {self.caller.user!r}")
        owner = self.owner
        app = owner.apps.verify(req.sdkAppID, req.userID, req.userSig)
        await owner.core.directory.ensure(app.sdkappid, req.userID)
        self.caller = Caller(owner.core, app, req.userID, "Web")
        self.push = PushSession(
            app.sdkappid,
            req.userID,
            self._send_raw,
            self._close,
            limit=owner.settings.session_queue,
            name=f"ws{self.number}",
        )
        self.push.start()
        owner.fanout.add(self.push)
        log.info("connection %d logged in as %s/%s", self.number, app.sdkappid, req.userID)
        return W.LoginResult(req.userID, app.sdkappid, owner.core.clock.now_ms() // 1000)

    async def _reply(self, response: W.Response) -> None:
        """Send a response directly (not through the push queue: a client that stops reading
        only stalls its own requests, and the push queue stays for pushes)."""
        try:
            await self._send_raw(W.encode(response))
        except (RuntimeError, WebSocketDisconnect, OSError):  # the client went away meanwhile
            log.debug("connection %d: response to a closed connection dropped", self.number)

    async def _send_raw(self, frame: bytes) -> None:
        await self.ws.send_text(frame.decode())

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code, reason)
        except (RuntimeError, WebSocketDisconnect):
            pass

    async def close_session(self) -> None:
        if self.push is not None:
            self.owner.fanout.remove(self.push)
            await self.push.stop()
            self.push = None
        self.caller = None

"""The endpoint of Tencent's own Chat SDK: ``proxyServer: "ws://HOST:PORT/tim/sdk"``.

The SDK connects to ``/tim/sdk/binfo`` (binary frames holding JSON) or, with ``devMode``, to
``/tim/sdk/info`` (text frames), and is answered in the frame type it used. Every request is
answered once, echoing its ``servcmd`` and ``seq``, failures included (``ErrorCode`` in the
body); the connection stays open. Requests are handled in order, one at a time.

Who is calling is resolved on every frame, not per socket: after ``wslogin`` the SDK puts its
A2Key in each head, and after a reconnect its frames arrive on the new socket before the
re-login does. A socket receives pushes once a ``wslogin`` on it succeeded; one user may be
logged in on any number of sockets (SDK instances) and each gets every push.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from protocol.tim import errors as E
from protocol.tim import rest as R
from protocol.tim import sdk as S
from protocol.tim import tickets
from server.core.errors import CoreError
from server.core.service import Core
from server.fanout import Fanout, PushSession
from server.settings import ServerSettings
from server.tim import sdk_commands
from server.tim.auth import TimApps, TimError
from server.tim.context import Caller
from server.tim.errors import JSON_ERROR, code_for, shape_code_of
from server.tim.sdk_push import sending_session
from server.tim.session import AsgiSocket

log = logging.getLogger("server.tim.sdk")

PATH_PREFIX = "/tim/sdk"
HELLO_INTERVAL = 120  # seconds between the SDK's wshello frames
_ids = itertools.count(1)


def sdk_path(path: str) -> bool | None:
    """Whether a WebSocket ``path`` is the SDK endpoint: True for binary frames (``…/binfo``),
    False for text (``…/info``), None if it is not the endpoint at all."""
    if not path.startswith(PATH_PREFIX):
        return None
    rest = path[len(PATH_PREFIX) :].strip("/")
    return {"binfo": True, "info": False}.get(rest)


class SdkSessions:
    """The ASGI endpoint; one :class:`_Connection` per socket."""

    def __init__(self, core: Core, apps: TimApps, fanout: Fanout, settings: ServerSettings) -> None:
        self.core = core
        self.apps = apps
        self.fanout = fanout
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        binary = sdk_path(scope["path"])
        websocket = AsgiSocket(receive, send)
        if not await websocket.accept():
            return
        if binary is None:  # under the prefix, but neither binfo nor info: say so
            reason = f"no endpoint {scope['path']}; use {PATH_PREFIX}/binfo or /info"
            await websocket.close(4004, reason)
            return
        conn = _Connection(self, websocket, binary, next(_ids))
        try:
            await conn.run()
        finally:
            await conn.logout()


@dataclass(frozen=True, slots=True)
class _Session:
    """Who a socket is logged in as."""

    caller: Caller
    a2: str
    tiny_id: str
    expires_s: int  # the A2Key's (its UserSig's) expiry
    push: PushSession


class _Connection:
    def __init__(self, owner: SdkSessions, ws: AsgiSocket, binary: bool, number: int) -> None:
        self.owner = owner
        self.ws = ws
        self.binary = binary
        self.number = number
        self.session: _Session | None = None

    async def run(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("bytes")
            if raw is None:
                raw = message.get("text") or ""
            await self._handle(raw)
            if self.session is not None and self.session.push.closed:
                return

    # -- one frame ------------------------------------------------------------------------

    async def _handle(self, raw: str | bytes) -> None:
        limit = self.owner.settings.max_frame_bytes
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > limit:
            cmd, seq = S.peek_address(raw)
            await self._error(
                cmd,
                seq,
                E.INVALID_PARAMETER,
                f"frame of {size} bytes is over the {limit}-byte limit",
            )
            return
        try:
            frame = S.decode_frame(raw)
        except msgspec.DecodeError as exc:  # ValidationError included
            cmd, seq = S.peek_address(raw)
            if isinstance(exc, msgspec.ValidationError):
                info = f"not a request frame (need {{head: {{servcmd, seq, ...}}, body}}): {exc}"
                code = E.INVALID_PARAMETER
            else:
                info = f"frame is not valid JSON: {exc}"
                code = JSON_ERROR.get(cmd.partition(".")[0], E.REST_JSON_ERROR)
            await self._error(cmd, seq, code, info)
            return
        head = frame.head
        try:
            body = await self._dispatch(frame)
        except TimError as exc:
            log.info("sdk%d %s refused: %s %s", self.number, head.servcmd, exc.code, exc.message)
            await self._error(head.servcmd, head.seq, exc.code, exc.message)
        except CoreError as exc:
            code = code_for(exc.reason, head.servcmd.partition(".")[0])
            log.info("sdk%d %s refused: %s %s", self.number, head.servcmd, code, exc.message)
            await self._error(head.servcmd, head.seq, code, exc.message)
        except Exception:
            log.exception("sdk%d: %s failed", self.number, head.servcmd)
            await self._error(head.servcmd, head.seq, E.INTERNAL, "internal server error")
        else:
            await self._write(S.encode_reply(head.servcmd, head.seq, body))

    async def _dispatch(self, frame: S.Frame) -> msgspec.Struct | dict[str, Any]:
        servcmd = frame.head.servcmd
        if servcmd in sdk_commands.OPEN:  # heartbeat, telemetry: no credentials needed
            return R.Envelope()
        if servcmd == S.LOGIN:
            return await self._login(frame)
        command = sdk_commands.COMMANDS.get(servcmd)
        if command is None:
            raise TimError(
                E.INVALID_COMMAND,
                f"unknown servcmd {servcmd!r}: this server speaks the commands listed in "
                "docs/tim-sdk.md",
            )
        caller = self._caller(frame.head)
        if servcmd == S.LOGOUT:
            await self.logout()
            return R.Envelope()
        body = _decode_body(frame, command.body)
        token = sending_session.set(self.session.push if self.session else None)
        try:
            return await command.handler(caller, body)
        finally:
            sending_session.reset(token)

    def _caller(self, head: S.Head) -> Caller:
        """Who sends this frame: the A2Key in its head (any socket), else this socket's login."""
        owner = self.owner
        session = self.session
        if (
            session is not None
            and head.a2 == session.a2
            and head.tinyid in ("", session.tiny_id)
            and owner.core.clock.now_ms() // 1000 <= session.expires_s
        ):  # this socket's own A2Key, checked at its login: no need to verify it again
            return session.caller
        if head.a2:
            app, claims = owner.apps.verify_a2(head.a2, head.sdkappid)
            if head.tinyid and head.tinyid != tickets.tiny_id(app.sdkappid, claims.user_id):
                raise TimError(
                    E.A2_INVALID, f"tinyid {head.tinyid!r} is not the TinyId of this A2Key's user"
                )
            return Caller(owner.core, app, claims.user_id, "Web")
        if self.session is not None:
            return self.session.caller
        raise TimError(
            E.SDK_NOT_LOGGED_IN,
            "not logged in: send im_open_status.wslogin first (or an a2 in the head)",
        )

    async def _login(self, frame: S.Frame) -> S.WsLoginResult:
        owner, head = self.owner, frame.head
        _decode_body(frame, S.WsLogin)
        if head.a2:  # a re-login after a reconnect carries the A2Key only
            app, claims = owner.apps.verify_a2(head.a2, head.sdkappid)
            user, a2, expires = claims.user_id, head.a2, claims.expires_s
        else:
            if not head.identifier or not head.usersig:
                raise TimError(
                    E.USERSIG_ILLEGAL, "wslogin needs identifier and usersig (or a2) in its head"
                )
            app, doc = owner.apps.verify_doc(head.sdkappid, head.identifier, head.usersig)
            user, expires = head.identifier, doc.expires_at
            a2 = owner.apps.issue_a2(app, user, expires)
        await owner.core.directory.ensure(app.sdkappid, user)
        if self.session is not None and self.session.caller.user != user:
            await self.logout()  # the socket changes hands: the old user's pushes stop here
        if self.session is None:
            push = PushSession(
                app.sdkappid,
                user,
                self._write,
                self._close,
                limit=owner.settings.session_queue,
                name=f"sdk{self.number}",
            )
            push.start()
            owner.fanout.add(push)
            caller = Caller(owner.core, app, user, "Web")
            tiny = tickets.tiny_id(app.sdkappid, user)
            self.session = _Session(caller, a2, tiny, expires, push)
            log.info("sdk%d logged in as %s/%s", self.number, app.sdkappid, user)
        else:  # logged in again as the same user: the newest A2Key is the socket's
            self.session = dataclasses.replace(self.session, a2=a2, expires_s=expires)
        return S.WsLoginResult(
            A2Key=a2,
            TinyId=tickets.tiny_id(app.sdkappid, user),
            InstId=self.number,
            HelloInterval=HELLO_INTERVAL,
            TimeStamp=owner.core.clock.now_ms() // 1000,
        )

    async def logout(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            self.owner.fanout.remove(session.push)
            await session.push.stop()

    # -- writing --------------------------------------------------------------------------

    async def _error(self, servcmd: str, seq: int, code: int, info: str) -> None:
        await self._write(S.encode_error(servcmd, seq, code, info))

    async def _write(self, frame: bytes) -> None:
        try:
            if self.binary:
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_text(frame.decode())
        except (RuntimeError, WebSocketDisconnect, OSError):  # the client went away meanwhile
            log.debug("sdk%d: frame to a closed connection dropped", self.number)

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code, reason)
        except (RuntimeError, WebSocketDisconnect, OSError):
            pass


def _decode_body(frame: S.Frame, body_type: type[Any]) -> Any:
    """The command's body, or TimError with the code its service gives a bad body."""
    service = frame.head.servcmd.partition(".")[0]
    try:
        return S.decode_body(frame, body_type)
    except msgspec.ValidationError as exc:
        raise TimError(shape_code_of(service, str(exc)), f"invalid body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise TimError(
            JSON_ERROR.get(service, E.REST_JSON_ERROR),
            f"body is not valid JSON: {exc}",
        ) from None

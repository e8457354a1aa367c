"""Property: any frame sent on a logged-in ``/tim/ws`` or ``/tim/sdk`` socket gets an answer
in that protocol's envelope, never the internal error; the session still answers afterwards;
and a refusal changes nothing in the database."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import inspect as mi
from websockets.sync.client import ClientConnection, connect

from protocol.tim import errors as E
from protocol.tim import sdk as S
from protocol.tim import ws as W
from protocol.tim.usersig import gen_usersig
from server.tim.sdk_commands import COMMANDS as SDK_COMMANDS
from tests.fuzz.conftest import World
from tests.fuzz.support import FUZZ, body_of, hostile, raw_hostile, shaped, snapshot
from tests.harness import KEY, SDKAPPID

USER = "carol"


def _sig(user: str) -> str:
    return gen_usersig(SDKAPPID, KEY, user, now=int(time.time()))


# -- /tim/ws --------------------------------------------------------------------------------

# every command but the two that end or restart the session
WS_TYPES = [t for t in W.AnyRequest.__args__ if t not in (W.Login, W.Logout)]


class WsSession:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.req = itertools.count(1_000_000)

    def answer(self) -> dict[str, Any]:
        """The next response (pushes skipped)."""
        while True:
            frame = json.loads(self.ws.recv(timeout=10))
            if "event" not in frame:
                return dict(frame)

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self.ws.send(json.dumps({**request, "reqId": next(self.req)}))
        return self.answer()


@pytest.fixture(scope="module")
def ws_session(world: World) -> Iterator[WsSession]:
    with connect(world.srv.ws_url, max_size=1 << 22) as ws:
        session = WsSession(ws)
        answer = session.call(
            {"cmd": "login", "sdkAppID": SDKAPPID, "userID": USER, "userSig": _sig(USER)}
        )
        assert answer.get("code", 0) == 0, answer
        yield session


@st.composite
def ws_frames(draw: st.DrawFn, world: World) -> bytes:
    kind = draw(st.sampled_from(WS_TYPES))
    near = shaped(mi.type_info(kind), world.ids).map(msgspec.json.encode)
    return draw(st.one_of(near, near, hostile().map(msgspec.json.encode), raw_hostile(near)))


@FUZZ
@given(data=st.data())
def test_tim_ws_answers_any_frame_and_keeps_the_session(
    world: World, ws_session: WsSession, data: st.DataObject
) -> None:
    """Every frame on /tim/ws gets a response (not the internal error), the session then still
    answers a request, and a refusal changes nothing."""
    frame = data.draw(ws_frames(world))
    before = snapshot(world.db)
    ws_session.ws.send(frame.decode("utf-8", "replace"))
    answer = ws_session.answer()
    assert isinstance(answer.get("cmd"), str) and isinstance(answer.get("reqId"), int), answer
    assert answer.get("code", 0) != E.INTERNAL, (frame[:300], answer)
    if answer.get("code", 0) != 0:
        assert snapshot(world.db) == before, f"{frame[:300]!r}: a refusal changed the database"
    alive = ws_session.call({"cmd": "getConversation", "conversationID": "c2c_alice"})
    assert alive.get("code", 0) == 0, alive


# -- /tim/sdk (Tencent's Chat SDK protocol) -------------------------------------------------

PUSH = "im_open_push.msg_push"
SDK_SERVCMDS = sorted(c for c in SDK_COMMANDS if c != S.LOGOUT)


class SdkSession:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = itertools.count(51880743)
        self.auth: dict[str, Any] = {}

    def head(self, servcmd: str) -> dict[str, Any]:
        return {"ver": "v4", "platform": 7, "sdkappid": SDKAPPID, "contenttype": "json",
                "servcmd": servcmd, "seq": next(self.seq), **self.auth}  # fmt: skip

    def answer(self) -> dict[str, Any]:
        while True:
            frame = json.loads(self.ws.recv(timeout=10))
            if frame["head"].get("servcmd") != PUSH:
                return dict(frame)

    def call(self, servcmd: str, body: Any, **head: Any) -> dict[str, Any]:
        h = {**self.head(servcmd), **head}
        self.ws.send(json.dumps({"head": h, "body": body}).encode())
        frame = self.answer()
        assert frame["head"] == {"servcmd": servcmd, "seq": h["seq"]}, frame
        return dict(frame["body"])


@pytest.fixture(scope="module")
def sdk_session(world: World) -> Iterator[SdkSession]:
    url = f"{world.srv.sdk_url}/binfo?sdkappid={SDKAPPID}&platform=7"
    with connect(url, max_size=1 << 22) as ws:
        session = SdkSession(ws)
        body = session.call(
            S.LOGIN,
            {"State": "Online", "is_web_uniapp": 0, "InstType": 0, "CustomInfo": ""},
            identifier=USER,
            usersig=_sig(USER),
        )
        assert body.get("ErrorCode", 0) == 0, body
        session.auth = {"a2": body["A2Key"], "tinyid": body["TinyId"]}
        yield session


@st.composite
def sdk_frames(draw: st.DrawFn, world: World, session: SdkSession) -> bytes:
    servcmd = draw(st.sampled_from(SDK_SERVCMDS))
    body = draw(body_of(SDK_COMMANDS[servcmd].body, world.ids))
    head = msgspec.json.encode(session.head(servcmd))
    framed = b'{"head":' + head + b',"body":' + (body or b"{}") + b"}"
    return draw(st.one_of(st.just(framed), st.just(framed), raw_hostile(st.just(framed))))


@FUZZ
@given(data=st.data())
def test_tim_sdk_answers_any_frame_and_keeps_the_session(
    world: World, sdk_session: SdkSession, data: st.DataObject
) -> None:
    """Every frame on /tim/sdk gets an answer in the SDK's envelope (not the internal error),
    the session then still answers a heartbeat, and a refusal changes nothing."""
    frame = data.draw(sdk_frames(world, sdk_session))
    before = snapshot(world.db)
    sdk_session.ws.send(frame)
    answer = sdk_session.answer()
    assert isinstance(answer["head"].get("servcmd"), str), answer
    code = answer.get("body", {}).get("ErrorCode", 0)
    assert code != E.INTERNAL, (frame[:300], answer)
    if code != 0:
        assert snapshot(world.db) == before, f"{frame[:300]!r}: a refusal changed the database"
    alive = sdk_session.call(S.HELLO, {})
    assert alive.get("ErrorCode", 0) == 0, alive

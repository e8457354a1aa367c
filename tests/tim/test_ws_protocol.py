"""The TIM WebSocket session protocol: login, refusals of bad frames, and how the server treats
clients that misbehave (garbage, abrupt disconnects, never reading, never logging in)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from protocol.tim.usersig import gen_usersig
from tests.harness import KEY, SDKAPPID, Running, running_server
from tests.tim.conftest import ADMIN, OTHER_KEY, Clients, now_s, raw_ws, tencent_sig

PEER_CONV = f"c2c_{ADMIN}"  # a conversation with an account that exists from the start
BIG_TEXT = "x" * 10_000  # close to TIM's 12 KB body limit: fills socket buffers fast


async def test_login_answers_user_app_and_server_time(srv: Running) -> None:
    """login with an official UserSig answers code 0 with userID, sdkAppID and the server time."""
    async with raw_ws(srv) as ws:
        reply = await ws.login("alice", tencent_sig("alice"), req_id=41)
    assert (reply["cmd"], reply["reqId"], reply.get("code", 0)) == ("login", 41, 0)
    data = reply["data"]
    assert (data["userID"], data["sdkAppID"]) == ("alice", SDKAPPID)
    assert abs(data["serverTime"] - time.time()) < 60


@pytest.mark.parametrize(
    ("make_sig", "code"),
    [
        (lambda: tencent_sig("alice", key=OTHER_KEY), 70009),
        (lambda: gen_usersig(SDKAPPID, KEY, "alice", expire=1, now=now_s() - 3600), 70001),
        (lambda: tencent_sig("bob"), 70013),
        (lambda: "garbage", 70003),
    ],
    ids=["wrong-key", "expired", "other-user", "garbage"],
)
async def test_login_with_a_bad_usersig_is_refused(srv: Running, make_sig: Any, code: int) -> None:
    """A login whose UserSig fails verification gets that UserSig code; the connection stays
    open and a login with a good UserSig then succeeds."""
    async with raw_ws(srv) as ws:
        reply = await ws.login("alice", make_sig(), req_id=3)
        assert (reply["cmd"], reply["reqId"], reply["code"]) == ("login", 3, code)
        assert reply["desc"]
        retry = await ws.login("alice", tencent_sig("alice"), req_id=4)
        assert retry.get("code", 0) == 0


async def test_login_to_an_unknown_app_is_70020(srv: Running) -> None:
    """A login naming an SDKAppID this server does not host is refused with 70020."""
    async with raw_ws(srv) as ws:
        reply = await ws.request(
            {
                "cmd": "login",
                "reqId": 1,
                "sdkAppID": 1400000099,
                "userID": "alice",
                "userSig": tencent_sig("alice", sdkappid=1400000099),
            }
        )
    assert reply["code"] == 70020


async def test_request_before_login_is_6014(srv: Running) -> None:
    """Any request but login, before login, is refused with 6014 (and the same reqId)."""
    async with raw_ws(srv) as ws:
        reply = await ws.request(
            {"cmd": "getConversation", "reqId": 9, "conversationID": PEER_CONV}
        )
        assert (reply["cmd"], reply["reqId"], reply["code"]) == ("getConversation", 9, 6014)
        assert (await ws.login("alice")).get("code", 0) == 0


async def test_second_login_is_7014(srv: Running) -> None:
    """A second login on a logged-in connection is refused with 7014; the first session goes on."""
    async with raw_ws(srv) as ws:
        assert (await ws.login("alice", req_id=1)).get("code", 0) == 0
        again = await ws.login("bob", req_id=2)
        assert (again["reqId"], again["code"]) == (2, 7014)
        assert "alice" in again["desc"]
        ok = await ws.request({"cmd": "getConversation", "reqId": 3, "conversationID": PEER_CONV})
        assert (ok.get("code", 0), ok["data"]["conversationID"]) == (0, PEER_CONV)


async def test_logout_then_login_again_on_the_same_connection(srv: Running) -> None:
    """After logout, requests get 6014 until a new login on the same connection succeeds."""
    async with raw_ws(srv) as ws:
        assert (await ws.login("alice", req_id=1)).get("code", 0) == 0
        bye = await ws.request({"cmd": "logout", "reqId": 2})
        assert (bye["cmd"], bye["reqId"], bye.get("code", 0)) == ("logout", 2, 0)
        after = await ws.request(
            {"cmd": "getConversation", "reqId": 3, "conversationID": PEER_CONV}
        )
        assert after["code"] == 6014
        assert (await ws.login("bob", req_id=4)).get("code", 0) == 0
        ok = await ws.request({"cmd": "getConversation", "reqId": 5, "conversationID": PEER_CONV})
        assert ok.get("code", 0) == 0


BAD_FRAMES: list[tuple[str, str | bytes, int, list[str]]] = [
    ("malformed-json", b'{"cmd": "getConversation", ', 0, ["not valid JSON", "truncated"]),
    ("not-utf8", b"\x00\xff garbage", 0, ["not valid JSON"]),
    ("json-array", "[1, 2, 3]", 0, ["JSON object with cmd", "array"]),
    ("json-string", '"hello"', 0, ["JSON object with cmd"]),
    ("no-cmd", json.dumps({"reqId": 5}), 5, ["JSON object with cmd", "`cmd`"]),
    ("unknown-cmd", json.dumps({"cmd": "fly", "reqId": 5}), 5, ["unknown command 'fly'"]),
    (
        "wrong-type",
        json.dumps({"cmd": "getConversation", "reqId": 6, "conversationID": 42}),
        6,
        ["getConversation", "conversationID", "str"],
    ),
    (
        "missing-field",
        json.dumps({"cmd": "sendMessageReadReceipts", "reqId": 7}),
        7,
        ["sendMessageReadReceipts", "msgIDList"],
    ),
    (
        "out-of-range",
        json.dumps(
            {"cmd": "getGroupMessageReadMemberList", "reqId": 8, "msgID": "1-2-3", "filter": 2}
        ),
        8,
        ["filter"],
    ),
    (
        "bad-elem",
        json.dumps(
            {
                "cmd": "sendMessage",
                "reqId": 10,
                "receiver": "bob",
                "message": {"elemList": [{"MsgType": "TIMNoSuchElem"}]},
            }
        ),
        10,
        ["MsgType", "TIMNoSuchElem"],
    ),
    (
        "oversize",
        json.dumps(
            {"cmd": "getConversation", "reqId": 11, "conversationID": "c2c_" + "x" * 70_000}
        ),
        11,
        ["65536-byte limit"],
    ),
]


@pytest.mark.parametrize(
    ("frame", "req_id", "words"), [b[1:] for b in BAD_FRAMES], ids=[b[0] for b in BAD_FRAMES]
)
async def test_bad_frame_is_6017_and_the_connection_stays_usable(
    srv: Running, frame: str | bytes, req_id: int, words: list[str]
) -> None:
    """A frame that is not a valid request gets a 6017 response whose desc names the problem,
    and the next request on the same connection succeeds."""
    async with raw_ws(srv) as ws:
        assert (await ws.login("alice")).get("code", 0) == 0
        reply = await ws.request(frame)
        assert (reply["code"], reply["reqId"]) == (6017, req_id), reply
        for word in words:
            assert word in reply["desc"], reply["desc"]
        ok = await ws.request({"cmd": "getConversation", "reqId": 99, "conversationID": PEER_CONV})
        assert (ok["reqId"], ok.get("code", 0), ok["data"]["unreadCount"]) == (99, 0, 0)


async def test_garbage_then_abrupt_disconnect_does_not_disturb_others(
    srv: Running, clients: Clients
) -> None:
    """A client that sends garbage and drops its TCP connection without a close handshake
    leaves the server serving everyone else, itself included when it comes back."""
    alice = await clients.login("alice")
    bob = await clients.login("bob")
    async with raw_ws(srv) as ws:
        assert (await ws.login("mallory")).get("code", 0) == 0
        await ws.send(b"\x00\xff garbage")
        assert (await ws.recv())["code"] == 6017
        await alice.send_c2c_message("mallory", "are you there?")
        ws.ws.transport.abort()
    sent = await alice.send_c2c_message("bob", "still here", need_read_receipt=True)
    pushed = await bob.next_push("onRecvNewMessage", timeout=5)
    assert pushed.msgID == sent.msgID
    await bob.send_message_read_receipts([pushed])
    (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert receipt.isPeerRead
    await alice.send_c2c_message("mallory", "welcome back")
    mallory = await clients.login("mallory")
    history = await mallory.history(user_id="alice")
    assert [m.elemList[0].MsgContent.Text for m in history] == ["welcome back", "are you there?"]


async def test_client_that_never_reads_is_closed_with_4008(tmp_path: Path) -> None:
    """A session whose bounded queue overflows because its client stopped reading is closed
    with 4008, while the sender and a third user's session carry on undisturbed."""
    async with (
        running_server(tmp_path / "im.sqlite3", session_queue=20) as srv,
        raw_ws(srv, rcvbuf=4096) as slow,
    ):
        assert (await slow.login("slow")).get("code", 0) == 0  # the last frame it ever reads
        async with srv.client("alice") as alice, srv.client("carol") as carol:
            (session,) = srv.wiring.fanout.sessions(SDKAPPID, "slow")
            sent = 0
            while not session.closed:
                await alice.send_c2c_message("slow", BIG_TEXT)
                sent += 1
                assert sent < 5000, "the slow session was never cut off"
            assert sent > 20, sent
            msg = await alice.send_c2c_message("carol", "prompt?")
            pushed = await carol.next_push("onRecvNewMessage", timeout=2)  # promptly
            assert pushed.msgID == msg.msgID
            assert (await carol.get_conversation("c2c_alice")).unreadCount == 1
            assert (await alice.get_conversation("c2c_slow")).unreadCount == 0
        code = await slow.closed_code(within=20)
        assert code == 4008
        assert "too slow" in (slow.ws.close_reason or "")


async def test_no_login_within_the_timeout_is_closed_with_4001(tmp_path: Path) -> None:
    """A connection that does not log in within login_timeout is closed with 4001, whether it
    stays silent or keeps sending other frames and refused logins meanwhile; a session that
    logged in in time outlives the timeout."""
    async with (
        running_server(tmp_path / "im.sqlite3", login_timeout=0.3) as srv,
        srv.client("alice") as alice,
    ):
        async with raw_ws(srv) as silent, raw_ws(srv) as chatty:
            started = time.monotonic()
            before = await chatty.request(
                {"cmd": "getConversation", "reqId": 1, "conversationID": PEER_CONV}
            )
            assert before["code"] == 6014
            refused = await chatty.login("bob", tencent_sig("bob", key=OTHER_KEY))
            assert refused["code"] == 70009
            assert await silent.closed_code(within=5) == 4001
            assert await chatty.closed_code(within=5) == 4001
            assert 0.25 < time.monotonic() - started < 4
        assert (await alice.get_conversation(PEER_CONV)).unreadCount == 0

"""The Tencent Chat SDK endpoint frame by frame (``/tim/sdk``): sessions, tickets, refusals in
the SDK's envelope, offline sync, and one state shared with REST, ``/tim/ws`` and callbacks.
The real SDK drives the same endpoint in tests/sdk."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from clients.tim_rest import TimRestClient
from protocol.tim.tickets import tiny_id
from server.core.clock import FakeClock
from server.settings import AppSettings, CallbackSettings
from tests.e2e.receiver import Receiver
from tests.harness import KEY, SDKAPPID, Running, running_server
from tests.tim.conftest import OTHER_KEY, tencent_sig
from tests.tim.sdk_raw import RawSdk, raw_sdk, text_body

OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


def fails(body: dict[str, Any], code: int) -> str:
    """``body`` is a refusal with ``code`` and a message; the message."""
    assert (body.get("ActionStatus"), body.get("ErrorCode")) == ("FAIL", code), body
    assert body["ErrorInfo"]
    return str(body["ErrorInfo"])


async def users(admin: TimRestClient, *names: str, group: str | None = None) -> None:
    await admin.import_accounts(*names)
    if group is not None:
        await admin.create_group("Work", group, list(names[1:]), group_id=group, owner=names[0])


async def send_c2c(admin: TimRestClient, sender: str, to: str, text: str = "hi") -> dict[str, Any]:
    return await admin.call(
        "openim",
        "sendmsg",
        {"From_Account": sender, "To_Account": to, "MsgRandom": 1, "MsgBody": text_body(text)},
    )


async def test_each_path_is_answered_in_the_frame_type_it_speaks(srv: Running) -> None:
    """/binfo is answered with binary frames and /info with text frames; a heartbeat needs no
    login; another path under /tim/sdk is closed with 4004 and a reason naming the two."""
    async with raw_sdk(srv, binary=True) as b, raw_sdk(srv, binary=False) as t:
        assert await b.call("heartbeat.alive") == OK
        assert await t.call("heartbeat.alive") == OK
        assert await b.call("imopenstat.tim_web_report_v2") == OK
        assert b.kinds == [bytes, bytes] and t.kinds == [str]
    async with raw_sdk(srv, path="stream") as other:
        assert await other.closed_code() == 4004
        assert "binfo" in (other.ws.close_reason or "")


async def test_wslogin_issues_an_a2key_and_a_stable_tinyid(tmp_path: Path) -> None:
    """wslogin answers an A2Key, the server's time and a TinyId that is the same for a user on
    every socket and after a restart, and different for another user."""
    db = tmp_path / "im.sqlite3"
    seen = []
    for _ in range(2):
        async with running_server(db) as srv, raw_sdk(srv) as one, raw_sdk(srv) as two:
            first, second = await one.login("alice"), await two.login("alice")
            assert first["TinyId"] == second["TinyId"] == tiny_id(SDKAPPID, "alice")
            assert abs(first["TimeStamp"] - time.time()) < 5
            assert first["A2Key"].startswith("a2.") and first["HelloInterval"] > 0
            seen.append(first["TinyId"])
    assert seen[0] == seen[1]
    assert tiny_id(SDKAPPID, "bob") != tiny_id(SDKAPPID, "alice")
    assert tiny_id(SDKAPPID + 1, "alice") != tiny_id(SDKAPPID, "alice")


async def test_frames_with_an_a2key_work_on_any_socket_and_relogin_takes_it(
    srv: Running, admin: TimRestClient
) -> None:
    """A frame carrying an A2Key acts as its user on a socket that never logged in (the SDK
    sends them before re-login after a reconnect); a wslogin with only the A2Key logs that
    socket in, and pushes then reach it."""
    await users(admin, "alice", "bob")
    async with raw_sdk(srv) as first:
        await first.login("alice")
        a2, tiny = first.a2, first.tinyid
    async with raw_sdk(srv) as second:
        second.a2, second.tinyid = a2, tiny
        assert (await second.call("openim.getmsg", {"Cookie": ""}))["ErrorCode"] == 0
        relogin = await second.call("im_open_status.wslogin", {"State": "Online"})
        assert (relogin["ErrorCode"], relogin["A2Key"], relogin["TinyId"]) == (0, a2, tiny)
        await send_c2c(admin, "bob", "alice", "after relogin")
        item = await second.next_push("C2cMsgArray")
        assert item["C2cMsgArray"][0]["MsgBody"] == text_body("after relogin")


async def test_wrong_usersigs_get_tims_codes_and_no_session(srv: Running) -> None:
    """wslogin refuses a UserSig made with another key (70009), for another user (70013),
    that is not one (70003), of an app that does not exist (70020) or no credentials at all
    (70003); the socket stays open and logs in with a good one."""
    async with raw_sdk(srv) as s:
        fails(await s.login("alice", tencent_sig("alice", key=OTHER_KEY)), 70009)
        fails(await s.login("alice", tencent_sig("bob")), 70013)
        fails(await s.login("alice", "garbage"), 70003)
        body = await s.call(
            "im_open_status.wslogin", {}, identifier="alice", usersig="x", sdkappid=42
        )
        fails(body, 70020)
        fails(await s.call("im_open_status.wslogin", {}), 70003)
        fails(await s.call("openim.getmsg", {"Cookie": ""}), 6014)
        assert (await s.login("alice"))["ErrorCode"] == 0


async def test_bad_frames_get_an_answer_in_the_sdks_envelope_and_change_nothing(
    srv: Running, admin: TimRestClient
) -> None:
    """Malformed frames, unknown servcmds, frames before login, forged or tampered A2Keys, a
    foreign TinyId and bad bodies each get one refusal (servcmd and seq echoed when they can
    be read, ErrorCode per TIM's tables); the session keeps answering and nothing is stored."""
    await users(admin, "alice", "bob", group="team")
    async with raw_sdk(srv) as fresh, raw_sdk(srv) as s:
        await s.login("alice")

        async def raw(sock: RawSdk, data: str | bytes) -> dict[str, Any]:
            await sock.send_raw(data)
            return await sock.answer()

        answer = await raw(s, b"not json")
        assert answer["head"] == {"servcmd": "", "seq": 0}
        fails(answer["body"], 60003)
        fails((await raw(s, b"[" * 5000 + b"]" * 5000))["body"], 10004)
        skipped = (
            b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b', "head": {"servcmd": "heartbeat.alive"}}'
        )
        fails((await raw(s, skipped))["body"], 60003)
        deep = '{"head": {"servcmd": "openim.sendmsg", "seq": 7}, "body": ' + "[" * 5000
        answer = await raw(s, deep + "]" * 5000 + "}")
        assert answer["head"] == {"servcmd": "openim.sendmsg", "seq": 7}
        fails(answer["body"], 90001)
        fails((await raw(s, b"[]"))["body"], 10004)
        fails((await raw(s, json.dumps({"head": {"seq": 3}, "body": {}})))["body"], 10004)
        info = fails(await s.call("openim.no_such_thing", {}), 10003)
        assert "openim.no_such_thing" in info
        fails(await fresh.call("openim.sendmsg", {"To_Account": "bob"}), 6014)
        fails(await fresh.call("openim.getmsg", {}, a2="a2.forged.x", tinyid="1"), 70003)
        payload, mac = s.a2[3:].split(".")
        tampered = f"a2.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
        fails(await fresh.call("openim.getmsg", {}, a2=tampered, tinyid=s.tinyid), 70003)
        fails(await fresh.call("openim.getmsg", {}, a2=s.a2, tinyid="144115188075855999"), 70003)
        good = {"To_Account": "bob", "MsgRandom": 1, "MsgBody": text_body("x")}
        fails(await s.call("openim.sendmsg", {**good, "To_Account": 5}), 90003)
        fails(await s.call("openim.sendmsg", {"To_Account": "bob", "MsgRandom": 1}), 90002)
        fails(await s.call("openim.sendmsg", {**good, "From_Account": "bob"}), 20001)
        fails(await s.call("openim.sendmsg", {**good, "MsgRandom": -1}), 90005)
        fails(await s.call("openim.sendmsg", "a string body"), 90010)
        relay = [{"MsgType": "TIMRelayElem", "MsgContent": {"Title": "merged"}}]
        fails(await s.call("openim.sendmsg", {**good, "MsgBody": relay}), 90002)
        group = {"GroupId": "team", "MsgSeqList": []}
        fails(await s.call("group_open_http_svc.group_msg_receipt", group), 10004)
        fails(await s.call("openim.getmsg", {"Cookie": "forged"}), 90010)
        big = {**good, "MsgBody": text_body("x" * 70_000)}
        fails(await s.call("openim.sendmsg", big), 10004)
        assert await s.call("heartbeat.alive") == OK
        assert await fresh.call("heartbeat.alive") == OK
    roam = await admin.call(
        "openim",
        "admin_getroammsg",
        {
            "Operator_Account": "alice",
            "Peer_Account": "bob",
            "MaxCnt": 10,
            "MinTime": 0,
            "MaxTime": 2**32,
        },
    )
    assert roam["MsgList"] == []


async def test_an_a2key_expires_with_its_usersig(tmp_path: Path) -> None:
    """An A2Key is valid as long as the UserSig it was issued against: past that, frames
    carrying it (and a re-login with it) answer 70001, which the SDK takes as 'UserSig
    expired'."""
    clock = FakeClock(int(time.time() * 1000))
    async with running_server(tmp_path / "im.sqlite3", clock=clock) as srv:
        async with raw_sdk(srv) as s:
            await s.login("alice", tencent_sig("alice", expire=100))
            assert (await s.call("openim.getmsg", {}))["ErrorCode"] == 0
            clock.advance(seconds=101)
            fails(await s.call("openim.getmsg", {}), 70001)
            fails(await s.call("im_open_status.wslogin", {}), 70001)
            assert await s.call("heartbeat.alive") == OK


async def test_getmsg_catches_a_reconnecting_instance_up(
    srv: Running, admin: TimRestClient
) -> None:
    """getmsg with no Cookie answers the unread count per peer and a cookie; with that cookie
    it answers the one-to-one messages the user sent or received since, oldest first, in
    pages of 100 (SyncFlag 1: ask again, 2: done), with the ids the sender made."""
    await users(admin, "alice", "bob", "carol")
    await send_c2c(admin, "alice", "bob", "before")
    async with raw_sdk(srv) as s:
        await s.login("bob")
        first = await s.call("openim.getmsg", {"Cookie": ""})
        assert first["SyncFlag"] == 2 and first["MsgList"] == []
        assert first["C2CPairUnreadCount"] == [{"From_Account": "alice", "UnreadCount": 1}]
        cookie = first["Cookie"]
        await send_c2c(admin, "alice", "bob", "one")
        await send_c2c(admin, "bob", "carol", "two")
        await send_c2c(admin, "alice", "carol", "not bob's")
        caught = await s.call("openim.getmsg", {"Cookie": cookie})
        items = caught["MsgList"]
        assert [i["MsgBody"][0]["MsgContent"]["Text"] for i in items] == ["one", "two"]
        assert items[0]["TinyId"] == tiny_id(SDKAPPID, "alice")
        assert caught["SyncFlag"] == 2
        assert {"From_Account": "alice", "UnreadCount": 2} in caught["C2CPairUnreadCount"]
        again = await s.call("openim.getmsg", {"Cookie": caught["Cookie"]})
        assert again["MsgList"] == []
        for i in range(105):
            await send_c2c(admin, "carol", "bob", f"m{i}")
        page = await s.call("openim.getmsg", {"Cookie": again["Cookie"]})
        assert (len(page["MsgList"]), page["SyncFlag"]) == (100, 1)
        rest = await s.call("openim.getmsg", {"Cookie": page["Cookie"]})
        assert (len(rest["MsgList"]), rest["SyncFlag"]) == (5, 2)


async def test_one_state_across_the_sdk_tim_ws_rest_and_callbacks(tmp_path: Path) -> None:
    """A /tim/ws message reaches an SDK socket with the ids the SDK expects; the SDK's receipt
    reaches the /tim/ws sender with the new totals, counts over REST and fires
    Group.CallbackAfterReadReceipt with OptPlatform Web."""
    async with Receiver() as receiver:
        apps = [
            AppSettings(
                sdkappid=SDKAPPID, secret_key=KEY, callback=CallbackSettings(url=receiver.url)
            )
        ]
        async with running_server(tmp_path / "im.sqlite3", apps=apps) as srv, srv.admin() as admin:
            await users(admin, "alice", "bob", "carol", group="team")
            async with srv.client("alice") as alice, raw_sdk(srv) as bob:
                await bob.login("bob")
                sent = await alice.send_group_message(
                    "team", "from /tim/ws", need_read_receipt=True
                )
                item = (await bob.next_push("GroupMsgArray"))["GroupMsgArray"][0]
                assert item["TinyId"] == tiny_id(SDKAPPID, "alice")
                assert (item["MsgSeq"], item["MsgRandom"]) == (sent.seq, sent.random)
                assert item["MsgClientTime"] == sent.timestamp
                assert item["IsNeedReadReceipt"] == 1
                ack = {"GroupId": "team", "MsgSeqList": [{"MsgSeq": sent.seq}]}
                assert (await bob.call("group_open_http_svc.group_msg_receipt", ack)) == OK
                (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
                assert (receipt.msgID, receipt.readCount, receipt.unreadCount) == (sent.msgID, 1, 1)
                counts = await admin.call("group_open_http_svc", "get_group_msg_receipt", ack)
                assert counts["GroupMsgReceiptList"][0]["ReadNum"] == 1
            await receiver.wait_until(
                lambda: bool(receiver.of("Group.CallbackAfterReadReceipt")), what="the callback"
            )
            (hit,) = receiver.of("Group.CallbackAfterReadReceipt")
            assert hit.query["OptPlatform"] == "Web"
            assert hit.body["GroupMsgReceiptList"][0]["ReadReceiptMembers"] == [
                {"Member_Account": "bob"}
            ]


async def test_c2c_receipts_from_the_sdk_reach_a_tim_ws_sender(
    srv: Running, admin: TimRestClient
) -> None:
    """An SDK c2c_msg_read_receipt naming a /tim/ws message by (seq, random, time) reaches its
    sender as isPeerRead; one naming no message of the pair is 20022."""
    await users(admin, "alice", "bob")
    async with srv.client("alice") as alice, raw_sdk(srv) as bob:
        await bob.login("bob")
        sent = await alice.send_c2c_message("bob", "ack me", need_read_receipt=True)
        item = (await bob.next_push("C2cMsgArray"))["C2cMsgArray"][0]
        info = {
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgSeq": item["MsgSeq"],
            "MsgRandom": item["MsgRandom"],
            "MsgTime": item["MsgTimeStamp"],
            "MsgClientTime": item["MsgClientTime"],
        }
        body = {"Peer_Account": "alice", "C2CMsgInfo": [info]}
        assert await bob.call("openim.c2c_msg_read_receipt", body) == OK
        (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
        assert (receipt.msgID, receipt.isPeerRead) == (sent.msgID, True)
        wrong = {**info, "MsgRandom": info["MsgRandom"] ^ 1}
        fails(await bob.call("openim.c2c_msg_read_receipt", {**body, "C2CMsgInfo": [wrong]}), 20022)


async def test_logout_stops_pushes_but_keeps_the_socket(srv: Running, admin: TimRestClient) -> None:
    """After wslogout a socket gets no more pushes, still answers, and can log in again."""
    await users(admin, "alice", "bob")
    async with raw_sdk(srv) as s:
        await s.login("bob")
        assert await s.call("im_open_status.wslogout", {"wslogout_type": 0}) == OK
        assert srv.wiring.sdk_fanout.sessions(SDKAPPID, "bob") == []
        await send_c2c(admin, "alice", "bob", "nobody listens")
        assert await s.call("heartbeat.alive") == OK
        assert s.pushes == []
        await s.login("bob")
        await send_c2c(admin, "alice", "bob", "back")
        assert (await s.next_push("C2cMsgArray"))["C2cMsgArray"][0]["MsgBody"] == text_body("back")


async def test_an_sdk_client_that_stops_reading_is_cut_off_alone(tmp_path: Path) -> None:
    """An SDK socket whose push queue overflows is closed with 4008 and a reason; another
    user's SDK socket keeps getting its pushes promptly."""
    async with running_server(tmp_path / "im.sqlite3", session_queue=20) as srv:
        async with srv.admin() as admin:
            await users(admin, "alice", "slow", "carol")
            async with raw_sdk(srv, rcvbuf=4096) as slow, raw_sdk(srv) as carol:
                await slow.login("slow")
                await carol.login("carol")
                (session,) = srv.wiring.sdk_fanout.sessions(SDKAPPID, "slow")
                sent = 0
                while not session.closed:
                    await send_c2c(admin, "alice", "slow", "x" * 8000)
                    sent += 1
                    assert sent < 5000, "the slow session was never cut off"
                await send_c2c(admin, "alice", "carol", "prompt?")
                item = await carol.next_push("C2cMsgArray", within=2)
                assert item["C2cMsgArray"][0]["MsgBody"] == text_body("prompt?")
                assert await slow.closed_code(within=20) == 4008


@pytest.mark.parametrize("binary", [True, False])
async def test_pushes_follow_the_frame_type(
    srv: Running, admin: TimRestClient, binary: bool
) -> None:
    """Pushes go out in the frame type of the socket's path, like answers."""
    await users(admin, "alice", "bob")
    async with raw_sdk(srv, binary=binary) as s:
        await s.login("bob")
        await send_c2c(admin, "alice", "bob")
        await s.next_push("C2cMsgArray")
        assert set(s.kinds) == {bytes if binary else str}


async def test_any_body_for_any_servcmd_gets_an_envelope_never_an_internal_error(
    srv: Running, admin: TimRestClient
) -> None:
    """Arbitrary JSON bodies (deep, huge or negative numbers, non-ASCII digits, wrong types)
    sent for every servcmd by a logged-in user each get exactly one answer in the SDK's
    envelope, never 10002, and the session keeps answering."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from server.tim.sdk_commands import COMMANDS

    await users(admin, "alice", "bob", group="team")
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.sampled_from(["²", "١٤٠٠", "team", "bob", "alice", "", "\ud800x", "1_2_3"])
        | st.text(max_size=8)
    )
    values = st.recursive(
        scalars,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
        max_leaves=12,
    )
    keys = st.sampled_from(
        [
            "To_Account",
            "MsgBody",
            "MsgRandom",
            "GroupId",
            "MsgSeqList",
            "MsgSeq",
            "Cookie",
            "C2CMsgInfo",
            "Peer_Account",
            "Flag",
            "Num",
            "Cursor",
            "C2CMsgReaded",
            "UserItem",
            "GroupIdList",
            "MaxCnt",
            "MsgKey",
            "ReqMsgSeq",
            "Limit",
            "Offset",
            "MsgReadedSeq",
        ]
    ) | st.text(max_size=6)
    bodies = st.dictionaries(keys, values, max_size=5) | values
    cases: list[tuple[str, Any]] = []

    @settings(max_examples=400, database=None, deadline=None)
    @given(st.sampled_from(sorted(set(COMMANDS) - {"im_open_status.wslogout"})), bodies)
    def collect(servcmd: str, body: Any) -> None:
        cases.append((servcmd, body))

    collect()
    async with raw_sdk(srv) as s:
        await s.login("alice")
        for servcmd, body in cases:
            h = s.head(servcmd)
            text = json.dumps({"head": h, "body": body}, allow_nan=False)
            await s.send_raw(text.encode("utf-8", "surrogatepass"))
            answer = await s.answer()
            assert answer["head"] == {"servcmd": servcmd, "seq": h["seq"]}, (servcmd, body)
            assert answer["body"].get("ErrorCode", 0) != 10002, (servcmd, body, answer)
            assert answer["body"].get("ActionStatus", "OK") in ("OK", "FAIL")
        assert await s.call("heartbeat.alive") == OK


async def test_the_simulation_api_and_c2c_callbacks_see_the_sdk(tmp_path: Path) -> None:
    """A message sent with the simulation API reaches an SDK socket; the SDK user's
    conversation read (msgreaded) reaches the peer's socket as C2cReadedReceipt and fires
    C2C.CallbackAfterMsgReport with OptPlatform Web; a simulated read reaches the SDK too."""
    from clients.sim import SimClient

    async with Receiver() as receiver:
        apps = [
            AppSettings(
                sdkappid=SDKAPPID, secret_key=KEY, callback=CallbackSettings(url=receiver.url)
            )
        ]
        async with (
            running_server(tmp_path / "im.sqlite3", apps=apps) as srv,
            srv.admin() as admin,
            SimClient(srv.base_url) as sim,
        ):
            await users(admin, "alice", "bob")
            async with raw_sdk(srv) as alice, raw_sdk(srv) as bob:
                await alice.login("alice")
                await bob.login("bob")
                await sim.send("alice", to_user="bob", text="from the simulation API")
                item = (await bob.next_push("C2cMsgArray"))["C2cMsgArray"][0]
                assert item["MsgBody"] == text_body("from the simulation API")
                read = {
                    "C2CMsgReaded": {
                        "C2CMsgReadedItem": [
                            {"To_Account": "alice", "LastedMsgTime": item["MsgTimeStamp"]}
                        ]
                    }
                }
                assert await bob.call("openim.msgreaded", read) == OK
                notice = (await alice.next_push("C2cNotifyMsgArray"))["C2cNotifyMsgArray"][0]
                receipt = notice["C2cReadedReceipt"]
                assert receipt["To_Account"] == "bob"
                assert receipt["UinPairReadArray"][0]["LastReadTime"] == item["MsgTimeStamp"]
                times = await alice.call("openim.get_peer_read_time", {"To_Account": ["bob"]})
                assert times["ReadTime"] == [item["MsgTimeStamp"]]
                await admin.call(
                    "openim",
                    "sendmsg",
                    {
                        "From_Account": "bob",
                        "To_Account": "alice",
                        "MsgRandom": 3,
                        "MsgBody": text_body("hi"),
                    },
                )
                await sim.read("alice", peer="bob")
                notice = (await bob.next_push("C2cNotifyMsgArray"))["C2cNotifyMsgArray"][0]
                assert notice["C2cReadedReceipt"]["To_Account"] == "alice"
            await receiver.wait_until(
                lambda: bool(receiver.of("C2C.CallbackAfterMsgReport")), what="the callback"
            )
            report = receiver.of("C2C.CallbackAfterMsgReport")[0]
            assert report.query["OptPlatform"] == "Web"
            assert (report.body["Report_Account"], report.body["Peer_Account"]) == ("bob", "alice")

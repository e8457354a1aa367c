"""TIM callbacks end to end: a real server POSTs to a local receiver (reference/tim.md section 5).

Every wait is on the receiver (or the outbox's log) filling up, with a timeout; never a sleep.
Callbacks of one app are delivered one at a time in event order, so "nothing else was sent"
is shown by a later event arriving with nothing in between.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

from clients.tim_rest import TimRestClient
from server.settings import AppSettings, CallbackSettings
from server.store.events import Attempt
from tests.e2e.receiver import HUNG, OutboxLog, Receiver, closed_port
from tests.harness import KEY, SDKAPPID, Running, running_server

CHANNEL = f"tim-callback:{SDKAPPID}"
FAST = {"retry_initial": 0.05, "retry_max": 0.2}
SEND_GROUP = "Group.CallbackAfterSendMsg"
SEND_C2C = "C2C.CallbackAfterSendMsg"
READ_RECEIPT = "Group.CallbackAfterReadReceipt"
MSG_REPORT = "C2C.CallbackAfterMsgReport"


def app(url: str, **callback: Any) -> list[AppSettings]:
    return [
        AppSettings(
            sdkappid=SDKAPPID, secret_key=KEY, callback=CallbackSettings(url=url, **callback)
        )
    ]


def text_of(body: dict[str, Any]) -> str:
    return str(body["MsgBody"][0]["MsgContent"]["Text"])


async def team(admin: TimRestClient, *members: str, group_id: str = "team1") -> None:
    await admin.import_accounts(*members)
    await admin.create_group("Work", "team", list(members), group_id=group_id, owner=members[0])


async def send_group(admin: TimRestClient, sender: str, text: str, group_id: str = "team1") -> int:
    result = await admin.call(
        "group_open_http_svc",
        "send_group_msg",
        {
            "GroupId": group_id,
            "From_Account": sender,
            "Random": random.randrange(2**32),
            "NeedReadReceipt": 1,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
        },
    )
    return int(result["MsgSeq"])


async def send_c2c(admin: TimRestClient, sender: str, to: str, text: str) -> dict[str, Any]:
    return await admin.call(
        "openim",
        "sendmsg",
        {
            "From_Account": sender,
            "To_Account": to,
            "MsgRandom": random.randrange(2**32),
            "IsNeedReadReceipt": 1,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
        },
    )


async def group_receipt(
    admin: TimRestClient, member: str, *seqs: int, group_id: str = "team1"
) -> None:
    await admin.call(
        "group_open_http_svc",
        "group_msg_receipt",
        {
            "GroupId": group_id,
            "From_Account": member,
            "MsgSeqList": [{"MsgSeq": s} for s in seqs],
        },
    )


async def set_read(admin: TimRestClient, reader: str, peer: str) -> None:
    await admin.call(
        "openim", "admin_set_msg_read", {"Report_Account": reader, "Peer_Account": peer}
    )


async def settled_attempts(srv: Running, receiver: Receiver) -> list[Attempt]:
    """Every delivery attempt of the app's channel so far, oldest first, once each earlier event
    has its outcome recorded: the channel records an event's last attempt before it sends the
    next event, so a last C2C message ("settle", alice to bob) is sent and awaited first."""
    async with srv.admin() as admin:
        await send_c2c(admin, "alice", "bob", "settle")
    await receiver.wait_until(
        lambda: any(text_of(h.body) == "settle" for h in receiver.of(SEND_C2C)), what="settle"
    )
    (settle_event,) = await srv.wiring.db.fetchone("SELECT max(id) FROM events")
    log = reversed(await srv.wiring.store.events.attempts(CHANNEL, limit=1000))
    return [a for a in log if a.event_id < settle_event]


def assert_common_query(query: dict[str, str], command: str, platform: str) -> None:
    assert query["SdkAppid"] == str(SDKAPPID)
    assert query["CallbackCommand"] == command
    assert query["contenttype"] == "json"
    assert query["ClientIP"]
    assert query["OptPlatform"] == platform


# -- what is sent -------------------------------------------------------------------------------


async def test_group_after_send_msg(tmp_path: Path, receiver: Receiver) -> None:
    """A group message sent over REST or the WebSocket fires Group.CallbackAfterSendMsg with TIM's query and body."""
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url)) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob", "carol")
            rest_seq = await send_group(admin, "alice", "over rest")
        async with srv.client("alice") as alice:
            ws_msg = await alice.send_group_message("team1", "over ws", need_read_receipt=True)
            await alice.send_group_message("team1", "no receipt")
        await receiver.wait_until(lambda: len(receiver.of(SEND_GROUP)) >= 3, what="3 group sends")

    rest, ws, plain = receiver.of(SEND_GROUP)
    assert_common_query(rest.query, SEND_GROUP, "RESTAPI")
    assert_common_query(ws.query, SEND_GROUP, "Web")
    assert "Sign" not in rest.query and "RequestTime" not in rest.query
    for hit in (rest, ws, plain):
        assert hit.body["CallbackCommand"] == SEND_GROUP
        assert hit.body["GroupId"] == "team1"
        assert hit.body["Type"] == "Private"  # a Work group keeps its old REST name
        assert hit.body["From_Account"] == "alice"
    assert (rest.body["MsgSeq"], text_of(rest.body), rest.body["NeedReadReceipt"]) == (
        rest_seq,
        "over rest",
        1,
    )
    assert (ws.body["MsgSeq"], ws.body["Random"], ws.body["MsgTime"]) == (
        ws_msg.seq,
        ws_msg.random,
        ws_msg.timestamp,
    )
    assert (text_of(ws.body), ws.body["NeedReadReceipt"]) == ("over ws", 1)
    assert (plain.body["MsgSeq"], plain.body["NeedReadReceipt"]) == (ws_msg.seq + 1, 0)


async def test_c2c_after_send_msg(tmp_path: Path, receiver: Receiver) -> None:
    """A C2C message fires C2C.CallbackAfterSendMsg whose MsgKey is seq_random_time and whose UnreadMsgNum is the receiver's total C2C unread."""
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url)) as srv:
        async with srv.admin() as admin:
            await admin.import_accounts("alice", "bob", "carol")
            carol_sent = await send_c2c(admin, "carol", "bob", "from carol")
            alice_sent = await send_c2c(admin, "alice", "bob", "from alice")
        async with srv.client("alice") as alice:
            ws_msg = await alice.send_c2c_message("bob", "over ws", need_read_receipt=True)
        await receiver.wait_until(lambda: len(receiver.of(SEND_C2C)) >= 3, what="3 C2C sends")

    first, second, third = receiver.of(SEND_C2C)
    assert_common_query(first.query, SEND_C2C, "RESTAPI")
    assert_common_query(third.query, SEND_C2C, "Web")
    for hit in (first, second, third):
        b = hit.body
        assert b["MsgKey"] == f"{b['MsgSeq']}_{b['MsgRandom']}_{b['MsgTime']}"
        assert b["To_Account"] == "bob"
        assert b["IsNeedReadReceipt"] == 1
    assert (first.body["From_Account"], first.body["MsgKey"]) == ("carol", carol_sent["MsgKey"])
    assert (second.body["From_Account"], second.body["MsgKey"]) == ("alice", alice_sent["MsgKey"])
    assert (third.body["MsgSeq"], third.body["MsgRandom"], third.body["MsgTime"]) == (
        ws_msg.seq,
        ws_msg.random,
        ws_msg.timestamp,
    )
    # bob's unread over all his C2C conversations: 1 from carol, then 1 + 1, then 1 + 2
    assert [h.body["UnreadMsgNum"] for h in (first, second, third)] == [1, 2, 3]


async def test_group_after_read_receipt(tmp_path: Path, receiver: Receiver) -> None:
    """A WebSocket receipt and a REST group_msg_receipt each fire Group.CallbackAfterReadReceipt with the totals after the event; a repeated receipt fires nothing."""
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url)) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob", "carol", "dave")
            seq1 = await send_group(admin, "alice", "one")
            seq2 = await send_group(admin, "alice", "two")
            async with srv.client("bob") as bob:
                history = await bob.history(group_id="team1")
                first = next(m for m in history if m.seq == seq1)
                before_ms = int(time.time() * 1000)
                await bob.send_message_read_receipts([first])
                await receiver.wait_until(
                    lambda: len(receiver.of(READ_RECEIPT)) >= 1, what="a receipt"
                )
                after_ms = int(time.time() * 1000)
                await group_receipt(admin, "carol", seq1, seq2)
                await receiver.wait_until(
                    lambda: len(receiver.of(READ_RECEIPT)) >= 2, what="2 receipts"
                )
                await bob.send_message_read_receipts([first])  # again: nothing changes
            await send_group(admin, "alice", "sentinel")  # delivered after whatever came before
            await receiver.wait_until(
                lambda: len(receiver.of(SEND_GROUP)) >= 3, what="the sentinel"
            )

    ws_hit, rest_hit = receiver.of(READ_RECEIPT)
    assert [h.command for h in receiver.delivered].count(READ_RECEIPT) == 2
    assert_common_query(ws_hit.query, READ_RECEIPT, "Web")
    assert_common_query(rest_hit.query, READ_RECEIPT, "RESTAPI")
    assert (ws_hit.body["GroupId"], ws_hit.body["Type"]) == ("team1", "Private")
    assert before_ms <= ws_hit.body["EventTime"] <= after_ms  # milliseconds
    assert ws_hit.body["GroupMsgReceiptList"] == [
        {
            "MsgSeq": seq1,
            "ReadNum": 1,
            "UnreadNum": 2,
            "ReadReceiptMembers": [{"Member_Account": "bob"}],
        },
    ]
    assert rest_hit.body["GroupMsgReceiptList"] == [
        {
            "MsgSeq": seq1,
            "ReadNum": 2,
            "UnreadNum": 1,
            "ReadReceiptMembers": [{"Member_Account": "carol"}],
        },
        {
            "MsgSeq": seq2,
            "ReadNum": 1,
            "UnreadNum": 2,
            "ReadReceiptMembers": [{"Member_Account": "carol"}],
        },
    ]


async def test_c2c_after_msg_report(tmp_path: Path, receiver: Receiver) -> None:
    """admin_set_msg_read and a WebSocket markC2CMessageAsRead fire C2C.CallbackAfterMsgReport with LastReadTime in seconds and the reader's total C2C unread."""
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url)) as srv:
        async with srv.admin() as admin:
            await admin.import_accounts("alice", "bob", "carol")
            await send_c2c(admin, "alice", "bob", "a1")
            await send_c2c(admin, "alice", "bob", "a2")
            await send_c2c(admin, "carol", "bob", "c1")
            before = int(time.time())
            await set_read(admin, "bob", "alice")
            async with srv.client("bob") as bob:
                await bob.mark_c2c_message_as_read("carol")
            after = int(time.time())
        await receiver.wait_until(lambda: len(receiver.of(MSG_REPORT)) >= 2, what="2 reports")

    rest, ws = receiver.of(MSG_REPORT)
    assert_common_query(rest.query, MSG_REPORT, "RESTAPI")
    assert_common_query(ws.query, MSG_REPORT, "Web")
    assert (rest.body["Report_Account"], rest.body["Peer_Account"], rest.body["UnreadMsgNum"]) == (
        "bob",
        "alice",
        1,  # carol's message is still unread
    )
    assert (ws.body["Report_Account"], ws.body["Peer_Account"], ws.body["UnreadMsgNum"]) == (
        "bob",
        "carol",
        0,
    )
    for hit in (rest, ws):
        assert before <= hit.body["LastReadTime"] <= after  # seconds


async def test_c2c_message_receipt_fires_no_callback(tmp_path: Path, receiver: Receiver) -> None:
    """A per-message C2C receipt (c2c_msg_read_receipt) fires no callback: TIM documents none."""
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url)) as srv:
        async with srv.admin() as admin:
            await admin.import_accounts("alice", "bob")
            sent = await send_c2c(admin, "alice", "bob", "read me")
            info = {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent["MsgKey"]}
            body = {"Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [info]}
            await admin.call("openim", "c2c_msg_read_receipt", body)
            await set_read(admin, "bob", "alice")  # delivered after whatever came before
        await receiver.wait_until(lambda: len(receiver.of(MSG_REPORT)) >= 1, what="the report")

    assert [h.command for h in receiver.hits] == [SEND_C2C, MSG_REPORT]


async def test_sign_and_request_time(tmp_path: Path, receiver: Receiver) -> None:
    """With a token, every callback URL carries RequestTime (s) and Sign == sha256(token + RequestTime)."""
    token = "xxxxyyyy"
    before = int(time.time())
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url, token=token)) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob")
            seq = await send_group(admin, "alice", "signed")
            await group_receipt(admin, "bob", seq)
            await set_read(admin, "bob", "alice")
        await receiver.wait_until(lambda: len(receiver.delivered) >= 3, what="3 callbacks")
    after = int(time.time())

    assert [h.command for h in receiver.delivered] == [SEND_GROUP, READ_RECEIPT, MSG_REPORT]
    for hit in receiver.delivered:
        request_time = hit.query["RequestTime"]
        assert before <= int(request_time) <= after
        assert hit.query["Sign"] == hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


async def test_commands_filter(tmp_path: Path, receiver: Receiver) -> None:
    """Only the CallbackCommands listed in `commands` are sent."""
    apps = app(receiver.url, commands=[READ_RECEIPT, MSG_REPORT])
    async with running_server(tmp_path / "im.sqlite3", apps=apps) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob")
            seq = await send_group(admin, "alice", "filtered out")
            await send_c2c(admin, "alice", "bob", "filtered out too")
            await group_receipt(admin, "bob", seq)
            await set_read(admin, "bob", "alice")
        await receiver.wait_until(lambda: len(receiver.of(MSG_REPORT)) >= 1, what="the report")

    assert [h.command for h in receiver.hits] == [READ_RECEIPT, MSG_REPORT]


# -- delivery: retries, outages, restarts ---------------------------------------------------------


async def test_outage_with_errors_then_closed_port(
    tmp_path: Path, receiver: Receiver, outbox_log: OutboxLog
) -> None:
    """Events made while the receiver answers 500 and then while its port is closed all arrive once it is back, in order, each at least once, and every failed attempt is recorded."""
    receiver.status = 500
    async with running_server(tmp_path / "im.sqlite3", apps=app(receiver.url, **FAST)) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob", "carol")
            seqs = [await send_group(admin, "alice", f"m{i}") for i in range(3)]
            await receiver.wait_until(lambda: len(receiver.hits) >= 2, what="2 failed attempts")
            await receiver.stop()  # now nothing listens on the port
            await group_receipt(admin, "bob", *seqs)
            await send_c2c(admin, "carol", "bob", "while down")
            await set_read(admin, "bob", "carol")
            await outbox_log.wait_for("ClientConnectorError")
            receiver.status = 200
            await receiver.start()  # the same port
            await receiver.wait_until(
                lambda: len(receiver.delivered_keys()) >= 6, what="6 callbacks"
            )
            keys = receiver.delivered_keys()
            log = await settled_attempts(srv, receiver)

    assert all(h.status == 500 for h in receiver.hits[:2])
    assert [k[0] for k in keys] == [
        SEND_GROUP,
        SEND_GROUP,
        SEND_GROUP,
        READ_RECEIPT,
        SEND_C2C,
        MSG_REPORT,
    ]
    assert [k[2] for k in keys[:3]] == seqs
    event_ids = list(dict.fromkeys(a.event_id for a in log if a.ok))
    assert event_ids == sorted(event_ids) and len(event_ids) == 6
    failures = [a for a in log if not a.ok]
    assert any(a.status == 500 and "HTTP 500" in a.detail for a in failures)
    assert any(a.status is None and "ClientConnectorError" in a.detail for a in failures)
    assert all(a.event_id == event_ids[0] for a in failures)  # the head of the line waited


async def test_closed_port_from_the_start(tmp_path: Path, outbox_log: OutboxLog) -> None:
    """Callbacks to a port nobody has listened on yet arrive, in order, once a receiver starts there."""
    receiver = Receiver(closed_port())
    apps = app(receiver.url, **FAST)
    try:
        async with running_server(tmp_path / "im.sqlite3", apps=apps) as srv:
            async with srv.admin() as admin:
                await team(admin, "alice", "bob")
                seqs = [await send_group(admin, "alice", f"m{i}") for i in range(3)]
                await group_receipt(admin, "bob", seqs[0])
            await outbox_log.wait_for("ClientConnectorError")
            await receiver.start()
            await receiver.wait_until(
                lambda: len(receiver.delivered_keys()) >= 4, what="4 callbacks"
            )
    finally:
        await receiver.stop()

    assert receiver.delivered_keys() == [
        (SEND_GROUP, "team1", seqs[0]),
        (SEND_GROUP, "team1", seqs[1]),
        (SEND_GROUP, "team1", seqs[2]),
        (READ_RECEIPT, "team1", ("bob",), (seqs[0],)),
    ]


async def test_slow_callback_is_retried(tmp_path: Path, receiver: Receiver) -> None:
    """A callback not answered within the timeout is recorded as failed and sent again."""
    receiver.hang = lambda hit: not receiver.hits  # the first request never gets an answer
    apps = app(receiver.url, timeout=0.2, **FAST)
    async with running_server(tmp_path / "im.sqlite3", apps=apps) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob")
            seq = await send_group(admin, "alice", "slow")
        await receiver.wait_until(lambda: len(receiver.delivered) >= 1, what="the retry")
        log = await settled_attempts(srv, receiver)

    assert [h.status for h in receiver.hits[:2]] == [HUNG, 200]
    assert receiver.hits[0].body == receiver.hits[1].body
    assert receiver.delivered[0].body["MsgSeq"] == seq
    assert [(a.ok, a.status) for a in log] == [(False, None), (True, 200)]
    assert log[0].detail == f"{SEND_GROUP}: no answer within 0.2s"
    assert log[0].event_id == log[1].event_id


async def test_pending_callbacks_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    """Callbacks still pending when the server stops are delivered by the next server on the same database."""
    db = tmp_path / "im.sqlite3"
    apps = app(receiver.url, **FAST)
    receiver.status = 503
    async with running_server(db, apps=apps) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob", "carol")
            seqs = [await send_group(admin, "alice", f"m{i}") for i in range(3)]
            await group_receipt(admin, "bob", *seqs)
            await group_receipt(admin, "carol", seqs[1])
            await set_read(admin, "carol", "alice")
        await receiver.wait_until(lambda: len(receiver.hits) >= 2, what="2 failed attempts")
    assert not receiver.delivered

    receiver.status = 200
    async with running_server(db, apps=apps):
        await receiver.wait_until(lambda: len(receiver.delivered_keys()) >= 6, what="6 callbacks")

    assert [k[0] for k in receiver.delivered_keys()] == [
        SEND_GROUP,
        SEND_GROUP,
        SEND_GROUP,
        READ_RECEIPT,
        READ_RECEIPT,
        MSG_REPORT,
    ]
    bob_hit, carol_hit = receiver.of(READ_RECEIPT)
    assert [(i["MsgSeq"], i["ReadNum"]) for i in bob_hit.body["GroupMsgReceiptList"]] == [
        (s, 1) for s in seqs
    ]
    assert [
        (i["MsgSeq"], i["ReadNum"], i["UnreadNum"]) for i in carol_hit.body["GroupMsgReceiptList"]
    ] == [(seqs[1], 2, 0)]
    assert all(h.status == 503 for h in receiver.hits if h.status != 200)


async def test_give_up_after(tmp_path: Path, receiver: Receiver) -> None:
    """A callback that keeps failing past give_up_after is given up and the next one is still delivered."""
    receiver.fail = lambda hit: 500 if text_of(hit.body) == "doomed" else None
    apps = app(receiver.url, give_up_after=0.1, retry_initial=0.02, retry_max=0.05)
    async with running_server(tmp_path / "im.sqlite3", apps=apps) as srv:
        async with srv.admin() as admin:
            await team(admin, "alice", "bob")
            await send_group(admin, "alice", "doomed")
            await send_group(admin, "alice", "next")
        await receiver.wait_until(lambda: len(receiver.delivered) >= 1, what="the next callback")
        log = await settled_attempts(srv, receiver)

    assert [text_of(h.body) for h in receiver.delivered] == ["next", "settle"]
    assert {text_of(h.body) for h in receiver.hits if h.status == 500} == {"doomed"}
    doomed = [a for a in log if not a.ok]
    assert len({a.event_id for a in doomed}) == 1
    assert doomed[-1].detail == "given up"
    assert all(a.status == 500 for a in doomed[:-1]) and len(doomed) >= 2
    assert [a.event_id for a in log if a.ok] == [doomed[0].event_id + 1]

"""Every TIM REST command against the real server, and the receipt-state rules seen over REST."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from clients.tim_rest import TimRestClient
from server.core.clock import FakeClock
from server.settings import AppSettings
from tests.harness import KEY, SDKAPPID, running_server
from tests.tim.conftest import Clients, assert_fail, import_users

GROUP = "group_open_http_svc"
OPENIM = "openim"
LOGIN = "im_open_login_svc"


def body(text: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]


async def fail(
    admin: TimRestClient, service: str, command: str, req: dict[str, Any], code: int
) -> str:
    """Call ``command``, assert it fails with ``code`` and return its ErrorInfo."""
    result = await admin.raw(service, command, req)
    assert_fail(result, code)
    return str(result["ErrorInfo"])


async def send_group(
    admin: TimRestClient, group_id: str, sender: str, text: str = "hi", *, receipt: bool = True
) -> dict[str, Any]:
    return await admin.call(
        GROUP,
        "send_group_msg",
        {
            "GroupId": group_id,
            "From_Account": sender,
            "Random": random.randrange(2**32),
            "MsgBody": body(text),
            "NeedReadReceipt": int(receipt),
        },
    )


async def send_c2c(
    admin: TimRestClient,
    sender: str,
    receiver: str,
    text: str = "hi",
    *,
    receipt: bool = True,
    msg_random: int | None = None,
) -> dict[str, Any]:
    return await admin.call(
        OPENIM,
        "sendmsg",
        {
            "From_Account": sender,
            "To_Account": receiver,
            "MsgRandom": random.randrange(2**32) if msg_random is None else msg_random,
            "MsgBody": body(text),
            "IsNeedReadReceipt": int(receipt),
        },
    )


async def receipt_counts(admin: TimRestClient, group_id: str, *seqs: int) -> list[dict[str, Any]]:
    result = await admin.call(
        GROUP,
        "get_group_msg_receipt",
        {"GroupId": group_id, "MsgSeqList": [{"MsgSeq": s} for s in seqs]},
    )
    assert (result["ActionStatus"], result["ErrorCode"]) == ("OK", 0)
    return list(result["GroupMsgReceiptList"])


async def roam(admin: TimRestClient, a: str, b: str, **extra: Any) -> dict[str, Any]:
    req = {
        "Operator_Account": a,
        "Peer_Account": b,
        "MaxCnt": 100,
        "MinTime": 0,
        "MaxTime": 4_000_000_000,
    } | extra
    return await admin.call(OPENIM, "admin_getroammsg", req)


async def detail_pages(
    admin: TimRestClient, group_id: str, seq: int, filter_: int, count: int
) -> list[dict[str, Any]]:
    """Every page of get_group_msg_receipt_detail, following Cursor until IsFinish."""
    pages, cursor = [], ""
    for _ in range(100):
        page = await admin.call(
            GROUP,
            "get_group_msg_receipt_detail",
            {
                "GroupId": group_id,
                "MsgSeq": seq,
                "Filter": filter_,
                "Cursor": cursor,
                "Count": count,
            },
        )
        pages.append(page)
        if page["IsFinish"] == 1:
            return pages
        assert page["Cursor"]
        cursor = page["Cursor"]
    raise AssertionError("detail paging never finished")


def accounts_of(pages: list[dict[str, Any]], filter_: int) -> list[str]:
    key, field = ("ReadList", "Read_Account") if filter_ == 0 else ("UnreadList", "Unread_Account")
    return [item[field] for page in pages for item in page[key]]


@pytest.fixture
async def team(admin: TimRestClient) -> str:
    """A Work group ``team`` of alice (owner), bob, carol and dave."""
    await admin.import_accounts("alice", "bob", "carol", "dave", "erin")
    return await admin.create_group(
        "Work", "team", ["bob", "carol", "dave"], group_id="team", owner="alice"
    )


# -- accounts ---------------------------------------------------------------------------------


async def test_account_import_creates_an_account_once(admin: TimRestClient) -> None:
    """account_import creates an account, and importing it again is still OK."""
    for _ in range(2):
        result = await admin.call(
            LOGIN,
            "account_import",
            {"UserID": "alice", "Nick": "Alice", "FaceUrl": "http://x/a.png"},
        )
        assert result["ErrorCode"] == 0
    unread = await admin.call(OPENIM, "get_c2c_unread_msg_num", {"To_Account": "alice"})
    assert unread["AllC2CUnreadMsgNum"] == 0


async def test_account_import_refuses_an_invalid_id(admin: TimRestClient) -> None:
    """account_import of a 40-character id fails with 70402 naming the id."""
    info = await fail(admin, LOGIN, "account_import", {"UserID": "u" * 40}, 70402)
    assert "u" * 40 in info


async def test_multiaccount_import_reports_invalid_ids(admin: TimRestClient) -> None:
    """multiaccount_import imports the valid ids and lists the invalid ones in FailAccounts."""
    long_id, non_ascii = "x" * 40, "zoë"
    result = await admin.call(
        LOGIN, "multiaccount_import", {"Accounts": ["alice", long_id, "bob", non_ascii, "alice"]}
    )
    assert (result["ActionStatus"], result["ErrorCode"]) == ("OK", 0)
    assert result["FailAccounts"] == [long_id, non_ascii]
    await admin.create_group("Work", "g", ["alice", "bob"], group_id="g")  # both exist now


async def test_multiaccount_import_refuses_more_than_100(admin: TimRestClient) -> None:
    """multiaccount_import with more than 100 accounts is refused at decode."""
    await fail(
        admin, LOGIN, "multiaccount_import", {"Accounts": [f"u{i}" for i in range(101)]}, 70402
    )


# -- groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "group_type", ["Private", "Work", "Public", "ChatRoom", "Meeting", "AVChatRoom", "Community"]
)
async def test_create_group_of_each_type(admin: TimRestClient, group_type: str) -> None:
    """create_group makes each group type, with a custom GroupId or a generated @TGS# id."""
    await admin.import_accounts("alice", "bob")
    custom = await admin.create_group(
        group_type, "named", ["bob"], group_id=f"custom_{group_type}", owner="alice"
    )
    assert custom == f"custom_{group_type}"
    generated = await admin.create_group(group_type, "anon", ["alice", "bob"])
    generated2 = await admin.create_group(group_type, "anon", ["alice"])
    assert generated.startswith("@TGS#") and len(generated) == 14
    assert generated != generated2
    info = await admin.call(GROUP, "get_group_member_info", {"GroupId": custom})
    assert info["MemberNum"] == 2
    roles = {m["Member_Account"]: m["Role"] for m in info["MemberList"]}
    assert roles == {"alice": "Owner", "bob": "Member"}


async def test_create_group_with_a_taken_id_is_10021(admin: TimRestClient) -> None:
    """create_group with a GroupId already in use fails with 10021 naming it."""
    await admin.import_accounts("alice")
    await admin.create_group("Public", "one", ["alice"], group_id="dup")
    info = await fail(
        admin, GROUP, "create_group", {"Type": "Work", "Name": "two", "GroupId": "dup"}, 10021
    )
    assert "dup" in info


async def test_create_group_with_unknown_type_or_member_fails(admin: TimRestClient) -> None:
    """create_group refuses an unknown group Type (10004) and an unknown member (10019)."""
    await fail(admin, GROUP, "create_group", {"Type": "Castle", "Name": "x"}, 10004)
    info = await fail(
        admin,
        GROUP,
        "create_group",
        {"Type": "Work", "Name": "x", "MemberList": [{"Member_Account": "ghost"}]},
        10019,
    )
    assert "ghost" in info


async def test_add_group_member_reports_each_result(admin: TimRestClient, team: str) -> None:
    """add_group_member answers Result 1 for added, 2 for already a member, 0 for unknown."""
    result = await admin.call(
        GROUP,
        "add_group_member",
        {"GroupId": team, "MemberList": [{"Member_Account": u} for u in ("erin", "bob", "ghost")]},
    )
    assert [(m["Member_Account"], m["Result"]) for m in result["MemberList"]] == [
        ("erin", 1),
        ("bob", 2),
        ("ghost", 0),
    ]
    info = await admin.call(GROUP, "get_group_member_info", {"GroupId": team})
    assert info["MemberNum"] == 5


async def test_delete_group_member_removes_members(admin: TimRestClient, team: str) -> None:
    """delete_group_member removes the named members; the group shrinks accordingly."""
    await admin.call(
        GROUP, "delete_group_member", {"GroupId": team, "MemberToDel_Account": ["bob", "carol"]}
    )
    info = await admin.call(GROUP, "get_group_member_info", {"GroupId": team})
    assert info["MemberNum"] == 2
    assert {m["Member_Account"] for m in info["MemberList"]} == {"alice", "dave"}


async def test_destroy_group_then_10010(admin: TimRestClient, team: str) -> None:
    """After destroy_group, every command on the group fails with 10010."""
    await send_group(admin, team, "alice")
    await admin.call(GROUP, "destroy_group", {"GroupId": team})
    await fail(admin, GROUP, "get_group_member_info", {"GroupId": team}, 10010)
    await fail(
        admin, GROUP, "send_group_msg", {"GroupId": team, "Random": 1, "MsgBody": body("x")}, 10010
    )
    await fail(
        admin,
        GROUP,
        "get_group_msg_receipt",
        {"GroupId": team, "MsgSeqList": [{"MsgSeq": 1}]},
        10010,
    )
    await fail(admin, GROUP, "destroy_group", {"GroupId": team}, 10010)


async def test_get_group_member_info_pages_with_offset_and_limit(admin: TimRestClient) -> None:
    """get_group_member_info reports MemberNum for the whole group and pages with Offset/Limit."""
    users = [f"m{i:02d}" for i in range(12)]
    await import_users(admin, users)
    group_id = await admin.create_group("Public", "big", users, group_id="big")
    everyone = await admin.call(GROUP, "get_group_member_info", {"GroupId": group_id})
    assert everyone["MemberNum"] == 12
    order = [m["Member_Account"] for m in everyone["MemberList"]]
    assert sorted(order) == users
    page = await admin.call(
        GROUP, "get_group_member_info", {"GroupId": group_id, "Offset": 5, "Limit": 4}
    )
    assert page["MemberNum"] == 12
    assert [m["Member_Account"] for m in page["MemberList"]] == order[5:9]
    tail = await admin.call(
        GROUP, "get_group_member_info", {"GroupId": group_id, "Offset": 10, "Limit": 4}
    )
    assert [m["Member_Account"] for m in tail["MemberList"]] == order[10:]


# -- group messages ---------------------------------------------------------------------------


async def test_send_group_msg_returns_seq_and_time(admin: TimRestClient, team: str) -> None:
    """send_group_msg answers consecutive MsgSeq numbers and the send time in seconds."""
    before = int(time.time())
    first = await send_group(admin, team, "alice", "one")
    second = await send_group(admin, team, "bob", "two", receipt=False)
    assert (first["ActionStatus"], first["ErrorCode"]) == ("OK", 0)
    assert second["MsgSeq"] == first["MsgSeq"] + 1
    assert before <= first["MsgTime"] <= second["MsgTime"] <= int(time.time())


async def test_send_group_msg_by_a_non_member_is_10007(admin: TimRestClient, team: str) -> None:
    """send_group_msg on behalf of an account outside the group fails with 10007."""
    await fail(
        admin,
        GROUP,
        "send_group_msg",
        {"GroupId": team, "From_Account": "erin", "Random": 1, "MsgBody": body("x")},
        10007,
    )


async def test_group_msg_get_simple_lists_newest_first(admin: TimRestClient, team: str) -> None:
    """group_msg_get_simple lists newest first with NeedReadReceipt, paging by ReqMsgSeq."""
    seqs = []
    for i in range(5):
        sent = await send_group(admin, team, "alice", f"m{i}", receipt=i % 2 == 0)
        seqs.append(sent["MsgSeq"])
    page = await admin.call(GROUP, "group_msg_get_simple", {"GroupId": team, "ReqMsgNumber": 3})
    assert page["GroupId"] == team and page["IsFinished"] == 0
    got = [
        (m["MsgSeq"], m["MsgBody"][0]["MsgContent"]["Text"], m["NeedReadReceipt"])
        for m in page["RspMsgList"]
    ]
    assert got == [(seqs[4], "m4", 1), (seqs[3], "m3", 0), (seqs[2], "m2", 1)]
    assert all(m["From_Account"] == "alice" for m in page["RspMsgList"])
    rest = await admin.call(
        GROUP, "group_msg_get_simple", {"GroupId": team, "ReqMsgNumber": 3, "ReqMsgSeq": seqs[1]}
    )
    assert [m["MsgSeq"] for m in rest["RspMsgList"]] == [seqs[1], seqs[0]]
    assert rest["IsFinished"] == 1


async def test_get_group_msg_receipt_counts_and_10062(admin: TimRestClient, team: str) -> None:
    """get_group_msg_receipt gives Code 0 with counts, and Code 10062 for an unknown seq or a
    message sent without NeedReadReceipt, while the call itself stays OK."""
    with_receipt = (await send_group(admin, team, "alice"))["MsgSeq"]
    without = (await send_group(admin, team, "alice", receipt=False))["MsgSeq"]
    rows = await receipt_counts(admin, team, with_receipt, without, 999)
    assert rows == [
        {"Code": 0, "MsgSeq": with_receipt, "ReadNum": 0, "UnreadNum": 3},
        {"Code": 10062, "MsgSeq": without, "ReadNum": 0, "UnreadNum": 0},
        {"Code": 10062, "MsgSeq": 999, "ReadNum": 0, "UnreadNum": 0},
    ]


async def test_group_msg_receipt_changes_counts(admin: TimRestClient, team: str) -> None:
    """group_msg_receipt records From_Account's receipt (idempotently) and the counts follow."""
    seq = (await send_group(admin, team, "alice"))["MsgSeq"]
    for _ in range(2):
        await admin.call(
            GROUP,
            "group_msg_receipt",
            {"GroupId": team, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]},
        )
    assert await receipt_counts(admin, team, seq) == [
        {"Code": 0, "MsgSeq": seq, "ReadNum": 1, "UnreadNum": 2}
    ]
    await admin.call(
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "carol", "MsgSeqList": [{"MsgSeq": seq}]},
    )
    assert (await receipt_counts(admin, team, seq))[0]["ReadNum"] == 2


async def test_group_msg_receipt_pushes_to_the_online_sender(
    admin: TimRestClient, team: str, clients: Clients
) -> None:
    """A receipt sent over REST reaches the sender's session as onRecvMessageReadReceipts."""
    alice = await clients.login("alice")
    msg = await alice.send_group_message(team, "hello", need_read_receipt=True)
    await admin.call(
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "dave", "MsgSeqList": [{"MsgSeq": msg.seq}]},
    )
    receipts = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert [(r.msgID, r.groupID, r.readCount, r.unreadCount) for r in receipts] == [
        (msg.msgID, team, 1, 2)
    ]


async def test_receivers_are_snapshotted_at_send_time(admin: TimRestClient, team: str) -> None:
    """A member who joins after the send is neither read nor unread and its receipt counts for
    nothing; a member who leaves keeps its place among the unread."""
    seq = (await send_group(admin, team, "alice"))["MsgSeq"]
    await admin.call(
        GROUP, "add_group_member", {"GroupId": team, "MemberList": [{"Member_Account": "erin"}]}
    )
    await admin.call(
        GROUP, "delete_group_member", {"GroupId": team, "MemberToDel_Account": ["dave"]}
    )
    await admin.call(
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "erin", "MsgSeqList": [{"MsgSeq": seq}]},
    )
    assert await receipt_counts(admin, team, seq) == [
        {"Code": 0, "MsgSeq": seq, "ReadNum": 0, "UnreadNum": 3}
    ]
    unread = accounts_of(await detail_pages(admin, team, seq, 1, 100), 1)
    assert sorted(unread) == ["bob", "carol", "dave"]


async def test_group_msg_receipt_refusals(admin: TimRestClient, team: str) -> None:
    """group_msg_receipt refuses more than 50 seqs (10004), an unknown seq (10062), a reader
    outside the group (10007) and a sender acknowledging its own message (10062)."""
    seq = (await send_group(admin, team, "alice"))["MsgSeq"]
    many = [{"MsgSeq": s} for s in range(1, 52)]
    await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "bob", "MsgSeqList": many},
        10004,
    )
    info = await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": 77}]},
        10062,
    )
    assert "77" in info
    await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "erin", "MsgSeqList": [{"MsgSeq": seq}]},
        10007,
    )
    await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": team, "From_Account": "alice", "MsgSeqList": [{"MsgSeq": seq}]},
        10062,
    )
    assert (await receipt_counts(admin, team, seq))[0]["ReadNum"] == 0


async def test_receipt_detail_pages_through_read_and_unread(admin: TimRestClient) -> None:
    """get_group_msg_receipt_detail pages 29 receivers 7 at a time; read and unread lists are
    disjoint and their union is exactly the receivers."""
    users = [f"u{i:02d}" for i in range(30)]
    await import_users(admin, users)
    group_id = await admin.create_group(
        "Public", "thirty", users[1:], group_id="thirty", owner=users[0]
    )
    seq = (await send_group(admin, group_id, users[0]))["MsgSeq"]
    readers = users[1:30:3]  # 10 readers
    for reader in readers:
        await admin.call(
            GROUP,
            "group_msg_receipt",
            {"GroupId": group_id, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]},
        )
    read_pages = await detail_pages(admin, group_id, seq, 0, 7)
    unread_pages = await detail_pages(admin, group_id, seq, 1, 7)
    assert [len(p["ReadList"]) for p in read_pages] == [7, 3]
    assert [len(p["UnreadList"]) for p in unread_pages] == [7, 7, 5]
    for page in read_pages + unread_pages:
        assert page["MsgSeq"] == seq
        assert (page["IsFinish"] == 1) == (page["Cursor"] == "")
    read, unread = accounts_of(read_pages, 0), accounts_of(unread_pages, 1)
    assert sorted(read) == sorted(readers)
    assert len(unread) == len(set(unread)) == 19
    assert set(read) | set(unread) == set(users[1:]) and not set(read) & set(unread)
    assert "UnreadList" not in read_pages[0] and "ReadList" not in unread_pages[0]


async def test_receipt_detail_refuses_unknown_seq_and_bad_cursor(
    admin: TimRestClient, team: str
) -> None:
    """get_group_msg_receipt_detail fails with 10062 for an unknown seq or a message without
    receipts, and with 10004 for a Cursor it did not hand out."""
    seq = (await send_group(admin, team, "alice"))["MsgSeq"]
    plain = (await send_group(admin, team, "alice", receipt=False))["MsgSeq"]
    await fail(admin, GROUP, "get_group_msg_receipt_detail", {"GroupId": team, "MsgSeq": 99}, 10062)
    await fail(
        admin, GROUP, "get_group_msg_receipt_detail", {"GroupId": team, "MsgSeq": plain}, 10062
    )
    await fail(
        admin,
        GROUP,
        "get_group_msg_receipt_detail",
        {"GroupId": team, "MsgSeq": seq, "Cursor": "abc"},
        10004,
    )


async def test_receipt_detail_count_over_200_is_clamped(tmp_path: Path) -> None:
    """A detail Count above 200 is taken as 200 (here with the receipt cap raised to 300)."""
    app = AppSettings(sdkappid=SDKAPPID, secret_key=KEY, receipt_group_cap=300)
    async with running_server(tmp_path / "im.sqlite3", apps=[app]) as srv, srv.admin() as admin:
        users = [f"u{i:03d}" for i in range(251)]
        await import_users(admin, users)
        group_id = await admin.create_group("Work", "huge", users, group_id="huge")
        seq = (await send_group(admin, group_id, users[0]))["MsgSeq"]
        pages = await detail_pages(admin, group_id, seq, 1, 1000)
        assert [len(p["UnreadList"]) for p in pages] == [200, 50]
        assert set(accounts_of(pages, 1)) == set(users[1:])
        assert await receipt_counts(admin, group_id, seq) == [
            {"Code": 0, "MsgSeq": seq, "ReadNum": 0, "UnreadNum": 250}
        ]


# -- C2C --------------------------------------------------------------------------------------


async def test_sendmsg_msgkey_is_seq_random_time(admin: TimRestClient) -> None:
    """openim sendmsg answers MsgTime and MsgKey == f"{MsgSeq}_{MsgRandom}_{MsgTime}" with the
    MsgRandom the caller sent; the roaming copy carries IsNeedReadReceipt."""
    await admin.import_accounts("alice", "bob")
    first = await send_c2c(admin, "alice", "bob", "one", msg_random=4242)
    second = await send_c2c(admin, "bob", "alice", "two", receipt=False, msg_random=7)
    msgs = {m["MsgRandom"]: m for m in (await roam(admin, "alice", "bob"))["MsgList"]}
    for sent, rnd, need in ((first, 4242, 1), (second, 7, 0)):
        assert (sent["ActionStatus"], sent["ErrorCode"]) == ("OK", 0)
        stored = msgs[rnd]
        assert sent["MsgKey"] == f"{stored['MsgSeq']}_{rnd}_{sent['MsgTime']}"
        assert stored["MsgKey"] == sent["MsgKey"]
        assert stored["MsgTimeStamp"] == sent["MsgTime"]
        assert stored["IsNeedReadReceipt"] == need
    assert (msgs[4242]["From_Account"], msgs[4242]["To_Account"]) == ("alice", "bob")


async def test_sendmsg_refuses_unknown_accounts(admin: TimRestClient) -> None:
    """openim sendmsg to an account that does not exist fails with 90003 naming it."""
    await admin.import_accounts("alice")
    info = await fail(
        admin,
        OPENIM,
        "sendmsg",
        {"From_Account": "alice", "To_Account": "ghost", "MsgRandom": 1, "MsgBody": body("x")},
        90003,
    )
    assert "ghost" in info


async def test_getroammsg_is_peer_read_after_c2c_receipt(admin: TimRestClient) -> None:
    """admin_getroammsg shows IsPeerRead 0, then 1 after the receiver's c2c_msg_read_receipt."""
    await admin.import_accounts("alice", "bob")
    sent = await send_c2c(admin, "alice", "bob")
    plain = await send_c2c(admin, "alice", "bob", receipt=False)
    before = {m["MsgKey"]: m["IsPeerRead"] for m in (await roam(admin, "alice", "bob"))["MsgList"]}
    assert before == {sent["MsgKey"]: 0, plain["MsgKey"]: 0}
    await admin.call(
        OPENIM,
        "c2c_msg_read_receipt",
        {
            "Operator_Account": "bob",
            "Peer_Account": "alice",
            "C2CMsgInfo": [
                {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent["MsgKey"]}
            ],
        },
    )
    after = {m["MsgKey"]: m["IsPeerRead"] for m in (await roam(admin, "bob", "alice"))["MsgList"]}
    assert after == {sent["MsgKey"]: 1, plain["MsgKey"]: 0}


async def test_getroammsg_time_window_and_paging(tmp_path: Path) -> None:
    """admin_getroammsg keeps to MinTime..MaxTime and pages newest first with MaxCnt and
    LastMsgKey until Complete is 1."""
    clock = FakeClock()
    async with running_server(tmp_path / "im.sqlite3", clock=clock) as srv, srv.admin() as admin:
        await admin.import_accounts("alice", "bob")
        sent = []
        for i in range(7):
            sent.append(
                await send_c2c(
                    admin, "alice" if i % 2 else "bob", "bob" if i % 2 else "alice", f"m{i}"
                )
            )
            clock.advance(seconds=10)
        times = [s["MsgTime"] for s in sent]
        assert times == sorted(set(times))
        window = await roam(admin, "alice", "bob", MinTime=times[2], MaxTime=times[4])
        assert [m["MsgKey"] for m in window["MsgList"]] == [s["MsgKey"] for s in sent[4:1:-1]]
        assert window["Complete"] == 1 and window["MsgCnt"] == 3

        keys: list[str] = []
        req: dict[str, Any] = {"MaxCnt": 3}
        completes = []
        for _ in range(10):
            page = await roam(admin, "alice", "bob", **req)
            keys += [m["MsgKey"] for m in page["MsgList"]]
            completes.append(page["Complete"])
            if page["Complete"]:
                break
            req = {"MaxCnt": 3, "MaxTime": page["LastMsgTime"], "LastMsgKey": page["LastMsgKey"]}
        assert completes == [0, 0, 1]
        assert keys == [s["MsgKey"] for s in reversed(sent)]


async def test_getroammsg_refuses_a_reversed_window(admin: TimRestClient) -> None:
    """admin_getroammsg with MinTime after MaxTime fails with a parameter error."""
    await admin.import_accounts("alice", "bob")
    await fail(
        admin,
        OPENIM,
        "admin_getroammsg",
        {
            "Operator_Account": "alice",
            "Peer_Account": "bob",
            "MaxCnt": 10,
            "MinTime": 200,
            "MaxTime": 100,
        },
        90010,
    )


async def test_c2c_msg_read_receipt_refusals(admin: TimRestClient) -> None:
    """c2c_msg_read_receipt refuses From/To that are not Peer/Operator (20001), a malformed
    MsgKey (90054) and a MsgKey of no message (20022)."""
    await admin.import_accounts("alice", "bob", "carol")
    sent = await send_c2c(admin, "alice", "bob")
    seq, rnd, t = sent["MsgKey"].split("_")

    def req(from_: str, to: str, key: str) -> dict[str, Any]:
        return {
            "Operator_Account": "bob",
            "Peer_Account": "alice",
            "C2CMsgInfo": [{"From_Account": from_, "To_Account": to, "MsgKey": key}],
        }

    await fail(admin, OPENIM, "c2c_msg_read_receipt", req("bob", "alice", sent["MsgKey"]), 20001)
    await fail(admin, OPENIM, "c2c_msg_read_receipt", req("carol", "bob", sent["MsgKey"]), 20001)
    for bad in ("not-a-key", "1_2", "a_b_c"):
        info = await fail(admin, OPENIM, "c2c_msg_read_receipt", req("alice", "bob", bad), 90054)
        assert bad in info
    for unknown in (
        f"{int(seq) + 5}_{rnd}_{t}",
        f"{seq}_{int(rnd) ^ 1}_{t}",
        f"{seq}_{rnd}_{int(t) + 1}",
    ):
        info = await fail(
            admin, OPENIM, "c2c_msg_read_receipt", req("alice", "bob", unknown), 20022
        )
        assert unknown in info
    roamed = (await roam(admin, "alice", "bob"))["MsgList"]
    assert [m["IsPeerRead"] for m in roamed] == [0]


async def test_c2c_msg_read_receipt_pushes_to_the_online_sender(
    admin: TimRestClient, clients: Clients
) -> None:
    """A C2C receipt sent over REST reaches the sender's session with isPeerRead and userID."""
    await admin.import_accounts("alice", "bob")
    alice = await clients.login("alice")
    sent = await alice.send_c2c_message("bob", "hi", need_read_receipt=True)
    key = f"{sent.seq}_{sent.random}_{sent.timestamp}"
    await admin.call(
        OPENIM,
        "c2c_msg_read_receipt",
        {
            "Operator_Account": "bob",
            "Peer_Account": "alice",
            "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}],
        },
    )
    (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert (receipt.msgID, receipt.userID, receipt.isPeerRead) == (sent.msgID, "bob", True)


async def test_admin_set_msg_read_clears_unread(admin: TimRestClient) -> None:
    """admin_set_msg_read brings the reader's unread count with that peer, and the total, to 0."""
    await admin.import_accounts("alice", "bob", "carol")
    for _ in range(3):
        await send_c2c(admin, "alice", "bob", receipt=False)
    await send_c2c(admin, "carol", "bob", receipt=False)
    req = {"To_Account": "bob", "Peer_Account": ["alice", "carol", "dave"]}
    unread = await admin.call(OPENIM, "get_c2c_unread_msg_num", req)
    assert unread["AllC2CUnreadMsgNum"] == 4
    assert unread["C2CUnreadMsgNumList"] == [
        {"Peer_Account": "alice", "C2CUnreadMsgNum": 3},
        {"Peer_Account": "carol", "C2CUnreadMsgNum": 1},
        {"Peer_Account": "dave", "C2CUnreadMsgNum": 0},
    ]
    await admin.call(
        OPENIM, "admin_set_msg_read", {"Report_Account": "bob", "Peer_Account": "alice"}
    )
    unread = await admin.call(OPENIM, "get_c2c_unread_msg_num", req)
    assert unread["AllC2CUnreadMsgNum"] == 1
    assert unread["C2CUnreadMsgNumList"][0] == {"Peer_Account": "alice", "C2CUnreadMsgNum": 0}
    await admin.call(
        OPENIM, "admin_set_msg_read", {"Report_Account": "bob", "Peer_Account": "carol"}
    )
    unread = await admin.call(OPENIM, "get_c2c_unread_msg_num", {"To_Account": "bob"})
    assert unread["AllC2CUnreadMsgNum"] == 0


async def test_admin_set_msg_read_refuses_unknown_accounts(admin: TimRestClient) -> None:
    """admin_set_msg_read fails with 90008 for an unknown Report_Account, 90003 for an unknown
    Peer_Account; get_c2c_unread_msg_num of an unknown account fails with 90003."""
    await admin.import_accounts("alice")
    await fail(
        admin,
        OPENIM,
        "admin_set_msg_read",
        {"Report_Account": "ghost", "Peer_Account": "alice"},
        90008,
    )
    await fail(
        admin,
        OPENIM,
        "admin_set_msg_read",
        {"Report_Account": "alice", "Peer_Account": "ghost"},
        90003,
    )
    await fail(admin, OPENIM, "get_c2c_unread_msg_num", {"To_Account": "ghost"}, 90003)


async def test_admin_set_msg_read_notifies_the_peer(admin: TimRestClient, clients: Clients) -> None:
    """admin_set_msg_read for bob pushes onRecvC2CReadReceipt to alice with an empty msgID."""
    await admin.import_accounts("alice", "bob")
    alice = await clients.login("alice")
    await send_c2c(admin, "alice", "bob")
    await admin.call(
        OPENIM,
        "admin_set_msg_read",
        {"Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": 1_900_000_000},
    )
    (receipt,) = await alice.next_push("onRecvC2CReadReceipt", timeout=5)
    assert (receipt.msgID, receipt.userID) == ("", "bob")
    assert receipt.timestamp > 0


# -- where receipts are kept, and where not ---------------------------------------------------


@pytest.mark.parametrize("group_type", ["AVChatRoom", "Community"])
async def test_no_receipt_state_in_avchatroom_and_community(
    admin: TimRestClient, clients: Clients, group_type: str
) -> None:
    """An AVChatRoom/Community message with NeedReadReceipt is delivered, but the group's
    receipt APIs answer 10007 (the group type keeps no receipts)."""
    await admin.import_accounts("alice", "bob")
    group_id = await admin.create_group(group_type, "live", ["alice", "bob"])
    bob = await clients.login("bob")
    seq = (await send_group(admin, group_id, "alice"))["MsgSeq"]
    pushed = await bob.next_push("onRecvNewMessage", timeout=5)
    assert (pushed.groupID, pushed.seq, pushed.needReadReceipt) == (group_id, seq, True)
    assert pushed.readReceiptCode == 10007
    history = await admin.call(
        GROUP, "group_msg_get_simple", {"GroupId": group_id, "ReqMsgNumber": 5}
    )
    assert [m["MsgSeq"] for m in history["RspMsgList"]] == [seq]
    await fail(
        admin,
        GROUP,
        "get_group_msg_receipt",
        {"GroupId": group_id, "MsgSeqList": [{"MsgSeq": seq}]},
        10007,
    )
    await fail(
        admin, GROUP, "get_group_msg_receipt_detail", {"GroupId": group_id, "MsgSeq": seq}, 10007
    )
    await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": group_id, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]},
        10007,
    )


async def test_group_over_200_members_keeps_no_receipts(
    admin: TimRestClient, clients: Clients
) -> None:
    """A NeedReadReceipt message in a 201-member Work group is delivered, but keeps no receipt
    state: get_group_msg_receipt answers Code 10062 for it."""
    users = [f"u{i:03d}" for i in range(201)]
    await import_users(admin, users)
    group_id = await admin.create_group("Work", "crowd", users, group_id="crowd")
    listener = await clients.login(users[200])
    sent = await send_group(admin, group_id, users[0])
    pushed = await listener.next_push("onRecvNewMessage", timeout=5)
    assert (pushed.seq, pushed.needReadReceipt, pushed.readReceiptCode) == (
        sent["MsgSeq"],
        True,
        10060,
    )
    assert await receipt_counts(admin, group_id, sent["MsgSeq"]) == [
        {"Code": 10062, "MsgSeq": sent["MsgSeq"], "ReadNum": 0, "UnreadNum": 0}
    ]
    await fail(
        admin,
        GROUP,
        "group_msg_receipt",
        {"GroupId": group_id, "From_Account": users[1], "MsgSeqList": [{"MsgSeq": sent["MsgSeq"]}]},
        10062,
    )


async def test_non_flagship_app_receipt_apis_are_10059(tmp_path: Path) -> None:
    """On an app without the Flagship plan messages still send, but every receipt API is 10059."""
    basic = AppSettings(sdkappid=1400000001, secret_key=KEY, flagship=False)
    async with (
        running_server(tmp_path / "im.sqlite3", apps=[basic]) as srv,
        srv.admin(sdkappid=1400000001) as admin,
    ):
        await admin.import_accounts("alice", "bob")
        group_id = await admin.create_group("Work", "team", ["alice", "bob"], group_id="team")
        seq = (await send_group(admin, group_id, "alice"))["MsgSeq"]
        c2c = await send_c2c(admin, "alice", "bob")
        await fail(
            admin,
            GROUP,
            "get_group_msg_receipt",
            {"GroupId": group_id, "MsgSeqList": [{"MsgSeq": seq}]},
            10059,
        )
        await fail(
            admin,
            GROUP,
            "get_group_msg_receipt_detail",
            {"GroupId": group_id, "MsgSeq": seq},
            10059,
        )
        await fail(
            admin,
            GROUP,
            "group_msg_receipt",
            {"GroupId": group_id, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]},
            10059,
        )
        await fail(
            admin,
            OPENIM,
            "c2c_msg_read_receipt",
            {
                "Operator_Account": "bob",
                "Peer_Account": "alice",
                "C2CMsgInfo": [
                    {"From_Account": "alice", "To_Account": "bob", "MsgKey": c2c["MsgKey"]}
                ],
            },
            10059,
        )
        roamed = (await roam(admin, "alice", "bob"))["MsgList"]
        assert [(m["IsNeedReadReceipt"], m["IsPeerRead"]) for m in roamed] == [(1, 0)]


async def test_sendmsg_keeps_the_senders_msgseq(admin: TimRestClient) -> None:
    """A MsgSeq given to sendmsg is kept: it is the MsgSeq of the MsgKey, of roaming and of
    the receipt lookup (semantics rule 31)."""
    await admin.import_accounts("alice", "bob")
    sent = await admin.call(
        OPENIM,
        "sendmsg",
        {
            "From_Account": "alice",
            "To_Account": "bob",
            "MsgSeq": 777,
            "MsgRandom": 5,
            "IsNeedReadReceipt": 1,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}],
        },
    )
    seq, rnd, _ = sent["MsgKey"].split("_")
    assert (seq, rnd) == ("777", "5")
    (roamed,) = (await roam(admin, "alice", "bob"))["MsgList"]
    assert (roamed["MsgSeq"], roamed["MsgKey"]) == (777, sent["MsgKey"])
    await admin.call(
        OPENIM,
        "c2c_msg_read_receipt",
        {
            "Operator_Account": "bob",
            "Peer_Account": "alice",
            "C2CMsgInfo": [
                {"From_Account": "alice", "To_Account": "bob", "MsgKey": sent["MsgKey"]}
            ],
        },
    )
    (roamed,) = (await roam(admin, "alice", "bob"))["MsgList"]
    assert roamed["IsPeerRead"] == 1
    for seq in (5, 900, 600):  # the sender's numbers need not grow: paging goes by sending order
        await admin.call(
            OPENIM,
            "sendmsg",
            {
                "From_Account": "alice",
                "To_Account": "bob",
                "MsgSeq": seq,
                "MsgRandom": seq,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": str(seq)}}],
            },
        )
    seen, req = [], {"MaxCnt": 1}
    for _ in range(5):
        page = await roam(admin, "alice", "bob", **req)
        seen += [m["MsgSeq"] for m in page["MsgList"]]
        if page["Complete"]:
            break
        req = {"MaxCnt": 1, "MaxTime": page["LastMsgTime"], "LastMsgKey": page["LastMsgKey"]}
    assert seen == [600, 900, 5, 777]

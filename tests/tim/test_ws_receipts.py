"""Read receipts over the WebSocket, as V2TIM users see them: C2C and group receipts, their
pushes, and the conversation-level reads that must not be confused with them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from clients.tim import READ, UNREAD, TimClient, TimClientError
from clients.tim_rest import TimRestClient
from server.core.clock import FakeClock
from server.settings import AppSettings
from tests.harness import KEY, Running, running_server
from tests.tim.conftest import Clients, import_users

TEAM = "team"


@pytest.fixture
async def team(admin: TimRestClient) -> str:
    """Accounts alice, bob, carol, dave; a Work group ``team`` of alice, bob and carol."""
    await admin.import_accounts("alice", "bob", "carol", "dave")
    return await admin.create_group("Work", "team", ["alice", "bob", "carol"], group_id=TEAM)


async def expect_code(code: int, call: Awaitable[object]) -> str:
    """Await ``call``, which must fail with ``code``; return its desc."""
    with pytest.raises(TimClientError) as err:
        await call
    assert err.value.code == code, err.value
    return err.value.desc


# -- C2C per-message receipts -----------------------------------------------------------------


async def test_c2c_receipt_reaches_the_sender(team: str, clients: Clients) -> None:
    """bob's receipt for alice's message gives alice onRecvMessageReadReceipts with userID bob,
    isPeerRead true and a timestamp, and getMessageReadReceipts then says isPeerRead."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    sent = await alice.send_c2c_message("bob", "read me", need_read_receipt=True)
    assert sent.needReadReceipt and sent.isSelf and sent.userID == "bob"
    (before,) = await alice.get_message_read_receipts([sent])
    assert (before.msgID, before.userID, before.isPeerRead) == (sent.msgID, "bob", False)
    got = await bob.next_push("onRecvNewMessage", timeout=5)
    assert (got.msgID, got.needReadReceipt, got.isSelf, got.userID) == (
        sent.msgID,
        True,
        False,
        "alice",
    )
    await bob.send_message_read_receipts([got])
    (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert (receipt.msgID, receipt.userID, receipt.isPeerRead) == (sent.msgID, "bob", True)
    assert sent.timestamp <= receipt.timestamp <= sent.timestamp + 60
    (after,) = await alice.get_message_read_receipts([sent])
    assert (after.isPeerRead, after.timestamp) == (True, receipt.timestamp)


async def test_second_c2c_receipt_pushes_nothing(team: str, clients: Clients) -> None:
    """isPeerRead only goes false to true: a repeated receipt succeeds but pushes nothing."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    first = await alice.send_c2c_message("bob", "one", need_read_receipt=True)
    await bob.send_message_read_receipts([first])
    (receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert receipt.msgID == first.msgID
    await bob.send_message_read_receipts([first])  # again: no change, no push
    second = await alice.send_c2c_message("bob", "two", need_read_receipt=True)
    await bob.send_message_read_receipts([second])
    (next_receipt,) = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert next_receipt.msgID == second.msgID  # the repeat pushed nothing before it
    states = await alice.get_message_read_receipts([first, second])
    assert [(r.msgID, r.isPeerRead) for r in states] == [(first.msgID, True), (second.msgID, True)]


async def test_c2c_receipt_by_a_third_user_is_7014(team: str, clients: Clients) -> None:
    """A receipt for a C2C message of two other users is refused with 7014."""
    alice, carol = await clients.login("alice"), await clients.login("carol")
    sent = await alice.send_c2c_message("bob", "private", need_read_receipt=True)
    await expect_code(7014, carol.send_message_read_receipts([sent]))
    (state,) = await alice.get_message_read_receipts([sent])
    assert not state.isPeerRead


# -- C2C conversation-level reads -------------------------------------------------------------


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Running, FakeClock]]:
    """A server on a fake clock, so that 'at or before the read time' is exact."""
    clock = FakeClock()
    async with running_server(tmp_path / "clocked.sqlite3", clock=clock) as srv:
        async with srv.admin() as admin:
            await admin.import_accounts("alice", "bob")
        yield srv, clock


@pytest.mark.parametrize("how", ["clean", "mark"])
async def test_conversation_read_pushes_c2c_read_receipt(
    clocked: tuple[Running, FakeClock], how: str
) -> None:
    """bob reading his conversation with alice (cleanConversationUnreadMessageCount("c2c_alice")
    or markC2CMessageAsRead) gives alice onRecvC2CReadReceipt with userID bob, an empty msgID and
    the read time; alice's messages up to that time then show isPeerRead, later ones do not."""
    srv, clock = clocked
    async with srv.client("alice") as alice, srv.client("bob") as bob:
        early = [await alice.send_c2c_message("bob", f"m{i}") for i in range(2)]
        clock.advance(seconds=5)
        assert (await bob.get_conversation("c2c_alice")).unreadCount == 2
        if how == "clean":
            await bob.clean_conversation_unread_message_count("c2c_alice")
        else:
            await bob.mark_c2c_message_as_read("alice")
        read_at = clock.now_ms() // 1000
        (receipt,) = await alice.next_push("onRecvC2CReadReceipt", timeout=5)
        assert (receipt.msgID, receipt.userID, receipt.timestamp) == ("", "bob", read_at)
        assert not receipt.isPeerRead and receipt.groupID is None
        assert (await bob.get_conversation("c2c_alice")).unreadCount == 0
        clock.advance(seconds=5)
        late = await alice.send_c2c_message("bob", "later")
        history = await alice.history(user_id="bob")
        assert [(m.msgID, m.isPeerRead) for m in history] == [
            (late.msgID, False),
            (early[1].msgID, True),
            (early[0].msgID, True),
        ]
        bob_view = await bob.history(user_id="alice")
        assert not any(m.isPeerRead for m in bob_view)  # isPeerRead is about one's own messages


async def test_clean_with_a_timestamp_reads_only_up_to_it(
    clocked: tuple[Running, FakeClock],
) -> None:
    """cleanConversationUnreadMessageCount with a cleanTimestamp reads only messages at or before
    it, and the peer's onRecvC2CReadReceipt carries that timestamp."""
    srv, clock = clocked
    async with srv.client("alice") as alice, srv.client("bob") as bob:
        old = await alice.send_c2c_message("bob", "old")
        clock.advance(seconds=10)
        new = await alice.send_c2c_message("bob", "new")
        await bob.clean_conversation_unread_message_count(
            "c2c_alice", clean_timestamp=old.timestamp
        )
        (receipt,) = await alice.next_push("onRecvC2CReadReceipt", timeout=5)
        assert (receipt.userID, receipt.timestamp) == ("bob", old.timestamp)
        assert (await bob.get_conversation("c2c_alice")).unreadCount == 1
        history = await alice.history(user_id="bob")
        assert [(m.msgID, m.isPeerRead) for m in history] == [(new.msgID, False), (old.msgID, True)]


async def test_conversation_read_is_not_a_per_message_receipt(team: str, clients: Clients) -> None:
    """Reading a C2C conversation does not mark per-message receipts: getMessageReadReceipts
    still says isPeerRead false until bob sends a receipt."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    sent = await alice.send_c2c_message("bob", "hi", need_read_receipt=True)
    await bob.mark_c2c_message_as_read("alice")
    await alice.next_push("onRecvC2CReadReceipt", timeout=5)
    (state,) = await alice.get_message_read_receipts([sent])
    assert not state.isPeerRead


# -- group receipts ---------------------------------------------------------------------------


async def test_group_receipt_reaches_every_session_of_the_sender(
    team: str, clients: Clients
) -> None:
    """Both sessions of the sender get onRecvMessageReadReceipts with the new totals; the second
    session also got the message itself (isSelf true), the sending session only its response."""
    alice1, alice2 = await clients.login("alice"), await clients.login("alice")
    bob = await clients.login("bob")
    sent = await alice1.send_group_message(TEAM, "team news", need_read_receipt=True)
    echo = await alice2.next_push("onRecvNewMessage", timeout=5)
    assert (echo.msgID, echo.isSelf, echo.sender, echo.groupID) == (sent.msgID, True, "alice", TEAM)
    assert echo.isRead
    got = await bob.next_push("onRecvNewMessage", timeout=5)
    assert (got.msgID, got.isSelf, got.needReadReceipt) == (sent.msgID, False, True)
    await bob.send_message_read_receipts([got])
    async with asyncio.timeout(5):
        event, first_push = await alice1.pushes.get()
    assert event == "onRecvMessageReadReceipts"  # no echo of its own message came before it
    second_push = await alice2.next_push("onRecvMessageReadReceipts", timeout=5)
    for receipts in (first_push, second_push):
        assert [(r.msgID, r.groupID, r.readCount, r.unreadCount) for r in receipts] == [
            (sent.msgID, TEAM, 1, 1)
        ]
    (counts,) = await alice2.get_message_read_receipts([sent])
    assert (counts.readCount, counts.unreadCount) == (1, 1)
    assert await bob.get_message_read_receipts([sent]) == []  # counts are the sender's to see


async def test_repeated_group_receipt_changes_nothing(team: str, clients: Clients) -> None:
    """A member's second receipt for a group message neither changes the counts nor pushes."""
    alice, bob, carol = [await clients.login(u) for u in ("alice", "bob", "carol")]
    sent = await alice.send_group_message(TEAM, "once", need_read_receipt=True)
    await bob.send_message_read_receipts([sent])
    first = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert [(r.readCount, r.unreadCount) for r in first] == [(1, 1)]
    await bob.send_message_read_receipts([sent])
    await carol.send_message_read_receipts([sent])
    second = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert [(r.readCount, r.unreadCount) for r in second] == [(2, 0)]  # carol's, not bob's repeat


@pytest.mark.parametrize("case", ["own", "no-receipt", "empty", "two-conversations", "unknown"])
async def test_receipt_lists_that_acknowledge_nothing_are_6017(
    team: str, clients: Clients, case: str
) -> None:
    """sendMessageReadReceipts is refused with 6017 for only one's own messages, only messages
    without needReadReceipt, an empty list, messages of two conversations, or an unknown msgID."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    mine = await bob.send_group_message(TEAM, "mine", need_read_receipt=True)
    plain = await alice.send_group_message(TEAM, "plain")
    wanted = await alice.send_group_message(TEAM, "wanted", need_read_receipt=True)
    c2c = await alice.send_c2c_message("bob", "dm", need_read_receipt=True)
    lists = {
        "own": [mine],
        "no-receipt": [plain],
        "empty": [],
        "two-conversations": [wanted, c2c],
        "unknown": [wanted.msgID, "999999-1-1"],
    }
    desc = await expect_code(6017, bob.send_message_read_receipts(lists[case]))
    assert desc
    (counts,) = await alice.get_message_read_receipts([wanted])
    assert counts.readCount == 0  # nothing of a refused call was recorded


async def test_own_and_plain_messages_are_skipped_beside_a_real_one(
    team: str, clients: Clients
) -> None:
    """A receipt list mixing one's own and receipt-less messages with a real one acknowledges
    just the real one."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    mine = await bob.send_group_message(TEAM, "mine", need_read_receipt=True)
    plain = await alice.send_group_message(TEAM, "plain")
    wanted = await alice.send_group_message(TEAM, "wanted", need_read_receipt=True)
    await bob.send_message_read_receipts([mine, plain, wanted])
    receipts = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert [(r.msgID, r.readCount) for r in receipts] == [(wanted.msgID, 1)]
    (own_counts,) = await bob.get_message_read_receipts([mine])
    assert own_counts.readCount == 0


async def test_group_receipt_by_a_non_member_is_10007(team: str, clients: Clients) -> None:
    """A receipt for a group message from someone outside the group is refused with 10007."""
    alice, dave = await clients.login("alice"), await clients.login("dave")
    sent = await alice.send_group_message(TEAM, "members only", need_read_receipt=True)
    await expect_code(10007, dave.send_message_read_receipts([sent]))
    await expect_code(10007, dave.get_message_read_receipts([sent]))


async def test_read_member_list_pages_and_only_the_sender_may_ask(
    admin: TimRestClient, clients: Clients
) -> None:
    """getGroupMessageReadMemberList pages by nextSeq until isFinished, takes count 0 or over
    100 as 100, lists each receiver once, and refuses anyone but the sender with 7014."""
    users = [f"u{i:03d}" for i in range(121)]
    await import_users(admin, users)
    await admin.create_group("Public", "big", users, group_id="big")
    sender = await clients.login(users[0])
    sent = await sender.send_group_message("big", "count me", need_read_receipt=True)
    readers = users[1::10]  # 12 readers
    for reader in readers:
        await admin.call(
            "group_open_http_svc",
            "group_msg_receipt",
            {"GroupId": "big", "From_Account": reader, "MsgSeqList": [{"MsgSeq": sent.seq}]},
        )

    for count in (0, 100, 101, 5000):
        first = await sender.get_group_message_read_member_list(sent, UNREAD, 0, count)
        assert (len(first.members), first.isFinished) == (100, False), count
    pages, seq = [], 0
    while True:
        page = await sender.get_group_message_read_member_list(sent, UNREAD, seq, 0)
        pages.append(page)
        if page.isFinished:
            break
        assert page.nextSeq > seq
        seq = page.nextSeq
    unread = [m.userID for p in pages for m in p.members]
    assert [len(p.members) for p in pages] == [100, 8]
    read_pages, seq = [], 0
    while True:
        page = await sender.get_group_message_read_member_list(sent, READ, seq, 5)
        read_pages.append(page)
        if page.isFinished:
            break
        seq = page.nextSeq
    read = [m.userID for p in read_pages for m in p.members]
    assert [len(p.members) for p in read_pages] == [5, 5, 2]
    assert sorted(read) == readers
    assert len(unread) == len(set(unread)) == 108
    assert set(read) | set(unread) == set(users[1:]) and not set(read) & set(unread)

    other = await clients.login(users[1])
    await expect_code(7014, other.get_group_message_read_member_list(sent, READ))


async def test_read_member_list_of_a_message_without_receipts_fails(
    team: str, clients: Clients
) -> None:
    """getGroupMessageReadMemberList of a message sent without needReadReceipt fails with 10062."""
    alice = await clients.login("alice")
    sent = await alice.send_group_message(TEAM, "plain")
    await expect_code(10062, alice.get_group_message_read_member_list(sent, READ))


async def test_mark_group_read_changes_unread_but_sends_no_receipt(
    team: str, clients: Clients
) -> None:
    """markGroupMessageAsRead clears the reader's unread count and sends the sender nothing."""
    alice, bob, carol = [await clients.login(u) for u in ("alice", "bob", "carol")]
    sent = [await alice.send_group_message(TEAM, f"m{i}", need_read_receipt=True) for i in range(2)]
    assert (await bob.get_conversation("group_team")).unreadCount == 2
    await bob.mark_group_message_as_read(TEAM)
    assert (await bob.get_conversation("group_team")).unreadCount == 0
    await carol.send_message_read_receipts([sent[0]])
    receipts = await alice.next_push("onRecvMessageReadReceipts", timeout=5)
    assert [(r.msgID, r.readCount, r.unreadCount) for r in receipts] == [(sent[0].msgID, 1, 1)]
    counts = await alice.get_message_read_receipts(sent)
    assert [c.readCount for c in counts] == [1, 0]  # bob's conversation read is no receipt


async def test_clean_group_unread_up_to_a_sequence(team: str, clients: Clients) -> None:
    """cleanConversationUnreadMessageCount("group_<id>", 0, seq) reads the group up to seq only."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    sent = [await alice.send_group_message(TEAM, f"m{i}") for i in range(3)]
    await bob.clean_conversation_unread_message_count("group_team", 0, sent[0].seq)
    assert (await bob.get_conversation("group_team")).unreadCount == 2
    await bob.clean_conversation_unread_message_count("group_team")
    assert (await bob.get_conversation("group_team")).unreadCount == 0


async def test_send_receipts_leaves_the_readers_unread_count(team: str, clients: Clients) -> None:
    """sendMessageReadReceipts does not change the reader's unread count (C2C or group)."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    group_msgs = [
        await alice.send_group_message(TEAM, f"g{i}", need_read_receipt=True) for i in range(2)
    ]
    c2c = await alice.send_c2c_message("bob", "dm", need_read_receipt=True)
    await bob.send_message_read_receipts(group_msgs)
    await bob.send_message_read_receipts([c2c])
    assert (await bob.get_conversation("group_team")).unreadCount == 2
    assert (await bob.get_conversation("c2c_alice")).unreadCount == 1


async def test_online_only_group_message_keeps_no_receipts(team: str, clients: Clients) -> None:
    """An onlineUserOnly message asking for receipts is delivered with readReceiptCode 10061
    and takes no receipts."""
    alice, bob = await clients.login("alice"), await clients.login("bob")
    sent = await alice.send_group_message(
        TEAM, "now only", need_read_receipt=True, online_user_only=True
    )
    assert sent.readReceiptCode == 10061
    got = await bob.next_push("onRecvNewMessage", timeout=5)
    assert (got.msgID, got.readReceiptCode) == (sent.msgID, 10061)
    await expect_code(6017, bob.send_message_read_receipts([got]))


async def test_receipts_need_the_flagship_plan_7013(tmp_path: Path) -> None:
    """On an app without the Flagship plan, receipt requests over the WebSocket answer 7013."""
    basic = AppSettings(sdkappid=1400000001, secret_key=KEY, flagship=False)
    async with running_server(tmp_path / "im.sqlite3", apps=[basic]) as srv:
        alice: TimClient = srv.client("alice", sdkappid=1400000001)
        bob: TimClient = srv.client("bob", sdkappid=1400000001)
        async with alice, bob:
            sent = await alice.send_c2c_message("bob", "hi", need_read_receipt=True)
            assert sent.readReceiptCode == 10059
            await expect_code(7013, bob.send_message_read_receipts([sent]))
            await expect_code(7013, alice.get_message_read_receipts([sent]))

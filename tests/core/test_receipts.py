"""Per-message read receipts: counting, idempotence, the receiver snapshot, member lists,
where no receipt state is kept, refusals, and the events and notifications they produce.

Rules: section 7 of the TIM reference (rule numbers in the comments); rules marked INFERRED
there (snapshot, idempotence, the sender never counted) are our choices where TIM is silent.
"""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from server.core.clock import FakeClock
from server.core.errors import CoreError, Reason
from server.core.events import C2CReceiptItem, C2CReceipts, GroupReceiptItem, GroupReceipts
from server.core.model import GroupType, ReadFilter, ReceiptCount
from server.core.policy import AppPolicy
from server.core.service import Core
from tests.core.support import (
    APP,
    APP_BASIC,
    Recorder,
    events,
    group,
    last_event_id,
    send_c2c,
    send_group,
    users,
)

RECEIVERS = ("r1", "r2", "r3", "r4")


async def work5(core: Core, group_id: str = "w") -> None:
    """A Work group of five: the sender ``s`` and four receivers."""
    await group(core, group_id, "s", RECEIVERS)


async def totals(core: Core, msg_id: int, *, user: str = "s") -> tuple[int, int]:
    (count,) = await core.receipts.counts_ids(APP, user, [msg_id])
    return count.read, count.unread


async def listing(core: Core, msg_id: int, which: ReadFilter, *, page: int = 100) -> list[str]:
    """Every member of one list, paging until finished."""
    out: list[str] = []
    cursor = 0
    while True:
        result = await core.receipts.members(APP, "s", msg_id, which, cursor=cursor, count=page)
        out += [m.user_id for m in result.members]
        cursor = result.next_cursor
        if result.finished:
            return out


async def refused(reason: Reason, awaitable: Awaitable[object]) -> CoreError:
    """Await a core call that must fail with ``reason``; return the error."""
    with pytest.raises(CoreError) as err:
        await awaitable
    assert err.value.reason is reason, err.value
    return err.value


# -- counting (rules 5, 11) -----------------------------------------------------------------


async def test_group_counts_exclude_the_sender(core: Core) -> None:
    """In a group of five, read + unread is always four: the sender is never a receiver."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    assert (m.receivers, m.receipt_code, m.has_receipts) == (4, None, True)
    assert await totals(core, m.id) == (0, 4)
    for reader, expected in (("r1", (1, 3)), ("r3", (2, 2))):
        (change,) = await core.receipts.send_ids(APP, reader, [m.id])
        assert (change.newly_read, change.read, change.receivers) == (True, expected[0], 4)
        assert await totals(core, m.id) == expected
        read, unread = await totals(core, m.id)
        assert read + unread == len(RECEIVERS)
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "s", [m.id]))
    assert await totals(core, m.id) == (2, 2)
    assert await listing(core, m.id, ReadFilter.READ) == ["r1", "r3"]
    assert await listing(core, m.id, ReadFilter.UNREAD) == ["r2", "r4"]


async def test_the_sender_hears_the_new_totals(core: Core, recorder: Recorder) -> None:
    """Each new receipt calls receipts_changed once with the message and its totals afterwards."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    await core.receipts.send_ids(APP, "r2", [m.id])
    await core.receipts.send_ids(APP, "r4", [m.id])
    assert recorder.receipts == [
        (APP, "r2", (ReceiptCount(m, 1, 3, core.clock.now_ms()),)),
        (APP, "r4", (ReceiptCount(m, 2, 2, core.clock.now_ms()),)),
    ]


async def test_an_admin_lookup_by_seq_reports_counts_or_not_found(core: Core) -> None:
    """group_counts answers each seq in order: counts, or RECEIPT_NOT_FOUND (rule 13)."""
    await work5(core)
    with_receipt = (await send_group(core, "s", "w")).message
    without = (await send_group(core, "r1", "w", need_receipt=False)).message
    await core.receipts.send_ids(APP, "r1", [with_receipt.id])
    rows = await core.receipts.group_counts(APP, "w", [99, with_receipt.seq, without.seq])
    assert [(r.seq, r.reason) for r in rows] == [
        (99, Reason.RECEIPT_NOT_FOUND),
        (with_receipt.seq, None),
        (without.seq, Reason.RECEIPT_NOT_FOUND),
    ]
    assert rows[1].count is not None
    assert (rows[1].count.read, rows[1].count.unread) == (1, 3)
    assert rows[0].count is None and rows[2].count is None


async def test_counts_report_only_the_callers_own_messages(core: Core) -> None:
    """counts() leaves out messages the caller did not send unless asked as admin (rule 14)."""
    await work5(core)
    mine = (await send_group(core, "s", "w")).message
    theirs = (await send_group(core, "r1", "w")).message
    plain = (await send_group(core, "s", "w", need_receipt=False)).message
    ids = [mine.id, theirs.id, plain.id]
    assert [c.message.id for c in await core.receipts.counts_ids(APP, "s", ids)] == [mine.id]
    assert [c.message.id for c in await core.receipts.counts_ids(APP, "r1", ids)] == [theirs.id]
    assert await core.receipts.counts_ids(APP, "r2", ids) == []
    admin = await core.receipts.counts_ids(APP, "administrator", ids, as_admin=True)
    assert [(c.message.id, c.read, c.unread) for c in admin] == [(mine.id, 0, 4), (theirs.id, 0, 4)]


# -- idempotence (rules 7, 19) --------------------------------------------------------------


async def test_receipts_are_idempotent(core: Core, recorder: Recorder, clock: FakeClock) -> None:
    """A repeated receipt changes no count, calls no listener and writes no event."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    (first,) = await core.receipts.send_ids(APP, "r1", [m.id])
    calls, wakeups, last = len(recorder.receipts), recorder.wakeups, await last_event_id(core)
    read_ms = core.clock.now_ms()
    clock.advance(seconds=5)
    (second,) = await core.receipts.send_ids(APP, "r1", [m.id, m.id])
    assert first.newly_read and not second.newly_read
    assert second.is_receiver
    assert (second.read, second.receivers, second.read_ms) == (
        1,
        4,
        read_ms,
    )  # first read time kept
    assert await totals(core, m.id) == (1, 3)
    assert (len(recorder.receipts), recorder.wakeups) == (calls, wakeups)
    assert await last_event_id(core) == last


async def test_a_duplicate_id_in_one_call_counts_once(core: Core) -> None:
    """A message listed twice in one receipt call is counted once."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    changes = await core.receipts.send_ids(APP, "r1", [m.id, m.id, m.id])
    assert len(changes) == 1
    assert await totals(core, m.id) == (1, 3)


# -- the receiver snapshot (rule 6, INFERRED) -----------------------------------------------


async def test_a_member_who_joins_later_is_not_counted(core: Core, recorder: Recorder) -> None:
    """A member who joined after the send is in neither list and its receipt changes nothing."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    await users(core, "late")
    await core.groups.add_members(APP, "w", ["late"])
    last = await last_event_id(core)
    (change,) = await core.receipts.send_ids(APP, "late", [m.id])
    # the call succeeds (late is a member and the message keeps receipts) but records nothing
    assert (change.newly_read, change.is_receiver, change.read, change.receivers) == (
        False,
        False,
        0,
        4,
    )
    assert await totals(core, m.id) == (0, 4)
    assert "late" not in await listing(core, m.id, ReadFilter.READ)
    assert await listing(core, m.id, ReadFilter.UNREAD) == list(RECEIVERS)
    assert recorder.receipts == []
    assert await last_event_id(core) == last
    later = (await send_group(core, "s", "w")).message  # the next message does count it
    assert later.receivers == 5


async def test_a_member_who_leaves_keeps_its_state(core: Core) -> None:
    """Members who leave stay in the snapshot with their read or unread state."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    await core.receipts.send_ids(APP, "r1", [m.id])
    await core.groups.remove_members(APP, "w", ["r1", "r2"])
    assert await totals(core, m.id) == (1, 3)
    assert await listing(core, m.id, ReadFilter.READ) == ["r1"]
    assert await listing(core, m.id, ReadFilter.UNREAD) == ["r2", "r3", "r4"]
    await refused(Reason.NOT_GROUP_MEMBER, core.receipts.send_ids(APP, "r2", [m.id]))
    assert await totals(core, m.id) == (1, 3)


async def test_a_message_of_a_destroyed_group_takes_no_receipt(core: Core) -> None:
    """After a group is destroyed (even if its id is reused) its messages take no receipts."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    await core.groups.destroy(APP, "w")
    await refused(Reason.UNKNOWN_GROUP, core.receipts.send_ids(APP, "r1", [m.id]))
    await core.groups.create(
        APP, group_id="w", group_type=GroupType.WORK, name="", owner="s", members=RECEIVERS
    )
    await refused(Reason.UNKNOWN_GROUP, core.receipts.send_ids(APP, "r1", [m.id]))
    await refused(Reason.UNKNOWN_GROUP, core.receipts.send_ids(APP, "r1", [m.id], as_admin=True))
    await refused(Reason.UNKNOWN_GROUP, core.receipts.counts_ids(APP, "s", [m.id]))
    fresh = (await send_group(core, "s", "w")).message  # the new group works as usual
    assert (await core.receipts.send_ids(APP, "r1", [fresh.id]))[0].newly_read


# -- member lists (rule 15) -----------------------------------------------------------------


async def test_member_lists_page_through_every_receiver_once(core: Core) -> None:
    """Paging the read and unread lists 40 at a time yields each of 150 receivers exactly once."""
    receivers = [f"u{i:03d}" for i in range(150)]
    await group(core, "big", "s", receivers)
    m = (await send_group(core, "s", "big")).message
    assert m.receivers == 150
    readers = receivers[::3]  # 50 readers, 100 not
    for reader in readers:
        await core.receipts.send_ids(APP, reader, [m.id])
    assert await totals(core, m.id) == (50, 100)
    seen: dict[ReadFilter, list[str]] = {}
    for which, sizes in ((ReadFilter.READ, [40, 10]), (ReadFilter.UNREAD, [40, 40, 20])):
        cursor, pages = 0, []
        while True:
            page = await core.receipts.members(APP, "s", m.id, which, cursor=cursor, count=40)
            pages.append(page)
            assert page.next_cursor == (page.members[-1].cursor if page.members else cursor)
            assert all(
                a.cursor < b.cursor for a, b in zip(page.members, page.members[1:], strict=False)
            )
            assert page.next_cursor > cursor
            cursor = page.next_cursor
            if page.finished:
                break
        assert [len(p.members) for p in pages] == sizes
        assert [p.finished for p in pages] == [False] * (len(sizes) - 1) + [True]
        seen[which] = [member.user_id for p in pages for member in p.members]
        assert len(seen[which]) == len(set(seen[which]))
        # a call from the final cursor is empty and finished
        tail = await core.receipts.members(APP, "s", m.id, which, cursor=cursor, count=40)
        assert (tail.members, tail.next_cursor, tail.finished) == ((), cursor, True)
    assert seen[ReadFilter.READ] == readers
    assert set(seen[ReadFilter.READ]) | set(seen[ReadFilter.UNREAD]) == set(receivers)
    assert not set(seen[ReadFilter.READ]) & set(seen[ReadFilter.UNREAD])
    read_members = (
        await core.receipts.members(APP, "s", m.id, ReadFilter.READ, cursor=0, count=1)
    ).members
    assert read_members[0].read_ms == core.clock.now_ms()


async def test_a_page_that_ends_exactly_at_the_last_member_is_finished(core: Core) -> None:
    """When the last page is exactly full it is already marked finished."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    page = await core.receipts.members(APP, "s", m.id, ReadFilter.UNREAD, cursor=0, count=4)
    assert (len(page.members), page.finished) == (4, True)
    page = await core.receipts.members(APP, "s", m.id, ReadFilter.UNREAD, cursor=0, count=3)
    assert (len(page.members), page.finished) == (3, False)


async def test_page_size_is_clamped_and_a_negative_cursor_refused(core: Core) -> None:
    """A page size below 1 is raised to 1, and a negative cursor is refused with INVALID."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    page = await core.receipts.members(APP, "s", m.id, ReadFilter.UNREAD, cursor=0, count=0)
    assert [x.user_id for x in page.members] == ["r1"]
    await refused(
        Reason.INVALID,
        core.receipts.members(APP, "s", m.id, ReadFilter.UNREAD, cursor=-1, count=10),
    )


async def test_only_the_sender_or_an_admin_may_list_members(core: Core) -> None:
    """Listing readers is NOT_ALLOWED for anyone but the sender, unless asked as admin."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    await refused(
        Reason.NOT_ALLOWED,
        core.receipts.members(APP, "r1", m.id, ReadFilter.READ, cursor=0, count=10),
    )
    page = await core.receipts.members(
        APP, "administrator", m.id, ReadFilter.UNREAD, cursor=0, count=10, as_admin=True
    )
    assert [x.user_id for x in page.members] == list(RECEIVERS)


async def test_member_lists_need_a_group_message_with_receipts(core: Core) -> None:
    """Listing readers of a C2C message is INVALID, of one without receipts RECEIPT_NOT_FOUND."""
    await work5(core)
    c2c = (await send_c2c(core, "s", "r1")).message
    plain = (await send_group(core, "s", "w", need_receipt=False)).message
    await refused(
        Reason.INVALID, core.receipts.members(APP, "s", c2c.id, ReadFilter.READ, cursor=0, count=5)
    )
    await refused(
        Reason.RECEIPT_NOT_FOUND,
        core.receipts.members(APP, "s", plain.id, ReadFilter.READ, cursor=0, count=5),
    )
    await refused(
        Reason.UNKNOWN_MESSAGE,
        core.receipts.members(APP_BASIC, "s", plain.id, ReadFilter.READ, cursor=0, count=5),
    )


# -- where no receipt state is kept (rules 2, 3, 4) -----------------------------------------


def _core_with(core: Core, policy: AppPolicy) -> Core:
    """Another core on the same store and clock, with one app under ``policy``."""
    built = Core(core.store, core.clock, {policy.app: policy})
    return built


async def _delivered_without_state(
    core: Core,
    recorder: Recorder,
    app: int,
    group_type: GroupType,
    expected: Reason,
    *,
    members: tuple[str, ...] = RECEIVERS,
    online_only: bool = False,
) -> int:
    """Send a need-receipt group message that may not keep state; check it was delivered
    with ``expected`` as its receipt code and that a receipt for it is refused."""
    await group(core, "g", "s", members, group_type=group_type, app=app)
    sent = await send_group(core, "s", "g", app=app, online_only=online_only)
    m = sent.message
    assert set(sent.recipients) == {"s", *members}
    assert recorder.sent[-1] == (m, sent.recipients)
    assert (m.need_receipt, m.receipt_code, m.has_receipts, m.receivers) == (
        True,
        expected.value,
        False,
        0,
    )
    stored = await core.messages.get(app, m.id)
    assert stored.receipt_code == expected.value
    receipt_refusal = (
        Reason.RECEIPT_NOT_FLAGSHIP
        if expected is Reason.RECEIPT_NOT_FLAGSHIP
        else Reason.RECEIPT_LIST_EMPTY
    )
    await refused(receipt_refusal, core.receipts.send_ids(app, members[0], [m.id]))
    return m.seq


@pytest.mark.parametrize("group_type", [GroupType.AVCHATROOM, GroupType.COMMUNITY])
async def test_live_and_community_groups_keep_no_receipts(
    core: Core, recorder: Recorder, group_type: GroupType
) -> None:
    """AVChatRoom and Community messages are delivered without state (GROUP_TYPE_DISABLED)."""
    await _delivered_without_state(
        core, recorder, APP, group_type, Reason.RECEIPT_GROUP_TYPE_DISABLED
    )
    # the admin lookup refuses the whole group rather than answering per seq
    await refused(Reason.GROUP_TYPE_UNSUPPORTED, core.receipts.group_counts(APP, "g", [1]))


async def test_never_types_stay_off_even_if_switched_on(core: Core, recorder: Recorder) -> None:
    """An AVChatRoom keeps no receipts even when the app's switch lists it."""
    everything = frozenset(GroupType)
    other = _core_with(core, AppPolicy(APP, receipt_group_types=everything))
    other.listeners.add(recorder)
    await _delivered_without_state(
        other, recorder, APP, GroupType.AVCHATROOM, Reason.RECEIPT_GROUP_TYPE_DISABLED
    )


async def test_a_group_type_switched_off_keeps_no_receipts(core: Core, recorder: Recorder) -> None:
    """A Meeting group in an app whose receipt switch leaves Meeting out keeps no receipt state."""
    other = _core_with(
        core, AppPolicy(APP, receipt_group_types=frozenset({GroupType.WORK, GroupType.PUBLIC}))
    )
    other.listeners.add(recorder)
    await _delivered_without_state(
        other, recorder, APP, GroupType.MEETING, Reason.RECEIPT_GROUP_TYPE_DISABLED
    )
    await refused(Reason.GROUP_TYPE_UNSUPPORTED, other.receipts.group_counts(APP, "g", [1]))


async def test_a_group_over_the_cap_keeps_no_receipts(core: Core, recorder: Recorder) -> None:
    """A group keeps receipt state up to the receipt cap of members and none above it."""
    other = _core_with(core, AppPolicy(APP, receipt_group_cap=3))
    other.listeners.add(recorder)
    seq = await _delivered_without_state(
        other,
        recorder,
        APP,
        GroupType.WORK,
        Reason.RECEIPT_GROUP_TOO_LARGE,
        members=("a", "b", "c"),
    )
    (row,) = await other.receipts.group_counts(APP, "g", [seq])
    assert (row.count, row.reason) == (None, Reason.RECEIPT_NOT_FOUND)
    await other.groups.remove_members(APP, "g", ["c"])
    at_cap = (await send_group(other, "s", "g")).message
    assert (at_cap.receipt_code, at_cap.receivers) == (None, 2)


async def test_an_app_without_flagship_keeps_no_receipts(core: Core, recorder: Recorder) -> None:
    """Without the Flagship plan a need-receipt message is delivered with RECEIPT_NOT_FLAGSHIP."""
    await _delivered_without_state(
        core, recorder, APP_BASIC, GroupType.WORK, Reason.RECEIPT_NOT_FLAGSHIP
    )
    await refused(Reason.RECEIPT_NOT_FLAGSHIP, core.receipts.group_counts(APP_BASIC, "g", [1]))
    c2c = (await send_c2c(core, "s", "r1", app=APP_BASIC)).message
    assert c2c.receipt_code == Reason.RECEIPT_NOT_FLAGSHIP.value
    await refused(Reason.RECEIPT_NOT_FLAGSHIP, core.receipts.send_ids(APP_BASIC, "r1", [c2c.id]))


async def test_online_only_messages_keep_no_receipts(core: Core, recorder: Recorder) -> None:
    """An online-only need-receipt message is delivered with RECEIPT_ONLINE_ONLY and no state."""
    seq = await _delivered_without_state(
        core, recorder, APP, GroupType.WORK, Reason.RECEIPT_ONLINE_ONLY, online_only=True
    )
    (row,) = await core.receipts.group_counts(APP, "g", [seq])
    assert (row.count, row.reason) == (None, Reason.RECEIPT_NOT_FOUND)
    c2c = (await send_c2c(core, "s", "r1", online_only=True)).message
    assert (c2c.receipt_code, c2c.has_receipts) == (Reason.RECEIPT_ONLINE_ONLY.value, False)
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "r1", [c2c.id]))


async def test_a_message_sent_without_need_receipt_has_no_state(core: Core) -> None:
    """A message sent without need-receipt has no receipt code, no state, and takes no receipt."""
    await work5(core)
    m = (await send_group(core, "s", "w", need_receipt=False)).message
    assert (m.need_receipt, m.receipt_code, m.has_receipts) == (False, None, False)
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "r1", [m.id]))
    assert await core.receipts.counts_ids(APP, "s", [m.id]) == []


# -- refusals (rules 8, 9) ------------------------------------------------------------------


async def test_own_messages_are_dropped_from_a_receipt(core: Core) -> None:
    """A receipt list mixing own and others' messages acknowledges only the others'."""
    await work5(core)
    own = (await send_group(core, "r1", "w")).message
    other = (await send_group(core, "s", "w")).message
    changes = await core.receipts.send_ids(APP, "r1", [own.id, other.id])
    assert [c.msg_id for c in changes] == [other.id]
    assert await totals(core, own.id, user="r1") == (0, 4)
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "r1", [own.id]))


async def test_an_empty_list_is_refused(core: Core) -> None:
    """A receipt or count call with no message ids fails with RECEIPT_LIST_EMPTY."""
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "r1", []))
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.counts_ids(APP, "r1", []))


async def test_messages_of_two_conversations_are_refused(core: Core) -> None:
    """A receipt list spanning two conversations is MIXED_CONVERSATIONS and records nothing."""
    await work5(core)
    await work5(core, "w2")
    a = (await send_group(core, "s", "w")).message
    b = (await send_group(core, "s", "w2")).message
    c = (await send_c2c(core, "s", "r1")).message
    for ids in ([a.id, b.id], [a.id, c.id]):
        await refused(Reason.MIXED_CONVERSATIONS, core.receipts.send_ids(APP, "r1", ids))
    assert await totals(core, a.id) == (0, 4)
    assert await totals(core, b.id) == (0, 4)


async def test_unknown_messages_are_refused(core: Core) -> None:
    """A receipt naming a message that is missing or of another app is UNKNOWN_MESSAGE."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    err = await refused(Reason.UNKNOWN_MESSAGE, core.receipts.send_ids(APP, "r1", [m.id, 424242]))
    assert "424242" in err.message
    await refused(Reason.UNKNOWN_MESSAGE, core.receipts.send_ids(APP_BASIC, "r1", [m.id]))
    await users(core, "x", "y", app=APP_BASIC)
    basic = (await send_c2c(core, "x", "y", app=APP_BASIC)).message
    await refused(Reason.UNKNOWN_MESSAGE, core.receipts.send_ids(APP, "y", [basic.id]))
    assert await totals(core, m.id) == (0, 4)


async def test_a_third_user_cannot_acknowledge_a_c2c_message(core: Core) -> None:
    """A receipt for a C2C message by someone outside the pair is NOT_ALLOWED."""
    await users(core, "a", "b", "eve")
    m = (await send_c2c(core, "a", "b")).message
    err = await refused(Reason.NOT_ALLOWED, core.receipts.send_ids(APP, "eve", [m.id]))
    assert "eve" in err.message
    await refused(Reason.NOT_ALLOWED, core.receipts.counts_ids(APP, "eve", [m.id]))


async def test_a_non_member_cannot_acknowledge_a_group_message(core: Core) -> None:
    """A receipt for a group message by a non-member is NOT_GROUP_MEMBER."""
    await work5(core)
    await users(core, "eve")
    m = (await send_group(core, "s", "w")).message
    await refused(Reason.NOT_GROUP_MEMBER, core.receipts.send_ids(APP, "eve", [m.id]))
    assert await totals(core, m.id) == (0, 4)


async def test_receipt_calls_in_an_app_without_flagship_are_refused(core: Core) -> None:
    """Sending, counting and listing receipts without Flagship fail with RECEIPT_NOT_FLAGSHIP."""
    await group(core, "b", "s", RECEIVERS, app=APP_BASIC)
    m = (await send_group(core, "s", "b", app=APP_BASIC)).message
    await refused(Reason.RECEIPT_NOT_FLAGSHIP, core.receipts.send_ids(APP_BASIC, "r1", [m.id]))
    await refused(Reason.RECEIPT_NOT_FLAGSHIP, core.receipts.counts_ids(APP_BASIC, "s", [m.id]))
    await refused(
        Reason.RECEIPT_NOT_FLAGSHIP,
        core.receipts.members(APP_BASIC, "s", m.id, ReadFilter.UNREAD, cursor=0, count=10),
    )


async def test_an_admin_may_acknowledge_for_a_member(core: Core) -> None:
    """An admin receipt on behalf of a receiver counts as that receiver's receipt (rule 17)."""
    await work5(core)
    m = (await send_group(core, "s", "w")).message
    (change,) = await core.receipts.send_ids(APP, "r2", [m.id], as_admin=True)
    assert change.newly_read
    assert await listing(core, m.id, ReadFilter.READ) == ["r2"]


# -- C2C receipts (rule 18) -----------------------------------------------------------------


async def test_a_c2c_receipt_marks_the_message_peer_read(
    core: Core, recorder: Recorder, clock: FakeClock
) -> None:
    """B's receipt for A's message makes it read 1 / unread 0 with B's receipt time, tells A once,
    and writes a C2CReceipts event."""
    await users(core, "A", "B")
    m = (await send_c2c(core, "A", "B")).message
    (before,) = await core.receipts.counts_ids(APP, "A", [m.id])
    assert (before.read, before.unread, before.peer_read_ms) == (0, 1, None)
    clock.advance(seconds=30)
    receipt_ms = core.clock.now_ms()
    last = await last_event_id(core)
    (change,) = await core.receipts.send_ids(APP, "B", [m.id], platform="Android")
    assert (change.newly_read, change.read, change.receivers, change.read_ms) == (
        True,
        1,
        1,
        receipt_ms,
    )
    (after,) = await core.receipts.counts_ids(APP, "A", [m.id])
    assert (after.read, after.unread, after.peer_read_ms) == (1, 0, receipt_ms)
    assert recorder.receipts == [(APP, "B", (ReceiptCount(m, 1, 0, receipt_ms),))]
    assert await events(core, last) == [
        C2CReceipts(
            reader="B",
            peer="A",
            time_ms=receipt_ms,
            items=(C2CReceiptItem(m.id, m.seq, m.random, m.time_ms),),
            platform="Android",
        )
    ]
    clock.advance(seconds=30)
    await core.receipts.send_ids(APP, "B", [m.id])
    assert len(recorder.receipts) == 1
    assert len(await events(core, last)) == 1  # the repeat wrote nothing
    (still,) = await core.receipts.counts_ids(APP, "A", [m.id])
    assert still.peer_read_ms == receipt_ms


async def test_the_c2c_sender_cannot_acknowledge_its_own_message(core: Core) -> None:
    """The sender of a C2C message sending a receipt for it gets RECEIPT_LIST_EMPTY."""
    await users(core, "A", "B")
    m = (await send_c2c(core, "A", "B")).message
    await refused(Reason.RECEIPT_LIST_EMPTY, core.receipts.send_ids(APP, "A", [m.id]))


# -- group receipt events (rule 12) ---------------------------------------------------------


async def test_a_group_receipt_writes_an_event_with_the_new_totals(
    core: Core, clock: FakeClock
) -> None:
    """A GroupReceipts event lists only newly read messages, each with its totals afterwards."""
    await work5(core)
    m1 = (await send_group(core, "s", "w")).message
    m2 = (await send_group(core, "s", "w")).message
    clock.advance(seconds=1)
    now = core.clock.now_ms()
    last = await last_event_id(core)
    await core.receipts.send_ids(APP, "r1", [m1.id, m2.id], platform="iOS")
    await core.receipts.send_ids(APP, "r2", [m1.id])
    await core.receipts.send_ids(APP, "r2", [m1.id, m2.id])  # m1 already read by r2
    stored = await core.store.events.after(last)
    assert [e.type for e in stored] == ["receipt.group"] * 3
    assert all(e.app == APP and e.time_ms == now for e in stored)
    assert await events(core, last) == [
        GroupReceipts(
            group_id="w",
            group_type="Work",
            reader="r1",
            time_ms=now,
            platform="iOS",
            items=(GroupReceiptItem(m1.id, m1.seq, 1, 3), GroupReceiptItem(m2.id, m2.seq, 1, 3)),
        ),
        GroupReceipts(
            group_id="w",
            group_type="Work",
            reader="r2",
            time_ms=now,
            items=(GroupReceiptItem(m1.id, m1.seq, 2, 2),),
        ),
        GroupReceipts(
            group_id="w",
            group_type="Work",
            reader="r2",
            time_ms=now,
            items=(GroupReceiptItem(m2.id, m2.seq, 2, 2),),
        ),
    ]

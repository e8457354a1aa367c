"""Conversation-level reads: read positions, unread counts, C2C peer-read time, and their
independence from per-message receipts (rules 10, 20, 21, 22 of the TIM reference)."""

from __future__ import annotations

import pytest

from server.core.clock import FakeClock
from server.core.errors import CoreError, Reason
from server.core.events import C2CRead, GroupRead
from server.core.service import Core
from tests.core.support import (
    APP,
    Recorder,
    events,
    group,
    last_event_id,
    send_c2c,
    send_group,
    users,
)

SECOND = 1000


async def test_mark_c2c_moves_the_read_position_and_never_back(
    core: Core, clock: FakeClock
) -> None:
    """A C2C read covers messages up to the time given and never moves the position back."""
    await users(core, "A", "B")
    t0 = core.clock.now_ms()
    sent = []
    for _ in range(3):
        sent.append((await send_c2c(core, "A", "B")).message)
        clock.advance(seconds=1)
    first = await core.reads.mark_c2c(APP, "B", "A", upto_ms=t0 + SECOND)
    assert (first.read_seq, first.read_ms) == (2, t0 + SECOND)
    assert first.newly_read == (sent[0].id, sent[1].id)
    assert await core.reads.c2c_unread(APP, "B") == {"A": 1}
    back = await core.reads.mark_c2c(APP, "B", "A", upto_ms=t0)
    assert (back.read_seq, back.read_ms, back.newly_read) == (2, t0 + SECOND, ())
    assert await core.reads.c2c_unread(APP, "B") == {"A": 1}
    everything = await core.reads.mark_c2c(APP, "B", "A")
    assert (everything.read_seq, everything.read_ms) == (3, core.clock.now_ms())
    assert everything.newly_read == (sent[2].id,)
    assert await core.reads.c2c_unread(APP, "B") == {}


async def test_a_read_time_in_the_future_is_clamped_to_now(core: Core) -> None:
    """A read time later than now is taken as now."""
    await users(core, "A", "B")
    await send_c2c(core, "A", "B")
    change = await core.reads.mark_c2c(APP, "B", "A", upto_ms=core.clock.now_ms() + 10 * SECOND)
    assert change.read_ms == core.clock.now_ms()
    assert await core.reads.peer_read_ms(APP, "A", "B") == core.clock.now_ms()


async def test_unread_counts_per_peer(core: Core) -> None:
    """A C2C unread count is the peer's messages after the user's read position, not its own."""
    await users(core, "A", "B", "C")
    for _ in range(3):
        await send_c2c(core, "A", "B")
    for _ in range(2):
        await send_c2c(core, "C", "B")
    await send_c2c(core, "B", "A")
    assert await core.reads.c2c_unread(APP, "B") == {"A": 3, "C": 2}
    assert await core.reads.c2c_unread(APP, "A") == {"B": 1}
    await core.reads.mark_c2c(APP, "B", "A")
    assert await core.reads.c2c_unread(APP, "B") == {"C": 2}
    assert await core.reads.c2c_unread(APP, "A") == {"B": 1}  # the peer's count is its own
    assert await core.reads.c2c_unread(APP, "C") == {}


async def test_a_c2c_read_event_carries_the_readers_unread_total(
    core: Core, recorder: Recorder, clock: FakeClock
) -> None:
    """The C2CRead event carries the reader's unread total over all its C2C conversations afterwards
    and the ids newly read, and the peer hears of the read time."""
    await users(core, "A", "B", "C")
    a_msgs = [(await send_c2c(core, "A", "B")).message for _ in range(3)]
    for _ in range(2):
        await send_c2c(core, "C", "B")
    clock.advance(seconds=1)
    last = await last_event_id(core)
    change = await core.reads.mark_c2c(APP, "B", "A", platform="Web")
    now = core.clock.now_ms()
    assert await events(core, last) == [
        C2CRead(
            reader="B",
            peer="A",
            read_ms=now,
            unread_total=2,
            newly_read=tuple(m.id for m in a_msgs),
            platform="Web",
        )
    ]
    assert change.unread_total == 2
    assert recorder.c2c_reads == [(APP, "B", "A", now)]
    assert recorder.receipts == []
    await core.reads.mark_c2c(APP, "B", "C")
    (event,) = await events(core, last + 1)
    assert isinstance(event, C2CRead)
    assert event.unread_total == 0


async def test_messages_up_to_the_peer_read_time_are_peer_read(
    core: Core, clock: FakeClock
) -> None:
    """In the sender's history a message is peer-read exactly when its time is at or before the
    peer's read time."""
    await users(core, "A", "B")
    assert await core.reads.peer_read_ms(APP, "A", "B") == 0
    t0 = core.clock.now_ms()
    m1 = (await send_c2c(core, "A", "B", need_receipt=False)).message
    clock.advance(seconds=1)
    m2 = (await send_c2c(core, "A", "B", need_receipt=False)).message
    clock.advance(seconds=1)
    reply = (await send_c2c(core, "B", "A", need_receipt=False)).message

    async def peer_read(viewer: str, peer: str) -> dict[int, bool]:
        history = await core.messages.c2c_history(APP, viewer, peer, count=10)
        return {item.message.id: item.peer_read for item in history}

    assert await peer_read("A", "B") == {m1.id: False, m2.id: False, reply.id: False}
    await core.reads.mark_c2c(APP, "B", "A", upto_ms=t0 + SECOND // 2)
    assert await core.reads.peer_read_ms(APP, "A", "B") == t0 + SECOND // 2
    assert await peer_read("A", "B") == {m1.id: True, m2.id: False, reply.id: False}
    await core.reads.mark_c2c(APP, "B", "A", upto_ms=t0 + SECOND)  # exactly m2's time
    assert await peer_read("A", "B") == {m1.id: True, m2.id: True, reply.id: False}
    # B's view: peer_read only ever describes the viewer's own messages
    assert await peer_read("B", "A") == {m1.id: False, m2.id: False, reply.id: False}
    await core.reads.mark_c2c(APP, "A", "B")
    assert (await peer_read("B", "A"))[reply.id] is True


async def test_history_shows_what_the_viewer_has_read(core: Core, clock: FakeClock) -> None:
    """read_by_me is set for the viewer's own messages and those covered by its read position."""
    await users(core, "A", "B")
    m1 = (await send_c2c(core, "A", "B")).message
    clock.advance(seconds=1)
    await core.reads.mark_c2c(APP, "B", "A")
    m2 = (await send_c2c(core, "A", "B")).message
    own = (await send_c2c(core, "B", "A")).message
    history = await core.messages.c2c_history(APP, "B", "A", count=10)
    assert {i.message.id: i.read_by_me for i in history} == {
        m1.id: True,
        m2.id: False,
        own.id: True,
    }


async def test_mark_group_only_changes_the_readers_unread_count(
    core: Core, recorder: Recorder
) -> None:
    """Marking a group read clears only the reader's unread count: no receipts, no notification."""
    await group(core, "w", "s", ["r1", "r2"])
    msgs = [(await send_group(core, "s", "w")).message for _ in range(3)]
    assert await core.reads.group_unread(APP, "r1", "w") == 3
    last, wakeups = await last_event_id(core), recorder.wakeups
    change = await core.reads.mark_group(APP, "r1", "w", upto_seq=2)
    assert (change.read_seq, change.newly_read) == (2, (msgs[0].id, msgs[1].id))
    assert await core.reads.group_unread(APP, "r1", "w") == 1
    await core.reads.mark_group(APP, "r1", "w")
    assert await core.reads.group_unread(APP, "r1", "w") == 0
    assert await core.reads.group_unread(APP, "r2", "w") == 3
    assert await core.reads.group_unread(APP, "s", "w") == 0  # own messages never count
    counts = await core.receipts.counts_ids(APP, "s", [m.id for m in msgs])
    assert [(c.read, c.unread) for c in counts] == [(0, 2)] * 3
    assert recorder.receipts == [] and recorder.c2c_reads == []
    assert recorder.wakeups == wakeups + 2
    assert await events(core, last) == [
        GroupRead(reader="r1", group_id="w", read_seq=2),
        GroupRead(reader="r1", group_id="w", read_seq=3),
    ]


async def test_mark_group_never_moves_back_and_caps_at_the_newest(core: Core) -> None:
    """A group read position below the current one, or past the newest seq, is clamped."""
    await group(core, "w", "s", ["r1"])
    for _ in range(3):
        await send_group(core, "s", "w")
    assert (await core.reads.mark_group(APP, "r1", "w", upto_seq=99)).read_seq == 3
    assert (await core.reads.mark_group(APP, "r1", "w", upto_seq=1)).read_seq == 3


async def test_mark_group_needs_membership(core: Core) -> None:
    """Marking a group read fails with NOT_GROUP_MEMBER for outsiders and UNKNOWN_GROUP if none."""
    await group(core, "w", "s", ["r1"])
    await users(core, "eve")
    with pytest.raises(CoreError) as err:
        await core.reads.mark_group(APP, "eve", "w")
    assert err.value.reason is Reason.NOT_GROUP_MEMBER
    with pytest.raises(CoreError) as err:
        await core.reads.mark_group(APP, "r1", "nope")
    assert err.value.reason is Reason.UNKNOWN_GROUP


async def test_sending_receipts_leaves_the_unread_count_alone(core: Core) -> None:
    """A receiver's receipts change neither its group nor its C2C unread count (rule 10)."""
    await group(core, "w", "s", ["r1", "r2"])
    g = [(await send_group(core, "s", "w")).message for _ in range(2)]
    c = [(await send_c2c(core, "s", "r1")).message for _ in range(2)]
    await core.receipts.send_ids(APP, "r1", [m.id for m in g])
    await core.receipts.send_ids(APP, "r1", [m.id for m in c])
    assert await core.reads.group_unread(APP, "r1", "w") == 2
    assert await core.reads.c2c_unread(APP, "r1") == {"s": 2}
    assert await core.reads.peer_read_ms(APP, "s", "r1") == 0  # receipts are not conversation reads


async def test_a_member_who_joins_later_starts_with_no_unread(core: Core) -> None:
    """A member's unread count starts at 0 when it joins after messages were sent."""
    await group(core, "w", "s", ["r1"])
    for _ in range(4):
        await send_group(core, "s", "w")
    await users(core, "late")
    await core.groups.add_members(APP, "w", ["late"])
    assert await core.reads.group_unread(APP, "late", "w") == 0
    await send_group(core, "s", "w")
    assert await core.reads.group_unread(APP, "late", "w") == 1
    assert await core.reads.group_unread(APP, "r1", "w") == 5


async def test_a_member_who_rejoins_starts_again_from_the_newest(core: Core) -> None:
    """A member who left and joins again does not see messages from its absence as unread."""
    await group(core, "w", "s", ["r1"])
    await send_group(core, "s", "w")
    await core.groups.remove_members(APP, "w", ["r1"])
    for _ in range(3):
        await send_group(core, "s", "w")
    await core.groups.add_members(APP, "w", ["r1"])
    assert await core.reads.group_unread(APP, "r1", "w") == 0


async def test_bad_c2c_reads_are_refused(core: Core) -> None:
    """Marking a conversation with oneself is INVALID, with an unknown account UNKNOWN_ACCOUNT."""
    await users(core, "A")
    with pytest.raises(CoreError) as err:
        await core.reads.mark_c2c(APP, "A", "A")
    assert err.value.reason is Reason.INVALID
    with pytest.raises(CoreError) as err:
        await core.reads.mark_c2c(APP, "A", "ghost")
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT


async def test_the_kept_c2c_unread_total_follows_sends_reads_and_recalls(
    core: Core, clock: FakeClock
) -> None:
    """The C2C unread total kept per user (what sends and reads report) always equals the
    count of the peers' live messages after the user's read positions, through sends, partial
    and full reads, and recalls of read and unread messages."""
    await users(core, "A", "B", "C")
    store = core.store.reads

    async def check() -> None:
        for user in ("A", "B", "C"):
            counted = sum((await core.reads.c2c_unread(APP, user)).values())
            assert await store.c2c_unread_total(APP, user) == counted, user

    sent = []
    for sender, receiver in [("A", "B"), ("C", "B"), ("A", "B"), ("B", "A"), ("A", "B")]:
        sent.append((await send_c2c(core, sender, receiver)).message)
        clock.advance(seconds=1)
        await check()
    assert await store.c2c_unread_total(APP, "B") == 4
    change = await core.reads.mark_c2c(APP, "B", "A", upto_ms=sent[0].time_ms)
    assert change.unread_total == 3
    await check()
    await core.messages.recall(APP, "A", sent[0].id)  # already read: the count stays
    await check()
    await core.messages.recall(APP, "A", sent[2].id)  # unread: one fewer
    assert await store.c2c_unread_total(APP, "B") == 2
    await check()
    await core.messages.recall(APP, "B", sent[3].id)
    assert await store.c2c_unread_total(APP, "A") == 0
    everything = await core.reads.mark_c2c(APP, "B", "A")
    assert everything.unread_total == 1  # C's message is still unread
    await check()

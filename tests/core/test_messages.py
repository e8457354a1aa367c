"""Sending messages and reading history."""

from __future__ import annotations

import asyncio

import pytest

from server.core.errors import CoreError, Reason
from server.core.events import MessageSent
from server.core.messages import MAX_BODY_BYTES
from server.core.model import ConvKind, Element
from server.core.service import Core
from tests.core.support import APP, Recorder, events, group, send_c2c, send_group, text, users


async def test_seq_is_strictly_increasing_per_conversation(core: Core) -> None:
    """Each conversation numbers its own messages 1, 2, 3 whatever other conversations do."""
    await users(core, "alice", "bob", "carol")
    await group(core, "g1", "alice", ["bob"])
    seqs: dict[str, list[int]] = {"ab": [], "ba": [], "ac": [], "g1": []}
    for _ in range(3):
        seqs["ab"].append((await send_c2c(core, "alice", "bob")).message.seq)
        seqs["ba"].append((await send_c2c(core, "bob", "alice")).message.seq)
        seqs["ac"].append((await send_c2c(core, "alice", "carol")).message.seq)
        seqs["g1"].append((await send_group(core, "bob", "g1")).message.seq)
    assert seqs["ab"] == [1, 3, 5] and seqs["ba"] == [2, 4, 6]  # one C2C conversation per pair
    assert seqs["ac"] == [1, 2, 3]
    assert seqs["g1"] == [1, 2, 3]


async def test_concurrent_sends_get_distinct_increasing_seqs(core: Core) -> None:
    """Messages sent concurrently into one group get the seqs 1..n with no gap or repeat."""
    await group(core, "g1", "alice", ["bob"])
    sent = await asyncio.gather(*(send_group(core, "alice", "g1") for _ in range(50)))
    assert sorted(s.message.seq for s in sent) == list(range(1, 51))


async def test_sending_returns_the_message_and_notifies(core: Core, recorder: Recorder) -> None:
    """A sent message is stored, announced with its recipients, and written as an event."""
    await group(core, "g1", "alice", ["bob", "carol"])
    sent = await core.messages.send_group(APP, "alice", "g1", text("hello"), random=42)
    assert set(sent.recipients) == {"alice", "bob", "carol"}
    m = sent.message
    assert (m.kind, m.group_id, m.sender, m.random, m.time_ms) == (
        ConvKind.GROUP,
        "g1",
        "alice",
        42,
        core.clock.now_ms(),
    )
    assert await core.messages.get(APP, m.id) == m
    assert recorder.sent == [(m, sent.recipients)]
    (event,) = await events(core)
    assert isinstance(event, MessageSent)
    assert (event.msg_id, event.seq, event.group_type, event.body) == (m.id, 1, "Work", m.body)
    c2c = await send_c2c(core, "bob", "carol", need_receipt=False)
    assert c2c.recipients == ("carol",)
    assert c2c.message.receiver == "carol"


async def test_history_is_newest_first_and_pages_with_before_seq(core: Core) -> None:
    """History returns the newest messages first and before_seq pages back to the oldest."""
    await users(core, "alice", "bob")
    for i in range(7):
        await core.messages.send_c2c(
            APP, "alice" if i % 2 else "bob", "bob" if i % 2 else "alice", text(f"m{i}")
        )
    pages: list[list[int]] = []
    before = None
    while True:
        page = await core.messages.c2c_history(APP, "alice", "bob", count=3, before_seq=before)
        if not page:
            break
        pages.append([item.message.seq for item in page])
        before = page[-1].message.seq
    assert pages == [[7, 6, 5], [4, 3, 2], [1]]
    bodies = [
        i.message.body[0].text
        for i in await core.messages.c2c_history(APP, "bob", "alice", count=100)
    ]
    assert bodies == [f"m{i}" for i in reversed(range(7))]


async def test_group_history_pages_too(core: Core) -> None:
    """Group history is newest first and pages with before_seq."""
    await group(core, "g1", "alice", ["bob"])
    for _ in range(5):
        await send_group(core, "alice", "g1", need_receipt=False)
    first = await core.messages.group_history(APP, "bob", "g1", count=2)
    rest = await core.messages.group_history(
        APP, "bob", "g1", count=10, before_seq=first[-1].message.seq
    )
    assert [i.message.seq for i in first + rest] == [5, 4, 3, 2, 1]


async def test_history_of_strangers_is_empty_and_of_unknown_accounts_refused(core: Core) -> None:
    """History is empty between strangers and refused (UNKNOWN_ACCOUNT) for unknown accounts."""
    await users(core, "alice", "bob")
    assert await core.messages.c2c_history(APP, "alice", "bob", count=10) == []
    with pytest.raises(CoreError) as err:
        await core.messages.c2c_history(APP, "alice", "ghost", count=10)
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT


async def test_group_history_needs_membership(core: Core) -> None:
    """Only members (or an admin) may read a group's history."""
    await group(core, "g1", "alice", ["bob"])
    await users(core, "eve")
    await send_group(core, "alice", "g1")
    with pytest.raises(CoreError) as err:
        await core.messages.group_history(APP, "eve", "g1", count=10)
    assert err.value.reason is Reason.NOT_GROUP_MEMBER
    assert len(await core.messages.group_history(APP, "eve", "g1", count=10, as_admin=True)) == 1


@pytest.mark.parametrize(
    "body",
    [(), (Element("text", text="x" * MAX_BODY_BYTES),)],
    ids=["empty", "oversize"],
)
async def test_bad_bodies_are_refused(
    core: Core, recorder: Recorder, body: tuple[Element, ...]
) -> None:
    """An empty or over-12-KB body is refused with INVALID in C2C and groups, storing nothing."""
    await group(core, "g1", "alice", ["bob"])
    with pytest.raises(CoreError) as err:
        await core.messages.send_c2c(APP, "alice", "bob", body)
    assert err.value.reason is Reason.INVALID
    with pytest.raises(CoreError) as err:
        await core.messages.send_group(APP, "alice", "g1", body)
    assert err.value.reason is Reason.INVALID
    assert recorder.sent == []
    assert await events(core) == []


async def test_the_size_limit_is_inclusive(core: Core) -> None:
    """A body whose encoding is exactly 12 KB is accepted and one byte more is refused."""
    await users(core, "alice", "bob")
    fill = MAX_BODY_BYTES - len(b'[{"kind":"text","text":""}]')
    sent = await core.messages.send_c2c(APP, "alice", "bob", (Element("text", text="x" * fill),))
    assert sent.message.seq == 1
    with pytest.raises(CoreError) as err:
        await core.messages.send_c2c(APP, "alice", "bob", (Element("text", text="x" * (fill + 1)),))
    assert err.value.reason is Reason.INVALID


async def test_a_message_to_oneself_is_refused(core: Core) -> None:
    """A one-to-one message from an account to itself is refused with INVALID."""
    await users(core, "alice")
    with pytest.raises(CoreError) as err:
        await send_c2c(core, "alice", "alice")
    assert err.value.reason is Reason.INVALID


async def test_unknown_accounts_cannot_send_or_receive(core: Core) -> None:
    """A C2C message from or to an account that does not exist is refused with UNKNOWN_ACCOUNT."""
    await users(core, "alice")
    for sender, receiver in (("ghost", "alice"), ("alice", "ghost")):
        with pytest.raises(CoreError) as err:
            await send_c2c(core, sender, receiver)
        assert err.value.reason is Reason.UNKNOWN_ACCOUNT
        assert "ghost" in err.value.message


async def test_a_non_member_cannot_send_to_a_group(core: Core, recorder: Recorder) -> None:
    """A group message from a non-member is refused with NOT_GROUP_MEMBER and uses no seq."""
    await group(core, "g1", "alice", ["bob"])
    await users(core, "eve", "ghost")
    for outsider in ("eve", "ghost"):
        with pytest.raises(CoreError) as err:
            await send_group(core, outsider, "g1")
        assert err.value.reason is Reason.NOT_GROUP_MEMBER
    assert recorder.sent == []
    assert (await send_group(core, "bob", "g1")).message.seq == 1


async def test_an_admin_may_send_without_being_a_member(core: Core) -> None:
    """The app admin sends to a group it is not in, and every member is a receiver."""
    await group(core, "g1", "alice", ["bob"])
    sent = await send_group(core, "administrator", "g1")
    assert sent.message.sender == "administrator"
    assert sent.message.receivers == 2
    assert set(sent.recipients) == {"alice", "bob"}


async def test_sending_to_an_unknown_group_is_refused(core: Core) -> None:
    """A message to a group that does not exist (or was destroyed) fails with UNKNOWN_GROUP."""
    await group(core, "g1", "alice", ["bob"])
    await core.groups.destroy(APP, "g1")
    for group_id in ("nope", "g1"):
        with pytest.raises(CoreError) as err:
            await send_group(core, "alice", group_id)
        assert err.value.reason is Reason.UNKNOWN_GROUP


async def test_a_message_of_another_app_is_foreign(core: Core) -> None:
    """get() of a message id that belongs to another app fails with OTHER_APP (dialects tell
    another tenant's message from a missing one), of no message with UNKNOWN_MESSAGE."""
    await users(core, "alice", "bob")
    sent = await send_c2c(core, "alice", "bob")
    with pytest.raises(CoreError) as err:
        await core.messages.get(APP + 1, sent.message.id)
    assert err.value.reason is Reason.OTHER_APP
    with pytest.raises(CoreError) as err:
        await core.messages.get(APP, sent.message.id + 1000)
    assert err.value.reason is Reason.UNKNOWN_MESSAGE

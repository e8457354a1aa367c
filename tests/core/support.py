"""Helpers shared by the core tests: app ids, a recording listener, short builders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from server.core.directory import NewAccount
from server.core.events import Event, decode_event
from server.core.model import Element, GroupType, Message, ReceiptCount
from server.core.service import Core
from server.store.messages import Sent

APP = 1400000000  # flagship
APP_BASIC = 1400000001  # not flagship


def text(value: str = "hi") -> tuple[Element, ...]:
    return (Element("text", text=value),)


@dataclass
class Recorder:
    """A :class:`server.core.listeners.Listener` that remembers every call."""

    sent: list[tuple[Message, tuple[str, ...]]] = field(default_factory=list)
    receipts: list[tuple[int, str, tuple[ReceiptCount, ...]]] = field(default_factory=list)
    c2c_reads: list[tuple[int, str, str, int]] = field(default_factory=list)
    wakeups: int = 0

    def message_sent(self, message: Message, recipients: Sequence[str]) -> None:
        self.sent.append((message, tuple(recipients)))

    def receipts_changed(self, app: int, reader: str, counts: Sequence[ReceiptCount]) -> None:
        self.receipts.append((app, reader, tuple(counts)))

    def c2c_read(self, app: int, reader: str, peer: str, read_ms: int) -> None:
        self.c2c_reads.append((app, reader, peer, read_ms))

    def events_appended(self, app: int) -> None:
        self.wakeups += 1


async def users(core: Core, *user_ids: str, app: int = APP) -> None:
    await core.directory.import_accounts(app, [NewAccount(u) for u in user_ids])


async def group(
    core: Core,
    group_id: str,
    owner: str,
    members: Sequence[str],
    *,
    group_type: GroupType = GroupType.WORK,
    app: int = APP,
) -> None:
    """Import the accounts, then create the group with ``owner`` and ``members``."""
    await users(core, owner, *members, app=app)
    await core.groups.create(
        app, group_id=group_id, group_type=group_type, name=group_id, owner=owner, members=members
    )


async def send_group(
    core: Core,
    sender: str,
    group_id: str,
    *,
    need_receipt: bool = True,
    online_only: bool = False,
    app: int = APP,
) -> Sent:
    """A one-line text message to a group; asks for receipts unless told not to."""
    return await core.messages.send_group(
        app, sender, group_id, text(), need_receipt=need_receipt, online_only=online_only
    )


async def send_c2c(
    core: Core,
    sender: str,
    receiver: str,
    *,
    need_receipt: bool = True,
    online_only: bool = False,
    app: int = APP,
) -> Sent:
    """A one-line text message to one user; asks for receipts unless told not to."""
    return await core.messages.send_c2c(
        app, sender, receiver, text(), need_receipt=need_receipt, online_only=online_only
    )


async def events(core: Core, after: int = 0) -> list[Event]:
    """Every event in the outbox after id ``after``, decoded."""
    return [decode_event(e.body) for e in await core.store.events.after(after, limit=10_000)]


async def last_event_id(core: Core) -> int:
    rows = await core.store.events.after(0, limit=1_000_000)
    return rows[-1].id if rows else 0

"""Per-message read receipts: sending them, counting them, listing who has (not) read.

Rules (each one is stated, with its source and its test, in docs/semantics.md):
- only messages sent with need-receipt *and* allowed to keep receipt state have any;
- the receivers are the snapshot taken at send time; the sender is never one of them;
- a receipt is idempotent; read + unread == receivers, always;
- one call covers one conversation; an empty list, or nothing left once the caller's own
  messages and messages without receipt state are dropped, is refused.

Each command a client can send is one call here, whichever way the client names its messages
(by the server's number, by group sequence numbers, by what it knows of a one-to-one message):
the call finds the messages and checks the caller once, then records, counts or pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.events import C2CReceiptItem, C2CReceipts, Event, GroupReceiptItem, GroupReceipts
from server.core.groups import Groups
from server.core.model import (
    ConvKind,
    Group,
    MemberPage,
    Message,
    MessageRef,
    ReadFilter,
    ReceiptCount,
)
from server.core.policy import AppPolicy
from server.store.receipts import ReceiptChange

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class SeqReceipt:
    """One row of a group receipt lookup by sequence number: counts, or why there are none."""

    seq: int
    count: ReceiptCount | None
    reason: Reason | None


@dataclass(frozen=True, slots=True)
class _Found:
    """Messages of one conversation, found and checked, with the live group if it is one."""

    messages: list[Message]
    group: Group | None


def _build_events(
    reader: str,
    by_id: dict[int, Message],
    group: Group | None,
    now: int,
    platform: str,
    changes: Sequence[ReceiptChange],
) -> list[Event]:
    """The outbox event of a receipt call: only messages this call read for the first time."""
    fresh = [c for c in changes if c.newly_read]
    if not fresh:
        return []
    if group is not None:
        return [
            GroupReceipts(
                group_id=group.group_id,
                group_type=group.type.value,
                reader=reader,
                time_ms=now,
                items=tuple(
                    GroupReceiptItem(c.msg_id, by_id[c.msg_id].seq, c.read, c.receivers - c.read)
                    for c in fresh
                ),
                platform=platform,
            )
        ]
    first = by_id[fresh[0].msg_id]
    return [
        C2CReceipts(
            reader=reader,
            peer=first.sender,
            time_ms=now,
            items=tuple(
                C2CReceiptItem(
                    c.msg_id,
                    by_id[c.msg_id].shown_seq,
                    by_id[c.msg_id].random,
                    by_id[c.msg_id].time_ms,
                    c.first_read,
                )
                for c in fresh
            ),
            platform=platform,
        )
    ]


class Receipts:
    """Receipt calls, each one lookup and one check of the caller before it acts."""

    def __init__(self, deps: Deps, groups: Groups) -> None:
        self.d = deps
        self.groups = groups

    # -- sending receipts -------------------------------------------------------------------

    async def send_ids(
        self,
        app: int,
        reader: str,
        refs: Sequence[int | MessageRef],
        *,
        platform: str = "RESTAPI",
        as_admin: bool = False,
    ) -> list[ReceiptChange]:
        """``reader`` has read these messages, named by the server's number (all of one
        conversation). The reader's own messages and messages without receipt state are
        dropped; what is left is recorded idempotently and each sender hears the new totals.

        Raises CoreError: RECEIPT_LIST_EMPTY, UNKNOWN_MESSAGE, MIXED_CONVERSATIONS, NOT_ALLOWED,
        UNKNOWN_GROUP, NOT_GROUP_MEMBER, RECEIPT_NOT_FLAGSHIP."""
        found = await self._by_ids(app, reader, refs, as_admin=as_admin)
        return await self._record(app, reader, found, platform)

    async def send_group_seqs(
        self,
        app: int,
        reader: str,
        group_id: str,
        seqs: Sequence[int],
        *,
        platform: str = "RESTAPI",
    ) -> list[ReceiptChange]:
        """``reader``, a member, has read these messages of a group, named by sequence number.

        Raises CoreError: RECEIPT_NOT_FLAGSHIP, UNKNOWN_GROUP, GROUP_TYPE_UNSUPPORTED,
        NOT_GROUP_MEMBER (UNKNOWN_ACCOUNT if the reader does not exist), RECEIPT_NOT_FOUND (a
        seq with no message), RECEIPT_LIST_EMPTY."""
        group = await self._receipt_group(app, group_id)
        await self._require_member(app, group, reader)
        found = await self.d.store.messages.by_seq(group.conv_id, seqs)
        for seq in seqs:
            if seq not in found:
                raise CoreError(
                    Reason.RECEIPT_NOT_FOUND, f"group {group_id!r} has no message {seq}"
                )
        messages = list({found[s].id: found[s] for s in seqs}.values())
        return await self._record(app, reader, _Found(messages, group), platform)

    async def send_c2c(
        self,
        app: int,
        reader: str,
        peer: str,
        refs: Sequence[MessageRef],
        *,
        platform: str = "RESTAPI",
    ) -> list[ReceiptChange]:
        """``reader`` has read these messages of its one-to-one conversation with ``peer``,
        each named by its random and whatever else the client knows of it (all must match).

        Raises CoreError: RECEIPT_NOT_FLAGSHIP, UNKNOWN_ACCOUNT, UNKNOWN_MESSAGE,
        RECEIPT_LIST_EMPTY."""
        self._require_flagship(app)
        if not refs:
            raise CoreError(Reason.RECEIPT_LIST_EMPTY, "the message list is empty")
        conv = await self.d.store.groups.find_c2c(app, reader, peer)
        candidates: list[Message] = []
        if conv is None:
            await self._require_accounts(app, [reader, peer])
        else:
            randoms = [r.random for r in refs if r.random is not None]
            candidates = await self.d.store.messages.by_random(conv.id, randoms)
        messages: dict[int, Message] = {}
        for ref in refs:
            match = next((m for m in candidates if ref.matches(m)), None)
            if match is None or ref.random is None:
                raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {ref.name()} does not exist")
            messages[match.id] = match
        return await self._record(app, reader, _Found(list(messages.values()), None), platform)

    async def _record(
        self, app: int, reader: str, found: _Found, platform: str
    ) -> list[ReceiptChange]:
        wanted = [m for m in found.messages if m.sender != reader and m.has_receipts]
        if not wanted:
            raise CoreError(
                Reason.RECEIPT_LIST_EMPTY,
                "no message left to acknowledge: own messages and messages sent without "
                "a read receipt (or where receipts are off) are skipped",
            )
        by_id = {m.id: m for m in wanted}
        now = self.d.clock.now_ms()
        group = found.group if wanted[0].kind is ConvKind.GROUP else None

        def build(changes: Sequence[ReceiptChange]) -> list[Event]:
            return _build_events(reader, by_id, group, now, platform, changes)

        changes = await self.d.store.receipts.mark_read(
            app,
            reader,
            list(by_id),
            now,
            build_events=build,
            track_first=group is None,
        )
        fresh = [
            ReceiptCount(by_id[c.msg_id], c.read, c.receivers - c.read, c.read_ms)
            for c in changes
            if c.newly_read
        ]
        if fresh:
            self.d.listeners.receipts_changed(app, reader, fresh)
            self.d.listeners.events_appended(app)
        return changes

    # -- counting ---------------------------------------------------------------------------

    async def counts_ids(
        self,
        app: int,
        user: str,
        refs: Sequence[int | MessageRef],
        *,
        as_admin: bool = False,
    ) -> list[ReceiptCount]:
        """Latest totals of the caller's own messages that keep receipt state (others are
        left out, as the SDK leaves them out). Raises like :meth:`send_ids`, but an empty
        result is not an error."""
        found = await self._by_ids(app, user, refs, as_admin=as_admin)
        mine = [m for m in found.messages if (as_admin or m.sender == user) and m.has_receipts]
        return await self._counts(mine)

    async def group_counts(
        self, app: int, group_id: str, seqs: Sequence[int], *, viewer: str | None = None
    ) -> list[SeqReceipt]:
        """Totals by sequence number, one row per seq: RECEIPT_NOT_FOUND where a message is
        unknown or keeps no receipt state, NOT_ALLOWED where it is not ``viewer``'s own (no
        ``viewer``: an admin asking about any message).

        Raises CoreError: RECEIPT_NOT_FLAGSHIP, UNKNOWN_GROUP, GROUP_TYPE_UNSUPPORTED,
        NOT_GROUP_MEMBER (the viewer)."""
        group = await self._receipt_group(app, group_id)
        if viewer is not None:
            await self._require_member(app, group, viewer)
        found = await self.d.store.messages.by_seq(group.conv_id, seqs)
        with_state = [m for m in found.values() if m.has_receipts and viewer in (None, m.sender)]
        counts = {c.message.seq: c for c in await self._counts(with_state)}
        rows = []
        for s in seqs:
            if s in counts:
                rows.append(SeqReceipt(s, counts[s], None))
            elif s in found and found[s].has_receipts:
                rows.append(SeqReceipt(s, None, Reason.NOT_ALLOWED))
            else:
                rows.append(SeqReceipt(s, None, Reason.RECEIPT_NOT_FOUND))
        return rows

    async def _counts(self, messages: Sequence[Message]) -> list[ReceiptCount]:
        counts = await self.d.store.receipts.counts([m.id for m in messages])
        out = []
        for m in messages:
            read, receivers = counts[m.id]
            peer_ms = None
            if m.kind is ConvKind.C2C and read:
                assert m.receiver is not None
                _, peer_ms = await self.d.store.receipts.read_at(m.id, m.receiver)
            out.append(ReceiptCount(m, read, receivers - read, peer_ms))
        return out

    # -- who has (not) read -----------------------------------------------------------------

    async def members(
        self,
        app: int,
        user: str,
        ref: int | MessageRef,
        which: ReadFilter,
        *,
        cursor: int,
        count: int,
        as_admin: bool = False,
    ) -> MemberPage:
        """One page of the receivers of a group message (named by the server's number) that
        have (not) read it, in snapshot order after ``cursor`` (0 first). Only the sender (or
        an admin) may ask. Raises CoreError: RECEIPT_NOT_FLAGSHIP, UNKNOWN_MESSAGE, INVALID,
        NOT_ALLOWED, RECEIPT_NOT_FOUND."""
        if isinstance(ref, int):
            ref = MessageRef(id=ref)
        assert ref.id is not None
        message = await self.d.store.messages.get(ref.id)
        if message is None or message.app != app or not ref.matches(message):
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {ref.name()} does not exist")
        if message.kind is not ConvKind.GROUP:
            raise CoreError(Reason.INVALID, f"message {ref.name()} is not a group message")
        self._require_flagship(app)
        return await self._page(message, user, which, cursor, count, as_admin=as_admin)

    async def group_members(
        self,
        app: int,
        group_id: str,
        seq: int,
        which: ReadFilter,
        *,
        cursor: int,
        count: int,
        viewer: str | None = None,
    ) -> MemberPage:
        """:meth:`members` of the group message numbered ``seq``, asked by its sender
        ``viewer`` (or, without one, an admin). Raises CoreError: RECEIPT_NOT_FLAGSHIP,
        UNKNOWN_GROUP, GROUP_TYPE_UNSUPPORTED, RECEIPT_NOT_FOUND, NOT_ALLOWED, INVALID."""
        group = await self._receipt_group(app, group_id)
        found = await self.d.store.messages.by_seq(group.conv_id, [seq])
        if seq not in found:
            raise CoreError(Reason.RECEIPT_NOT_FOUND, f"group {group_id!r} has no message {seq}")
        user = viewer if viewer is not None else ""
        return await self._page(found[seq], user, which, cursor, count, as_admin=viewer is None)

    async def _page(
        self,
        message: Message,
        user: str,
        which: ReadFilter,
        cursor: int,
        count: int,
        *,
        as_admin: bool,
    ) -> MemberPage:
        if not as_admin and message.sender != user:
            raise CoreError(
                Reason.NOT_ALLOWED,
                f"only the sender of message {message.id} may list its readers",
            )
        if not message.has_receipts:
            raise CoreError(
                Reason.RECEIPT_NOT_FOUND, f"message {message.id} keeps no read receipts"
            )
        if cursor < 0:
            raise CoreError(Reason.INVALID, f"cursor {cursor} is negative")
        return await self.d.store.receipts.page(
            message.id, which, cursor, max(1, min(count, MAX_PAGE))
        )

    # -- finding and checking, once ---------------------------------------------------------

    async def _by_ids(
        self, app: int, user: str, refs: Sequence[int | MessageRef], *, as_admin: bool
    ) -> _Found:
        """The messages named (deduplicated), all of one conversation that ``user`` is in, of
        an app with receipts.

        A group message's group must still be the live group of that id: a destroyed group's
        messages take no receipts, even after its id was reused (UNKNOWN_GROUP)."""
        if not refs:
            raise CoreError(Reason.RECEIPT_LIST_EMPTY, "the message list is empty")
        wanted = [r if isinstance(r, MessageRef) else MessageRef(id=r) for r in refs]
        ids = [r.id for r in wanted if r.id is not None]
        loaded = await self.d.store.messages.get_many(ids)
        messages: dict[int, Message] = {}
        for ref in wanted:
            message = loaded.get(ref.id) if ref.id is not None else None
            if message is None or message.app != app or not ref.matches(message):
                raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {ref.name()} does not exist")
            messages[message.id] = message
        found = list(messages.values())
        if len({m.conv_id for m in found}) > 1:
            raise CoreError(
                Reason.MIXED_CONVERSATIONS, "all messages of one call must be in one conversation"
            )
        self._require_flagship(app)
        first = found[0]
        if first.kind is ConvKind.C2C:
            if not as_admin and user not in (first.sender, first.receiver):
                raise CoreError(
                    Reason.NOT_ALLOWED,
                    f"message {first.id} belongs to a conversation of "
                    f"{first.sender!r} and {first.receiver!r}, not of {user!r}",
                )
            return _Found(found, None)
        assert first.group_id is not None
        group = await self.groups.get(app, first.group_id)
        if group.conv_id != first.conv_id:
            raise CoreError(
                Reason.UNKNOWN_GROUP,
                f"group {first.group_id!r} of message {first.id} was destroyed",
            )
        if not as_admin:
            await self.groups.require_member(group, user)
        return _Found(found, group)

    async def _receipt_group(self, app: int, group_id: str) -> Group:
        """The live group, if its type keeps receipts in this app."""
        policy = self._require_flagship(app)
        group = await self.groups.get(app, group_id)
        if not policy.group_receipts_enabled(group.type):
            raise CoreError(
                Reason.GROUP_TYPE_UNSUPPORTED,
                f"read receipts are not enabled for {group.type.value} groups",
            )
        return group

    async def _require_member(self, app: int, group: Group, user: str) -> None:
        """NOT_GROUP_MEMBER, or UNKNOWN_ACCOUNT when there is no such account at all (looked
        up only on the way to a refusal)."""
        try:
            await self.groups.require_member(group, user)
        except CoreError:
            await self._require_accounts(app, [user])
            raise

    async def _require_accounts(self, app: int, user_ids: Sequence[str]) -> None:
        found = await self.d.store.accounts.existing(app, user_ids)
        for user_id in user_ids:
            if user_id not in found:
                raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user_id!r} does not exist")

    def _require_flagship(self, app: int) -> AppPolicy:
        policy = self.d.policy(app)
        if not policy.flagship:
            raise CoreError(Reason.RECEIPT_NOT_FLAGSHIP, "read receipts need the Flagship edition")
        return policy


def group_by_sender(counts: Sequence[ReceiptCount]) -> dict[str, list[ReceiptCount]]:
    """Receipt updates grouped by the sender who should hear about them."""
    out: dict[str, list[ReceiptCount]] = defaultdict(list)
    for c in counts:
        out[c.message.sender].append(c)
    return out

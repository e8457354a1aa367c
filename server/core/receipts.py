"""Per-message read receipts: sending them, counting them, listing who has (not) read.

Rules (each one is stated, with its source and its test, in docs/semantics.md):
- only messages sent with need-receipt *and* allowed to keep receipt state have any;
- the receivers are the snapshot taken at send time; the sender is never one of them;
- a receipt is idempotent; read + unread == receivers, always;
- one call covers one conversation; an empty list, or nothing left once the caller's own
  messages and messages without receipt state are dropped, is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.events import C2CReceiptItem, C2CReceipts, Event, GroupReceiptItem, GroupReceipts
from server.core.groups import Groups
from server.core.model import ConvKind, MemberPage, Message, ReadFilter, ReceiptCount
from server.store.receipts import ReceiptChange

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class SeqReceipt:
    """One row of a group receipt lookup by sequence number: counts, or why there are none."""

    seq: int
    count: ReceiptCount | None
    reason: Reason | None


class Receipts:
    def __init__(self, deps: Deps, groups: Groups) -> None:
        self.d = deps
        self.groups = groups

    async def _load(self, app: int, refs: Sequence[int | Message]) -> list[Message]:
        """The messages named (ids, or messages a dialect already loaded), deduplicated."""
        if not refs:
            raise CoreError(Reason.RECEIPT_LIST_EMPTY, "the message list is empty")
        found = {r.id: r for r in refs if isinstance(r, Message)}
        ids = [r.id if isinstance(r, Message) else r for r in refs]
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(await self.d.store.messages.get_many(missing))
        messages = []
        for msg_id in dict.fromkeys(ids):
            message = found.get(msg_id)
            if message is None or message.app != app:
                raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {msg_id} does not exist")
            messages.append(message)
        if len({m.conv_id for m in messages}) > 1:
            raise CoreError(
                Reason.MIXED_CONVERSATIONS, "all messages of one call must be in one conversation"
            )
        return messages

    async def _check_access(self, app: int, user: str, message: Message, *, as_admin: bool) -> None:
        """The caller must be a party to the conversation (admins may act for anyone).

        A group message's group must still be the live group of that id: a destroyed group's
        messages take no receipts, even after its id was reused (UNKNOWN_GROUP)."""
        if message.kind is ConvKind.GROUP:
            assert message.group_id is not None
            group = await self.groups.get(app, message.group_id)
            if group.conv_id != message.conv_id:
                raise CoreError(
                    Reason.UNKNOWN_GROUP,
                    f"group {message.group_id!r} of message {message.id} was destroyed",
                )
            if not as_admin:
                await self.groups.require_member(group, user)
        elif not as_admin and user not in (message.sender, message.receiver):
            raise CoreError(
                Reason.NOT_ALLOWED,
                f"message {message.id} belongs to a conversation of "
                f"{message.sender!r} and {message.receiver!r}, not of {user!r}",
            )

    def _check_enabled(self, app: int, message: Message) -> None:
        policy = self.d.policy(app)
        if not policy.flagship:
            raise CoreError(Reason.RECEIPT_NOT_FLAGSHIP, "read receipts need the Flagship edition")

    async def send(
        self,
        app: int,
        reader: str,
        msg_ids: Sequence[int | Message],
        *,
        platform: str = "RESTAPI",
        as_admin: bool = False,
    ) -> list[ReceiptChange]:
        """``reader`` has read these messages (ids or loaded messages, all of one conversation).

        The reader's own messages and messages without receipt state are dropped; what is left
        is recorded idempotently and each message's sender is told the new totals.
        Raises CoreError: RECEIPT_LIST_EMPTY, UNKNOWN_MESSAGE, MIXED_CONVERSATIONS, NOT_ALLOWED,
        NOT_GROUP_MEMBER, RECEIPT_NOT_FLAGSHIP."""
        messages = await self._load(app, msg_ids)
        self._check_enabled(app, messages[0])
        await self._check_access(app, reader, messages[0], as_admin=as_admin)
        wanted = [m for m in messages if m.sender != reader and m.has_receipts]
        if not wanted:
            raise CoreError(
                Reason.RECEIPT_LIST_EMPTY,
                "no message left to acknowledge: own messages and messages sent without "
                "a read receipt (or where receipts are off) are skipped",
            )
        by_id = {m.id: m for m in wanted}
        group_type = None
        if wanted[0].kind is ConvKind.GROUP:
            assert wanted[0].group_id is not None
            group_type = (await self.groups.get(app, wanted[0].group_id)).type.value
        now = self.d.clock.now_ms()

        def build(changes: Sequence[ReceiptChange]) -> list[Event]:
            fresh = [c for c in changes if c.newly_read]
            if not fresh:
                return []
            first = by_id[fresh[0].msg_id]
            if first.kind is ConvKind.GROUP:
                assert first.group_id is not None and group_type is not None
                return [
                    GroupReceipts(
                        group_id=first.group_id,
                        group_type=group_type,
                        reader=reader,
                        time_ms=now,
                        items=tuple(
                            GroupReceiptItem(
                                c.msg_id, by_id[c.msg_id].seq, c.read, c.receivers - c.read
                            )
                            for c in fresh
                        ),
                        platform=platform,
                    )
                ]
            return [
                C2CReceipts(
                    reader=reader,
                    peer=first.sender,
                    time_ms=now,
                    items=tuple(
                        C2CReceiptItem(
                            c.msg_id,
                            by_id[c.msg_id].seq,
                            by_id[c.msg_id].random,
                            by_id[c.msg_id].time_ms,
                            c.first_read,
                        )
                        for c in fresh
                    ),
                    platform=platform,
                )
            ]

        changes = await self.d.store.receipts.mark_read(
            app,
            reader,
            list(by_id),
            now,
            build_events=build,
            track_first=wanted[0].kind is ConvKind.C2C,
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

    async def counts(
        self, app: int, user: str, msg_ids: Sequence[int | Message], *, as_admin: bool = False
    ) -> list[ReceiptCount]:
        """Latest totals of the caller's own messages that keep receipt state (others are
        left out, as the SDK leaves them out). Raises like :meth:`send`, but an empty result
        is not an error."""
        messages = await self._load(app, msg_ids)
        self._check_enabled(app, messages[0])
        await self._check_access(app, user, messages[0], as_admin=as_admin)
        mine = [m for m in messages if (as_admin or m.sender == user) and m.has_receipts]
        return await self._counts(mine)

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

    async def group_counts_by_seq(
        self, app: int, group_id: str, seqs: Sequence[int]
    ) -> list[SeqReceipt]:
        """Admin lookup by sequence number: one row per seq, RECEIPT_NOT_FOUND where a message
        is unknown or keeps no receipt state. Raises CoreError(UNKNOWN_GROUP, GROUP_TYPE_UNSUPPORTED)."""
        group = await self.groups.get(app, group_id)
        self._require_receipt_group(app, group.type)
        found = await self.d.store.messages.by_seq(group.conv_id, seqs)
        with_state = [m for m in found.values() if m.has_receipts]
        counts = {c.message.seq: c for c in await self._counts(with_state)}
        return [
            SeqReceipt(s, counts.get(s), None if s in counts else Reason.RECEIPT_NOT_FOUND)
            for s in seqs
        ]

    async def group_messages_by_seq(
        self, app: int, group_id: str, seqs: Sequence[int]
    ) -> dict[int, Message]:
        group = await self.groups.get(app, group_id)
        self._require_receipt_group(app, group.type)
        return await self.d.store.messages.by_seq(group.conv_id, seqs)

    def _require_receipt_group(self, app: int, group_type: object) -> None:
        from server.core.model import GroupType

        assert isinstance(group_type, GroupType)
        policy = self.d.policy(app)
        if not policy.flagship:
            raise CoreError(Reason.RECEIPT_NOT_FLAGSHIP, "read receipts need the Flagship edition")
        if not policy.group_receipts_enabled(group_type):
            raise CoreError(
                Reason.GROUP_TYPE_UNSUPPORTED,
                f"read receipts are not enabled for {group_type.value} groups",
            )

    async def members(
        self,
        app: int,
        user: str,
        msg_id: int,
        which: ReadFilter,
        *,
        cursor: int,
        count: int,
        as_admin: bool = False,
    ) -> MemberPage:
        """One page of the receivers of a group message that have (not) read it, in snapshot
        order after ``cursor`` (0 first). Only the sender (or an admin) may ask.
        Raises CoreError: UNKNOWN_MESSAGE, NOT_ALLOWED, RECEIPT_NOT_FOUND, INVALID."""
        message = await self.d.store.messages.get(msg_id)
        if message is None or message.app != app:
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {msg_id} does not exist")
        if message.kind is not ConvKind.GROUP:
            raise CoreError(Reason.INVALID, f"message {msg_id} is not a group message")
        self._check_enabled(app, message)
        if not as_admin and message.sender != user:
            raise CoreError(
                Reason.NOT_ALLOWED, f"only the sender of message {msg_id} may list its readers"
            )
        if not message.has_receipts:
            raise CoreError(Reason.RECEIPT_NOT_FOUND, f"message {msg_id} keeps no read receipts")
        if cursor < 0:
            raise CoreError(Reason.INVALID, f"cursor {cursor} is negative")
        return await self.d.store.receipts.page(msg_id, which, cursor, max(1, min(count, MAX_PAGE)))


def group_by_sender(counts: Sequence[ReceiptCount]) -> dict[str, list[ReceiptCount]]:
    """Receipt updates grouped by the sender who should hear about them."""
    out: dict[str, list[ReceiptCount]] = defaultdict(list)
    for c in counts:
        out[c.message.sender].append(c)
    return out

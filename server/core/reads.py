"""Conversation-level reads: unread counts, and the C2C peer-read time behind ``isPeerRead``.

These are separate from per-message receipts: reading a conversation never sends receipts, and
sending receipts never changes an unread count (docs/semantics.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.events import C2CRead, Event, GroupRead
from server.core.groups import Groups
from server.core.messages import Messaging
from server.core.model import Message, Reader
from server.store.reads import ReadChange


@dataclass(frozen=True, slots=True)
class UnreadCount:
    conversation: str  # peer user id (C2C) or group id
    unread: int


class Reads:
    def __init__(self, deps: Deps, groups: Groups, messages: Messaging) -> None:
        self.d = deps
        self.groups = groups
        self.messages = messages

    async def mark_c2c(
        self,
        app: int,
        reader: str,
        peer: str,
        *,
        upto_ms: int | None = None,
        upto_seq: int | None = None,
        platform: str = "RESTAPI",
    ) -> ReadChange:
        """``reader`` has read its conversation with ``peer`` up to ``upto_ms`` (None: now), or
        up to the message numbered ``upto_seq``.

        The peer hears of it (``c2c_read``), the read position never moves back, and the
        event carries the reader's C2C unread total afterwards.
        Raises CoreError: UNKNOWN_ACCOUNT, INVALID (a time in the future is clamped to now)."""
        self.d.policy(app)
        now = self.d.clock.now_ms()
        found = await self.d.store.accounts.existing(app, [reader, peer])
        for user in (reader, peer):
            if user not in found:
                raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user!r} does not exist")
        if reader == peer:
            raise CoreError(Reason.INVALID, f"{reader!r} has no conversation with itself")
        upto = now if upto_ms is None or upto_ms > now else upto_ms
        if upto_seq is not None and upto_seq <= 0:
            upto_seq = None
        conv_id = await self.d.store.groups.c2c(app, reader, peer, now)

        def build(change: ReadChange) -> list[Event]:
            return [
                C2CRead(
                    reader=reader,
                    peer=peer,
                    read_ms=change.read_ms,
                    unread_total=change.unread_total,
                    newly_read=change.newly_read,
                    platform=platform,
                )
            ]

        change = await self.d.store.reads.mark_c2c(
            app, conv_id, reader, upto, now, upto_seq=upto_seq, build_events=build
        )
        self.d.listeners.c2c_read(app, reader, peer, change.read_ms)
        self.d.listeners.events_appended(app)
        return change

    async def mark_group(
        self,
        app: int,
        reader: str,
        group_id: str,
        *,
        upto_seq: int | None = None,
        platform: str = "RESTAPI",
    ) -> ReadChange:
        """A member has read a group up to ``upto_seq`` (None/0: everything). Only its own
        unread count changes: no receipts, no notification to senders.
        Raises CoreError: UNKNOWN_GROUP, NOT_GROUP_MEMBER."""
        group = await self.groups.get(app, group_id)
        await self.groups.require_member(group, reader)
        now = self.d.clock.now_ms()

        def build(change: ReadChange) -> list[Event]:
            return [
                GroupRead(
                    reader=reader, group_id=group_id, read_seq=change.read_seq, platform=platform
                )
            ]

        change = await self.d.store.reads.mark_group(
            app, group.conv_id, reader, upto_seq, now, build_events=build
        )
        self.d.listeners.events_appended(app)
        return change

    async def c2c_unread(self, app: int, user: str) -> dict[str, int]:
        """``{peer: unread count}`` for every C2C conversation of ``user`` with unread messages."""
        self.d.policy(app)
        return await self.d.store.reads.c2c_unread(app, user)

    async def group_unread(self, app: int, user: str, group_id: str) -> int:
        group = await self.groups.get(app, group_id)
        await self.groups.require_member(group, user)
        return await self.d.store.reads.group_unread(group.conv_id, user)

    async def sender_readers(
        self,
        app: int,
        sender: str,
        msg_id: int,
        *,
        within_ms: int,
        after: tuple[int, str] | None,
        limit: int,
        exclude: frozenset[str] = frozenset(),
    ) -> tuple[Message, list[Reader]]:
        """The message and its :meth:`readers` (less the accounts in ``exclude``), asked by its
        sender, who must still be in its conversation, at most ``within_ms`` after sending.

        Raises CoreError, checked in this order: UNKNOWN_MESSAGE, OTHER_APP, NOT_ALLOWED (not
        the sender: nothing more is told of another sender's message), MESSAGE_RECALLED,
        TOO_OLD, UNKNOWN_GROUP, NOT_GROUP_MEMBER (the sender left the group)."""
        message = await self.messages.get(app, msg_id)
        if message.sender != sender:
            raise CoreError(Reason.NOT_ALLOWED, f"{sender!r} did not send message {msg_id}")
        if message.recalled:
            raise CoreError(Reason.MESSAGE_RECALLED, f"message {msg_id} was recalled")
        if self.d.clock.now_ms() - message.time_ms > within_ms:
            raise CoreError(
                Reason.TOO_OLD, f"message {msg_id} was sent more than {within_ms} ms ago"
            )
        await self.messages.get_visible(app, sender, msg_id)
        return message, await self.readers(message, after=after, limit=limit, exclude=exclude)

    async def readers(
        self,
        message: Message,
        *,
        after: tuple[int, str] | None,
        limit: int,
        exclude: frozenset[str] = frozenset(),
    ) -> list[Reader]:
        """Everyone but the sender (and ``exclude``) who has read ``message``, by a receipt or
        a conversation read, each once with the earliest time, ordered by (time, user) after
        ``after``."""
        return await self.d.store.reads.readers(
            message.id,
            message.conv_id,
            message.seq,
            frozenset({message.sender, *exclude}),
            after=after,
            limit=limit,
        )

    async def group_positions(self, app: int, group_id: str, user_ids: list[str]) -> dict[str, int]:
        """``{member: read seq}`` (TIM's member ``MsgSeq``)."""
        group = await self.groups.get(app, group_id)
        out = {}
        for user in user_ids:
            out[user], _ = await self.d.store.reads.position(group.conv_id, user)
        return out

    async def peer_read_ms(self, app: int, user: str, peer: str) -> int:
        """When ``peer`` last marked its conversation with ``user`` read (0: never)."""
        conv = await self.d.store.groups.find_c2c(app, user, peer)
        if conv is None:
            return 0
        _, read_ms = await self.d.store.reads.position(conv.id, peer)
        return read_ms

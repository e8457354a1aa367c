"""What a user missed: its conversations with their newest message and unread count, and the
one-to-one messages after a position (a client that reconnects catches up from there).

Group messages missed while offline are not replayed one by one: a client learns of them from
the conversation list (newest message, unread count) and reads them from history, as TIM's
clients do.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.groups import Groups
from server.core.model import ConvKind, Group, Member, Message

MAX_SYNC = 100


@dataclass(frozen=True, slots=True)
class ConversationView:
    """One conversation as ``user`` sees it now."""

    conv_id: int
    kind: ConvKind
    peer: str | None  # C2C: the other side
    group: Group | None  # group: the live group
    last: Message | None  # the newest message (recalled ones included)
    unread: int  # the other side's messages after the user's read position (recalled left out)
    read_seq: int  # the user's read position
    peer_read_ms: int  # C2C: when the peer last read the conversation (0: never)
    last_seq: int  # the conversation's newest sequence number

    @property
    def activity_ms(self) -> int:
        if self.last is not None:
            return self.last.time_ms
        return self.group.created_ms if self.group is not None else 0


@dataclass(frozen=True, slots=True)
class JoinedGroup:
    """A live group as one of its members sees it."""

    group: Group
    me: Member
    read_seq: int  # the member's read position
    last_seq: int  # the group's newest sequence number


class Sync:
    """Catching a user up."""

    def __init__(self, deps: Deps, groups: Groups) -> None:
        self.d = deps
        self.groups = groups

    async def conversations(self, app: int, user: str) -> list[ConversationView]:
        """Every one-to-one conversation of ``user`` that has a message, and every live group
        it is a member of, most recent activity first. Raises CoreError(INVALID) for an
        unknown app."""
        self.d.policy(app)
        store = self.d.store
        pairs = await store.groups.c2c_of(app, user)
        groups = await self.groups.of_member(app, user, limit=10_000)
        last = await store.messages.last_of([c.id for c in pairs] + [g.conv_id for g in groups])
        unread = await store.reads.c2c_unread(app, user)
        out = []
        for conv in pairs:
            message = last.get(conv.id)
            if message is None:
                continue  # a pair made by a read, with nothing in it yet
            peer = conv.peer_of(user)
            read_seq, _ = await store.reads.position(conv.id, user)
            _, peer_ms = await store.reads.position(conv.id, peer)
            out.append(
                ConversationView(
                    conv.id,
                    ConvKind.C2C,
                    peer,
                    None,
                    message,
                    unread.get(peer, 0),
                    read_seq,
                    peer_ms,
                    message.seq,
                )
            )
        for group in groups:
            read_seq, _ = await store.reads.position(group.conv_id, user)
            out.append(
                ConversationView(
                    group.conv_id,
                    ConvKind.GROUP,
                    None,
                    group,
                    last.get(group.conv_id),
                    await store.reads.group_unread(group.conv_id, user),
                    read_seq,
                    0,
                    await store.groups.last_seq(group.conv_id),
                )
            )
        out.sort(key=lambda v: (v.activity_ms, v.conv_id), reverse=True)
        return out

    async def joined(
        self, app: int, user: str, group_ids: list[str] | None = None
    ) -> dict[str, JoinedGroup | CoreError]:
        """The live groups ``user`` is a member of (or, given ``group_ids``, each of those:
        the group as the member sees it, or why not: UNKNOWN_GROUP, NOT_GROUP_MEMBER)."""
        self.d.policy(app)
        if group_ids is None:
            groups: list[Group | CoreError] = list(
                await self.groups.of_member(app, user, limit=10_000)
            )
        else:
            groups = []
            for group_id in dict.fromkeys(group_ids):
                try:
                    groups.append(await self.groups.get(app, group_id))
                except CoreError as exc:
                    groups.append(exc)
        out: dict[str, JoinedGroup | CoreError] = {}
        for i, g in enumerate(groups):
            if isinstance(g, CoreError):
                assert group_ids is not None
                out[list(dict.fromkeys(group_ids))[i]] = g
                continue
            member = await self.d.store.groups.member(g.conv_id, user)
            if member is None:
                out[g.group_id] = CoreError(
                    Reason.NOT_GROUP_MEMBER, f"{user!r} is not a member of group {g.group_id!r}"
                )
                continue
            read_seq, _ = await self.d.store.reads.position(g.conv_id, user)
            last_seq = await self.d.store.groups.last_seq(g.conv_id)
            out[g.group_id] = JoinedGroup(g, member, read_seq, last_seq)
        return out

    async def position(self) -> int:
        """Where a client that has seen everything stands now (the newest message number)."""
        return await self.d.store.messages.newest_id()

    async def c2c_since(
        self, app: int, user: str, after: int, *, limit: int = MAX_SYNC
    ) -> list[Message]:
        """The one-to-one messages ``user`` sent or received after position ``after``, oldest
        first, at most ``limit`` (continue from the last one's id)."""
        self.d.policy(app)
        return await self.d.store.messages.c2c_since(app, user, after, max(1, min(limit, MAX_SYNC)))

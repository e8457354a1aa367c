"""Groups and their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.model import Conversation, Group, GroupType, Member

MAX_GROUP_ID_BYTES = 48
MAX_MEMBERS_PER_CALL = 500


@dataclass(frozen=True, slots=True)
class MemberChange:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    already: tuple[str, ...] = ()  # add: already members
    missing: tuple[str, ...] = ()  # remove: were not members
    unknown: tuple[str, ...] = ()  # accounts that do not exist


class Groups:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def create(
        self,
        app: int,
        *,
        group_id: str,
        group_type: GroupType,
        name: str,
        owner: str,
        members: Sequence[str],
    ) -> Group:
        """Create a group with its owner (if any) and first members.

        Raises CoreError: INVALID (bad id/name), GROUP_EXISTS, UNKNOWN_ACCOUNT, TOO_MANY."""
        self.d.policy(app)
        if not group_id or len(group_id.encode()) > MAX_GROUP_ID_BYTES:
            raise CoreError(Reason.INVALID, f"group id {group_id!r} must be 1 to 48 bytes")
        if not all(0x20 < ord(ch) <= 0x7E for ch in group_id):
            raise CoreError(
                Reason.INVALID, f"group id {group_id!r} must be printable ASCII without spaces"
            )
        if len(members) > MAX_MEMBERS_PER_CALL:
            raise CoreError(
                Reason.TOO_MANY, f"{len(members)} members given, at most {MAX_MEMBERS_PER_CALL}"
            )
        wanted = list(dict.fromkeys(([owner] if owner else []) + list(members)))
        await self._require_accounts(app, wanted)
        rows = [(u, "Owner" if u == owner else "Member") for u in wanted]
        conv_id = await self.d.store.groups.create(
            app, group_id, group_type, name, owner, rows, self.d.clock.now_ms()
        )
        return Group(
            app, conv_id, group_id, group_type, name, owner, self.d.clock.now_ms(), len(rows)
        )

    async def get(self, app: int, group_id: str) -> Group:
        group = await self.d.store.groups.get(app, group_id)
        if group is None:
            raise CoreError(Reason.UNKNOWN_GROUP, f"group {group_id!r} does not exist")
        return group

    async def conversation(self, app: int, conv_id: int) -> Conversation:
        """A conversation (C2C pair or group, destroyed groups included) by its number.

        Raises CoreError: UNKNOWN_GROUP, OTHER_APP."""
        conv = await self.d.store.groups.conversation(conv_id)
        if conv is None:
            raise CoreError(Reason.UNKNOWN_GROUP, f"conversation {conv_id} does not exist")
        if conv.app != app:
            raise CoreError(Reason.OTHER_APP, f"conversation {conv_id} belongs to another app")
        return conv

    async def by_conv(self, app: int, conv_id: int) -> Group:
        """The live group of conversation ``conv_id``.

        Raises CoreError: UNKNOWN_GROUP (no such group, a C2C pair, destroyed), OTHER_APP."""
        conv = await self.conversation(app, conv_id)
        group = None
        if conv.group_id is not None:
            group = await self.d.store.groups.get(app, conv.group_id)
        if group is None or group.conv_id != conv_id:
            raise CoreError(Reason.UNKNOWN_GROUP, f"conversation {conv_id} is not a live group")
        return group

    async def of_member(
        self, app: int, user_id: str, *, after_conv: int = 0, limit: int
    ) -> list[Group]:
        """Live groups ``user_id`` is a member of, by conversation number after ``after_conv``."""
        self.d.policy(app)
        return await self.d.store.groups.of_member(app, user_id, after_conv, limit)

    async def add_members(
        self, app: int, group_id: str, user_ids: Sequence[str], *, by: str | None = None
    ) -> MemberChange:
        """Add accounts to a group (``by``, if given, must be a member). Unknown accounts are
        reported, not added. Raises CoreError: UNKNOWN_GROUP, NOT_GROUP_MEMBER, TOO_MANY."""
        group = await self.get(app, group_id)
        if by is not None:
            await self.require_member(group, by)
        if len(user_ids) > MAX_MEMBERS_PER_CALL:
            raise CoreError(
                Reason.TOO_MANY, f"{len(user_ids)} members given, at most {MAX_MEMBERS_PER_CALL}"
            )
        ids = list(dict.fromkeys(user_ids))
        found = await self.d.store.accounts.existing(app, ids)
        known = [u for u in ids if u in found]
        added = await self.d.store.groups.add_members(
            group.conv_id, [(u, "Member") for u in known], self.d.clock.now_ms()
        )
        return MemberChange(
            added=tuple(added),
            already=tuple(u for u in known if u not in added),
            unknown=tuple(u for u in ids if u not in found),
        )

    async def remove_members(
        self, app: int, group_id: str, user_ids: Sequence[str], *, by: str | None = None
    ) -> MemberChange:
        """Remove members (``by``, if given, must be a member). Their receipt snapshot rows stay
        as they are (see docs/semantics.md). Raises CoreError: UNKNOWN_GROUP, NOT_GROUP_MEMBER."""
        group = await self.get(app, group_id)
        if by is not None:
            await self.require_member(group, by)
        ids = list(dict.fromkeys(user_ids))
        removed = await self.d.store.groups.remove_members(group.conv_id, ids)
        return MemberChange(
            removed=tuple(removed), missing=tuple(u for u in ids if u not in removed)
        )

    async def destroy(self, app: int, group_id: str) -> None:
        group = await self.get(app, group_id)
        await self.d.store.groups.destroy(group.conv_id)

    async def members(
        self, app: int, group_id: str, *, viewer: str | None = None
    ) -> tuple[Group, list[Member]]:
        """The group and its members, oldest first (``viewer``, if given, must be a member).
        Raises CoreError: UNKNOWN_GROUP, NOT_GROUP_MEMBER."""
        group = await self.get(app, group_id)
        if viewer is not None:
            await self.require_member(group, viewer)
        return group, await self.d.store.groups.members(group.conv_id)

    async def require_member(self, group: Group, user_id: str) -> None:
        if not await self.d.store.groups.is_member(group.conv_id, user_id):
            raise CoreError(
                Reason.NOT_GROUP_MEMBER, f"{user_id!r} is not a member of group {group.group_id!r}"
            )

    async def _require_accounts(self, app: int, user_ids: Sequence[str]) -> None:
        found = await self.d.store.accounts.existing(app, user_ids)
        for user_id in user_ids:
            if user_id not in found:
                raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user_id!r} does not exist")

"""Groups: creation, member changes, destruction."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from server.core.errors import CoreError, Reason
from server.core.model import Group, GroupType
from server.core.service import Core
from tests.core.support import APP, APP_BASIC, users


async def _create(
    core: Core,
    group_id: str = "g1",
    *,
    owner: str = "owner",
    members: Sequence[str] = ("bob", "carol"),
    group_type: GroupType = GroupType.WORK,
) -> Group:
    return await core.groups.create(
        APP, group_id=group_id, group_type=group_type, name="team", owner=owner, members=members
    )


async def test_create_adds_owner_and_members(core: Core) -> None:
    """A new group holds its owner (role Owner) and its members (role Member), each once."""
    await users(core, "owner", "bob", "carol")
    group = await core.groups.create(
        APP,
        group_id="g1",
        group_type=GroupType.PUBLIC,
        name="team",
        owner="owner",
        members=["bob", "owner", "carol", "bob"],
    )
    assert (group.group_id, group.type, group.owner, group.member_count) == (
        "g1",
        GroupType.PUBLIC,
        "owner",
        3,
    )
    stored, members = await core.groups.members(APP, "g1")
    assert stored.member_count == 3
    assert {m.user_id: m.role for m in members} == {
        "owner": "Owner",
        "bob": "Member",
        "carol": "Member",
    }


async def test_a_taken_group_id_is_refused(core: Core) -> None:
    """Creating a group whose id is live in the same app fails with GROUP_EXISTS."""
    await users(core, "owner", "bob", "carol")
    await _create(core)
    with pytest.raises(CoreError) as err:
        await _create(core)
    assert err.value.reason is Reason.GROUP_EXISTS
    assert "g1" in err.value.message


async def test_the_same_group_id_may_exist_in_two_apps(core: Core) -> None:
    """Group ids are scoped by app."""
    await users(core, "owner", "bob", "carol")
    await users(core, "owner", app=APP_BASIC)
    await _create(core)
    await core.groups.create(
        APP_BASIC, group_id="g1", group_type=GroupType.WORK, name="", owner="owner", members=[]
    )
    assert (await core.groups.get(APP_BASIC, "g1")).member_count == 1


async def test_create_with_an_unknown_account_is_refused(core: Core) -> None:
    """An unknown member or owner fails creation with UNKNOWN_ACCOUNT and creates nothing."""
    await users(core, "owner", "bob")
    with pytest.raises(CoreError) as err:
        await _create(core, members=["bob", "ghost"])
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT
    assert "ghost" in err.value.message
    with pytest.raises(CoreError) as err:
        await _create(core, owner="nobody", members=["bob"])
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT
    with pytest.raises(CoreError) as err:
        await core.groups.get(APP, "g1")
    assert err.value.reason is Reason.UNKNOWN_GROUP


@pytest.mark.parametrize(
    "group_id",
    ["", "g" * 49, "has space", "tab\t", "ünï"],
    ids=["empty", "49-bytes", "space", "tab", "non-ascii"],
)
async def test_invalid_group_ids_are_refused(core: Core, group_id: str) -> None:
    """An empty, over-48-byte, non-ASCII or space-containing group id is refused with INVALID."""
    await users(core, "owner", "bob", "carol")
    with pytest.raises(CoreError) as err:
        await _create(core, group_id)
    assert err.value.reason is Reason.INVALID


async def test_too_many_members_at_creation_are_refused(core: Core) -> None:
    """Creating a group with more than 500 members in one call fails with TOO_MANY."""
    with pytest.raises(CoreError) as err:
        await _create(core, members=[f"u{i}" for i in range(501)])
    assert err.value.reason is Reason.TOO_MANY


async def test_add_reports_added_already_and_unknown(core: Core) -> None:
    """Adding members sorts the ids into added, already members, and unknown accounts."""
    await users(core, "owner", "bob", "carol", "dave", "erin")
    await _create(core)
    change = await core.groups.add_members(APP, "g1", ["bob", "dave", "ghost", "erin", "dave"])
    assert change.added == ("dave", "erin")
    assert change.already == ("bob",)
    assert change.unknown == ("ghost",)
    _, members = await core.groups.members(APP, "g1")
    assert {m.user_id for m in members} == {"owner", "bob", "carol", "dave", "erin"}
    assert all(m.role == "Member" for m in members if m.user_id in ("dave", "erin"))


async def test_add_to_an_unknown_group_is_refused(core: Core) -> None:
    """Adding members to a group that does not exist fails with UNKNOWN_GROUP."""
    await users(core, "bob")
    with pytest.raises(CoreError) as err:
        await core.groups.add_members(APP, "nope", ["bob"])
    assert err.value.reason is Reason.UNKNOWN_GROUP


async def test_remove_reports_removed_and_missing(core: Core) -> None:
    """Removing members removes current members and reports the others as missing."""
    await users(core, "owner", "bob", "carol", "dave")
    await _create(core)
    change = await core.groups.remove_members(APP, "g1", ["bob", "dave", "bob"])
    assert change.removed == ("bob",)
    assert change.missing == ("dave",)
    group, members = await core.groups.members(APP, "g1")
    assert {m.user_id for m in members} == {"owner", "carol"}
    assert group.member_count == 2
    with pytest.raises(CoreError) as err:
        await core.groups.require_member(group, "bob")
    assert err.value.reason is Reason.NOT_GROUP_MEMBER


async def test_a_removed_member_can_join_again(core: Core) -> None:
    """A member that was removed can be added back."""
    await users(core, "owner", "bob", "carol")
    await _create(core)
    await core.groups.remove_members(APP, "g1", ["bob"])
    assert (await core.groups.add_members(APP, "g1", ["bob"])).added == ("bob",)


async def test_destroy_removes_the_group_and_frees_its_id(core: Core) -> None:
    """A destroyed group is UNKNOWN_GROUP everywhere, and its id can be used for a new group."""
    await users(core, "owner", "bob", "carol", "dave")
    await _create(core)
    await core.groups.destroy(APP, "g1")
    for attempt in (
        core.groups.get(APP, "g1"),
        core.groups.members(APP, "g1"),
        core.groups.add_members(APP, "g1", ["dave"]),
        core.groups.remove_members(APP, "g1", ["bob"]),
        core.groups.destroy(APP, "g1"),
    ):
        with pytest.raises(CoreError) as err:
            await attempt
        assert err.value.reason is Reason.UNKNOWN_GROUP
    again = await _create(core, members=["dave"], group_type=GroupType.MEETING)
    group, members = await core.groups.members(APP, "g1")
    assert group == again
    assert group.type is GroupType.MEETING
    assert {m.user_id for m in members} == {"owner", "dave"}

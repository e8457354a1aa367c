"""TIM groups: ``group_open_http_svc`` group and member commands."""

from __future__ import annotations

import secrets
import string

from protocol.tim import rest as R
from server.core.errors import CoreError, Reason
from server.core.model import GroupType
from server.tim.context import Caller
from server.tim.convert import parse_group_type

_ALPHABET = string.ascii_uppercase + string.digits


def new_group_id(group_type: GroupType) -> str:
    """A TIM-style generated id: ``@TGS#`` + 9 characters (``@TGS#a`` prefix for AVChatRoom)."""
    prefix = "@TGS#a" if group_type is GroupType.AVCHATROOM else "@TGS#"
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(14 - len(prefix)))


async def create_group(c: Caller, body: R.CreateGroup) -> R.CreateGroupResponse:
    group_type = parse_group_type(body.Type)
    members = [m.Member_Account for m in body.MemberList]
    for _ in range(5):
        group_id = body.GroupId or new_group_id(group_type)
        try:
            await c.core.groups.create(
                c.sdkappid,
                group_id=group_id,
                group_type=group_type,
                name=body.Name,
                owner=body.Owner_Account or "",
                members=members,
            )
            return R.CreateGroupResponse(GroupId=group_id)
        except CoreError as exc:
            if exc.reason is not Reason.GROUP_EXISTS or body.GroupId:
                raise
    raise CoreError(Reason.GROUP_EXISTS, "could not generate a free group id")


async def add_group_member(c: Caller, body: R.AddGroupMember) -> R.AddGroupMemberResponse:
    change = await c.core.groups.add_members(
        c.sdkappid, body.GroupId, [m.Member_Account for m in body.MemberList]
    )
    result = (
        {u: 1 for u in change.added}
        | {u: 2 for u in change.already}
        | {u: 0 for u in change.unknown}
    )
    return R.AddGroupMemberResponse(
        MemberList=[
            R.MemberResult(Member_Account=m.Member_Account, Result=result.get(m.Member_Account, 0))
            for m in body.MemberList
        ]
    )


async def delete_group_member(c: Caller, body: R.DeleteGroupMember) -> R.Envelope:
    await c.core.groups.remove_members(c.sdkappid, body.GroupId, body.MemberToDel_Account)
    return R.Envelope()


async def destroy_group(c: Caller, body: R.DestroyGroup) -> R.Envelope:
    await c.core.groups.destroy(c.sdkappid, body.GroupId)
    return R.Envelope()


async def get_group_member_info(
    c: Caller, body: R.GetGroupMemberInfo
) -> R.GetGroupMemberInfoResponse:
    group, members = await c.core.groups.members(c.sdkappid, body.GroupId)
    page = members[body.Offset :]
    if body.Limit:
        page = page[: body.Limit]
    positions = await c.core.reads.group_positions(
        c.sdkappid, group.group_id, [m.user_id for m in page]
    )
    return R.GetGroupMemberInfoResponse(
        MemberNum=len(members),
        MemberList=[
            R.MemberOut(
                Member_Account=m.user_id,
                Role=m.role,
                JoinTime=m.joined_ms // 1000,
                MsgSeq=positions.get(m.user_id, 0),
            )
            for m in page
        ],
    )

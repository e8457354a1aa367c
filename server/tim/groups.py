"""TIM groups: ``group_open_http_svc`` group and member commands."""

from __future__ import annotations

import secrets
import string
from typing import Any

from protocol.tim import rest as R
from protocol.tim import sdk as S
from server.core.errors import CoreError, Reason
from server.core.model import GroupType
from server.core.sync import JoinedGroup
from server.tim.context import Caller
from server.tim.convert import parse_group_type, rest_type_name
from server.tim.errors import GROUP, code_for

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
    return await _member_info(c, body, viewer=None)


async def _member_info(
    c: Caller, body: R.GetGroupMemberInfo, *, viewer: str | None
) -> R.GetGroupMemberInfoResponse:
    group, members = await c.core.groups.members(c.sdkappid, body.GroupId, viewer=viewer)
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


# -- Tencent's Chat SDK -------------------------------------------------------------------------


def _sdk_group(j: JoinedGroup) -> dict[str, Any]:
    """A group as the SDK's group profile reads it (``GroupId``, ``Type`` in REST's names,
    ``NextMsgSeq``, the member's own ``SelfInfo`` and ``MemberList`` entry)."""
    g, me = j.group, j.me
    self_info = {
        "Role": me.role,
        "JoinTime": me.joined_ms // 1000,
        "MsgFlag": "AcceptAndNotify",
        "MsgSeq": j.read_seq,
        "NameCard": "",
    }
    return {
        "GroupId": g.group_id,
        "Type": rest_type_name(g.type),
        "Name": g.name,
        "Owner_Account": g.owner,
        "CreateTime": g.created_ms // 1000,
        "MemberNum": g.member_count,
        "MaxMemberNum": 200 if g.type in (GroupType.WORK, GroupType.MEETING) else 2000,
        "NextMsgSeq": j.last_seq + 1,
        "FaceUrl": "",
        "Introduction": "",
        "Notification": "",
        "ApplyJoinOption": "FreeAccess",
        "ShutUpAllMember": "Off",
        "SelfInfo": self_info,
        "MemberList": [{"Member_Account": me.user_id, **self_info}],
    }


async def sdk_get_joined_group_list(c: Caller, body: S.GetJoinedGroupList) -> dict[str, Any]:
    """``getGroupList`` (and at login): the caller's live groups, ``Limit`` at a time."""
    found = await c.core.sync.joined(c.sdkappid, c.user)
    groups = [j for j in found.values() if isinstance(j, JoinedGroup)]
    limit = body.Limit or len(groups) or 1
    page = groups[body.Offset : body.Offset + limit]
    return {
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "GroupIdList": [_sdk_group(j) for j in page],
        "TotalCount": len(groups),
    }


async def sdk_get_group_self_member_info(
    c: Caller, body: S.GetGroupSelfMemberInfo
) -> dict[str, Any]:
    """``getGroupProfile`` and the profile of a group first met: one item per group, with its
    own ``ErrorCode`` (10010 no such group, 10007 not a member), which the SDK turns into a
    rejection of that call only."""
    found = await c.core.sync.joined(c.sdkappid, c.user, body.GroupIdList)
    items = []
    for group_id, j in found.items():
        if isinstance(j, JoinedGroup):
            items.append({**_sdk_group(j), "ErrorCode": 0, "ErrorInfo": ""})
        else:
            items.append(
                {
                    "GroupId": group_id,
                    "ErrorCode": code_for(j.reason, GROUP),
                    "ErrorInfo": j.message,
                }
            )
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "GroupInfo": items}


async def sdk_get_group_member_info(
    c: Caller, body: R.GetGroupMemberInfo
) -> R.GetGroupMemberInfoResponse:
    """``getGroupMemberList``: REST's answer, for a member of the group."""
    return await _member_info(c, body, viewer=c.user)

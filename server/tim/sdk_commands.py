"""What each ``servcmd`` of Tencent's Chat SDK runs: a body type and a handler.

The handlers live with their noun (``messages.py``, ``receipts.py``, ``reads.py``,
``groups.py``, ``sync.py``), beside the REST and ``/tim/ws`` handlers that make the same core
calls. What the SDK asks for at login that this server has no notion of (friends, blocklists,
conversation groups, cloud config) gets the well-formed empty answer the SDK expects: an error,
or a bare envelope where the SDK pages until a field says it is done, would leave it with an
unhandled rejection or an endless loop (docs/tim-sdk.md lists each).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from protocol.tim import rest as R
from protocol.tim import sdk as S
from server.tim import groups, messages, reads, receipts, sync
from server.tim.context import Caller

Handler = Callable[[Caller, Any], Awaitable[msgspec.Struct | dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Command:
    body: type[Any]
    handler: Handler


def fixed(**fields: object) -> Handler:
    """A handler that answers the envelope plus ``fields``, whatever was asked."""
    answer = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}

    async def handler(c: Caller, body: object) -> dict[str, Any]:
        return answer

    return handler


async def _bare(c: Caller, body: object) -> R.Envelope:
    return R.Envelope()


# Answered without credentials: the SDK sends them before and between logins.
OPEN = frozenset({S.HEARTBEAT, S.TELEMETRY})

COMMANDS: dict[str, Command] = {
    S.LOGOUT: Command(S.Empty, _bare),
    S.HELLO: Command(S.Empty, _bare),
    # messages
    "openim.sendmsg": Command(S.SendMsg, messages.sdk_sendmsg),
    "group_open_http_svc.send_group_msg": Command(S.SendGroupMsg, messages.sdk_send_group_msg),
    # receipts
    "group_open_http_svc.group_msg_receipt": Command(
        S.GroupMsgReceipt, receipts.sdk_group_msg_receipt
    ),
    "group_open_http_svc.get_group_msg_receipt": Command(
        S.GetGroupMsgReceipt, receipts.sdk_get_group_msg_receipt
    ),
    "group_open_http_svc.get_group_msg_receipt_detail": Command(
        S.GetGroupMsgReceiptDetail, receipts.sdk_get_group_msg_receipt_detail
    ),
    "openim.c2c_msg_read_receipt": Command(S.C2CMsgReadReceipt, receipts.sdk_c2c_msg_read_receipt),
    # conversation reads
    "openim.msgreaded": Command(S.MsgReaded, reads.sdk_msgreaded),
    "group_open_http_svc.msg_read_report": Command(S.MsgReadReport, reads.sdk_msg_read_report),
    "openim.get_peer_read_time": Command(S.GetPeerReadTime, reads.sdk_get_peer_read_time),
    # groups
    "group_open_http_svc.get_joined_group_list": Command(
        S.GetJoinedGroupList, groups.sdk_get_joined_group_list
    ),
    "group_open_http_svc.get_group_self_member_info": Command(
        S.GetGroupSelfMemberInfo, groups.sdk_get_group_self_member_info
    ),
    "group_open_http_svc.get_group_member_info": Command(
        R.GetGroupMemberInfo, groups.sdk_get_group_member_info
    ),
    # offline sync, the conversation list and history
    "openim.getmsg": Command(S.GetMsg, sync.sdk_getmsg),
    "recentcontact.page_get": Command(S.PageGet, sync.sdk_page_get),
    "openim.getroammsg": Command(S.GetRoamMsg, sync.sdk_getroammsg),
    "group_open_http_svc.group_msg_get": Command(S.GroupMsgGet, sync.sdk_group_msg_get),
    "profile.portrait_get_all": Command(S.PortraitGetAll, sync.sdk_portrait_get_all),
    # what this server has no notion of: the empty answers the SDK needs (docs/tim-sdk.md)
    "sns.black_list_get": Command(S.Empty, fixed(BlackListItem=[], StartIndex=0)),
    "sns.friend_get": Command(S.Empty, _bare),
    "sns.group_get": Command(S.Empty, _bare),
    "sns.pendency_get": Command(S.Empty, _bare),
    "im_sdk_config_mgr.fetch_config": Command(S.Empty, _bare),
    "im_sdk_config_mgr.fetch_imsdk_purchase_bitsv2": Command(S.Empty, _bare),
    "recentcontact.get_contact_group": Command(S.Empty, _bare),
    "recentcontact.search_contact_group": Command(S.Empty, _bare),
    "openim.get_c2c_peer_mute_notifications": Command(S.Empty, _bare),
    "group_open_http_svc.batch_get_group_notify": Command(S.Empty, _bare),
    "million_group_open_http_svc.get_joined_group_list": Command(
        S.Empty, fixed(GroupIdList=[], TotalCount=0)
    ),
    "openim.ws_msg_push_ack": Command(S.Empty, _bare),
}

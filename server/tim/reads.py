"""TIM conversation reads and unread counts, over REST and the WebSocket."""

from __future__ import annotations

from protocol.tim import errors as E
from protocol.tim import rest as R
from protocol.tim import sdk as S
from protocol.tim import ws as W
from server.core.errors import CoreError, Reason
from server.tim.auth import TimError
from server.tim.context import Caller

# -- REST -------------------------------------------------------------------------------------


async def admin_set_msg_read(c: Caller, body: R.AdminSetMsgRead) -> R.Envelope:
    found = await c.core.directory.existing(c.sdkappid, [body.Report_Account, body.Peer_Account])
    if body.Report_Account not in found:
        raise TimError(
            E.OPENIM_FROM_ACCOUNT, f"Report_Account {body.Report_Account!r} does not exist"
        )
    if body.Peer_Account not in found:
        raise TimError(E.OPENIM_TO_ACCOUNT, f"Peer_Account {body.Peer_Account!r} does not exist")
    upto = body.MsgReadTime * 1000 + 999 if body.MsgReadTime else None
    await c.core.reads.mark_c2c(
        c.sdkappid, body.Report_Account, body.Peer_Account, upto_ms=upto, platform=c.platform
    )
    return R.Envelope()


async def get_c2c_unread_msg_num(
    c: Caller, body: R.GetC2CUnreadMsgNum
) -> R.GetC2CUnreadMsgNumResponse:
    await c.core.directory.require(c.sdkappid, [body.To_Account])
    unread = await c.core.reads.c2c_unread(c.sdkappid, body.To_Account)
    peers = body.Peer_Account or []
    return R.GetC2CUnreadMsgNumResponse(
        AllC2CUnreadMsgNum=sum(unread.values()),
        C2CUnreadMsgNumList=[R.C2CUnread(p, unread.get(p, 0)) for p in peers],
    )


# -- WebSocket --------------------------------------------------------------------------------


def _conversation(conversation_id: str) -> tuple[str, str]:
    for prefix in ("c2c_", "group_"):
        if conversation_id.startswith(prefix) and len(conversation_id) > len(prefix):
            return prefix[:-1], conversation_id[len(prefix) :]
    raise CoreError(
        Reason.INVALID,
        f"conversationID {conversation_id!r} must be c2c_<userID> or group_<groupID>",
    )


async def ws_mark_c2c(c: Caller, req: W.MarkC2CMessageAsRead) -> W.Empty:
    await c.core.reads.mark_c2c(c.sdkappid, c.user, req.userID, platform=c.platform)
    return W.Empty()


async def ws_mark_group(c: Caller, req: W.MarkGroupMessageAsRead) -> W.Empty:
    await c.core.reads.mark_group(c.sdkappid, c.user, req.groupID, platform=c.platform)
    return W.Empty()


async def ws_clean_unread(c: Caller, req: W.CleanConversationUnreadMessageCount) -> W.Empty:
    kind, target = _conversation(req.conversationID)
    if kind == "c2c":
        upto = req.cleanTimestamp * 1000 + 999 if req.cleanTimestamp else None
        await c.core.reads.mark_c2c(c.sdkappid, c.user, target, upto_ms=upto, platform=c.platform)
    else:
        await c.core.reads.mark_group(
            c.sdkappid, c.user, target, upto_seq=req.cleanSequence or None, platform=c.platform
        )
    return W.Empty()


async def ws_get_conversation(c: Caller, req: W.GetConversation) -> W.ConversationInfo:
    kind, target = _conversation(req.conversationID)
    if kind == "c2c":
        await c.core.directory.require(c.sdkappid, [target])
        unread = (await c.core.reads.c2c_unread(c.sdkappid, c.user)).get(target, 0)
    else:
        unread = await c.core.reads.group_unread(c.sdkappid, c.user, target)
    return W.ConversationInfo(conversationID=req.conversationID, unreadCount=unread)


# -- Tencent's Chat SDK -------------------------------------------------------------------------


async def sdk_msgreaded(c: Caller, body: S.MsgReaded) -> R.Envelope:
    """``setMessageRead`` on a C2C conversation: read up to ``LastedMsgTime`` (0: now)."""
    for item in body.C2CMsgReaded.C2CMsgReadedItem:
        upto = item.LastedMsgTime * 1000 + 999 if item.LastedMsgTime else None
        await c.core.reads.mark_c2c(
            c.sdkappid, c.user, item.To_Account, upto_ms=upto, platform=c.platform
        )
    return R.Envelope()


async def sdk_msg_read_report(c: Caller, body: S.MsgReadReport) -> R.Envelope:
    """``setMessageRead`` on a group: the member's unread cursor (no receipts)."""
    await c.core.reads.mark_group(
        c.sdkappid, c.user, body.GroupId, upto_seq=body.MsgReadedSeq or None, platform=c.platform
    )
    return R.Envelope()


async def sdk_get_peer_read_time(c: Caller, body: S.GetPeerReadTime) -> S.PeerReadTimeResult:
    """When each peer last read its conversation with the caller (seconds, 0: never)."""
    times = [await c.core.reads.peer_read_ms(c.sdkappid, c.user, p) for p in body.To_Account]
    return S.PeerReadTimeResult(ReadTime=[t // 1000 for t in times])

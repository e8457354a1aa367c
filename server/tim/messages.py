"""TIM messages: sending and history, over REST and the WebSocket."""

from __future__ import annotations

from protocol.tim import ids
from protocol.tim import rest as R
from protocol.tim import sdk as S
from protocol.tim import ws as W
from server.core.errors import CoreError, Reason
from server.tim.context import Caller
from server.tim.convert import from_core, msg_key, msg_key_ref, time_s, to_core, v2tim_message

# -- REST -------------------------------------------------------------------------------------


async def sendmsg(c: Caller, body: R.SendMsg) -> R.SendMsgResponse:
    sender = body.From_Account or c.user
    sent = await c.core.messages.send_c2c(
        c.sdkappid,
        sender,
        body.To_Account,
        to_core(body.MsgBody),
        need_receipt=bool(body.IsNeedReadReceipt),
        online_only=bool(body.OnlineOnlyFlag),
        random=body.MsgRandom,
        platform=c.platform,
        client_seq=body.MsgSeq,
    )
    return R.SendMsgResponse(MsgTime=time_s(sent.message.time_ms), MsgKey=msg_key(sent.message))


async def send_group_msg(c: Caller, body: R.SendGroupMsg) -> R.SendGroupMsgResponse:
    sent = await c.core.messages.send_group(
        c.sdkappid,
        body.From_Account or c.user,
        body.GroupId,
        to_core(body.MsgBody),
        need_receipt=bool(body.NeedReadReceipt),
        online_only=bool(body.OnlineOnlyFlag),
        random=body.Random,
        platform=c.platform,
    )
    return R.SendGroupMsgResponse(MsgTime=time_s(sent.message.time_ms), MsgSeq=sent.message.seq)


async def group_msg_get_simple(c: Caller, body: R.GroupMsgGetSimple) -> R.GroupMsgGetSimpleResponse:
    items = await c.core.messages.group_history(
        c.sdkappid,
        c.user,
        body.GroupId,
        count=body.ReqMsgNumber + 1,
        before_seq=body.ReqMsgSeq + 1 if body.ReqMsgSeq else None,
        as_admin=True,
    )
    finished = len(items) <= body.ReqMsgNumber
    return R.GroupMsgGetSimpleResponse(
        GroupId=body.GroupId,
        IsFinished=int(finished),
        RspMsgList=[
            R.GroupMsgOut(
                From_Account=i.message.sender,
                IsPlaceMsg=0,
                MsgBody=from_core(i.message.body),
                MsgPriority=1,
                MsgRandom=i.message.random,
                MsgSeq=i.message.seq,
                MsgTimeStamp=time_s(i.message.time_ms),
                NeedReadReceipt=int(i.message.need_receipt),
            )
            for i in items[: body.ReqMsgNumber]
        ],
    )


async def key_seq(c: Caller, user: str, peer: str, text: str) -> int:
    """Where the message a C2C ``MsgKey`` names stands in its conversation (to page from it).

    Raises CoreError: INVALID (not a MsgKey), UNKNOWN_MESSAGE."""
    ref = msg_key_ref(text)
    if ref is None:
        raise CoreError(Reason.INVALID, f"MsgKey {text!r} is not a MsgKey")
    return (await c.core.messages.c2c_find(c.sdkappid, user, peer, ref)).seq


async def admin_getroammsg(c: Caller, body: R.AdminGetRoamMsg) -> R.AdminGetRoamMsgResponse:
    """Messages of a C2C pair between MinTime and MaxTime (seconds), newest first; continue
    with MaxTime = LastMsgTime and LastMsgKey (the oldest message returned)."""
    if body.MinTime > body.MaxTime:
        raise CoreError(Reason.INVALID, f"MinTime {body.MinTime} is after MaxTime {body.MaxTime}")
    before_seq = None
    if body.LastMsgKey:
        before_seq = await key_seq(c, body.Operator_Account, body.Peer_Account, body.LastMsgKey)
    items = await c.core.messages.c2c_history(
        c.sdkappid,
        body.Operator_Account,
        body.Peer_Account,
        count=body.MaxCnt + 1,
        before_seq=before_seq,
        min_ms=body.MinTime * 1000,
        max_ms=body.MaxTime * 1000 + 999,
    )
    complete = len(items) <= body.MaxCnt
    items = items[: body.MaxCnt]
    msgs = [
        R.RoamMsg(
            From_Account=i.message.sender,
            To_Account=i.message.receiver or "",
            MsgSeq=i.message.shown_seq,
            MsgRandom=i.message.random,
            MsgTimeStamp=time_s(i.message.time_ms),
            MsgFlagBits=0,
            IsPeerRead=int(i.message.has_receipts and i.receipt_read > 0),
            MsgKey=msg_key(i.message),
            MsgBody=from_core(i.message.body),
            IsNeedReadReceipt=int(i.message.need_receipt),
        )
        for i in items
    ]
    last = items[-1].message if items else None
    return R.AdminGetRoamMsgResponse(
        Complete=int(complete),
        MsgCnt=len(msgs),
        LastMsgTime=time_s(last.time_ms) if last else 0,
        LastMsgKey=msg_key(last) if last else "",
        MsgList=msgs,
    )


# -- WebSocket --------------------------------------------------------------------------------


async def ws_send(c: Caller, req: W.SendMessage) -> W.SendResult:
    if (req.receiver is None) == (req.groupID is None):
        raise CoreError(Reason.INVALID, "give exactly one of receiver and groupID")
    body = to_core(req.message.elemList)
    if req.receiver is not None:
        sent = await c.core.messages.send_c2c(
            c.sdkappid,
            c.user,
            req.receiver,
            body,
            need_receipt=req.message.needReadReceipt,
            online_only=req.onlineUserOnly,
            platform=c.platform,
        )
    else:
        assert req.groupID is not None
        sent = await c.core.messages.send_group(
            c.sdkappid,
            c.user,
            req.groupID,
            body,
            need_receipt=req.message.needReadReceipt,
            online_only=req.onlineUserOnly,
            platform=c.platform,
        )
    return W.SendResult(message=v2tim_message(sent.message, c.user))


async def _before_seq(c: Caller, last_msg_id: str | None) -> int | None:
    if last_msg_id is None:
        return None
    parts = ids.parse_msg_id(last_msg_id)
    if parts is None:
        raise CoreError(Reason.UNKNOWN_MESSAGE, f"{last_msg_id!r} is not a msgID of this server")
    message = await c.core.messages.get(c.sdkappid, parts.id)
    return message.seq


async def ws_c2c_history(c: Caller, req: W.GetC2CHistoryMessageList) -> W.MessageList:
    before = await _before_seq(c, req.lastMsgID)
    items = await c.core.messages.c2c_history(
        c.sdkappid, c.user, req.userID, count=req.count + 1, before_seq=before
    )
    return W.MessageList(
        messageList=[v2tim_message(i.message, c.user, i) for i in items[: req.count]],
        isFinished=len(items) <= req.count,
    )


async def ws_group_history(c: Caller, req: W.GetGroupHistoryMessageList) -> W.MessageList:
    before = await _before_seq(c, req.lastMsgID)
    items = await c.core.messages.group_history(
        c.sdkappid, c.user, req.groupID, count=req.count + 1, before_seq=before
    )
    return W.MessageList(
        messageList=[v2tim_message(i.message, c.user, i) for i in items[: req.count]],
        isFinished=len(items) <= req.count,
    )


# -- Tencent's Chat SDK -------------------------------------------------------------------------


def _own(c: Caller, from_account: str | None) -> None:
    if from_account is not None and from_account != c.user:
        raise CoreError(
            Reason.NOT_ALLOWED, f"From_Account {from_account!r} is not the logged-in {c.user!r}"
        )


async def sdk_sendmsg(c: Caller, body: S.SendMsg) -> S.SendResult:
    """``openim.sendmsg``: the SDK's own MsgSeq, MsgRandom and MsgClientTime are kept as sent,
    so that the message has the same id on both sides."""
    _own(c, body.From_Account)
    sent = await c.core.messages.send_c2c(
        c.sdkappid,
        c.user,
        body.To_Account,
        to_core(body.MsgBody),
        need_receipt=bool(body.IsNeedReadReceipt),
        online_only=body.MsgLifeTime == 0,
        random=body.MsgRandom,
        platform=c.platform,
        client_seq=body.MsgSeq or None,
        client_ms=body.MsgClientTime * 1000,
    )
    m = sent.message
    return S.SendResult(MsgTime=time_s(m.time_ms), MsgSeq=m.shown_seq)


async def sdk_send_group_msg(c: Caller, body: S.SendGroupMsg) -> S.SendResult:
    """``send_group_msg``: the server numbers group messages (the SDK keeps the MsgSeq given)."""
    _own(c, body.From_Account)
    sent = await c.core.messages.send_group(
        c.sdkappid,
        c.user,
        body.GroupId,
        to_core(body.MsgBody),
        need_receipt=bool(body.NeedReadReceipt),
        online_only=bool(body.OnlineOnlyFlag),
        random=body.Random,
        platform=c.platform,
        client_ms=body.MsgClientTime * 1000,
    )
    return S.SendResult(MsgTime=time_s(sent.message.time_ms), MsgSeq=sent.message.seq)

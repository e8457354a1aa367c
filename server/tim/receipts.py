"""TIM read receipts: group and C2C, over REST and the WebSocket."""

from __future__ import annotations

from protocol.tim import errors as E
from protocol.tim import ids
from protocol.tim import rest as R
from protocol.tim import ws as W
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind, Message, ReadFilter, ReceiptCount
from server.tim.auth import TimError
from server.tim.context import Caller
from server.tim.convert import check_msg_id, msg_id, parse_msg_ids, time_s

WS_MAX_PAGE = 100
REST_MAX_PAGE = 200


def v2tim_receipt(count: ReceiptCount) -> W.V2TIMMessageReceipt:
    m = count.message
    if m.kind is ConvKind.GROUP:
        return W.V2TIMMessageReceipt(
            msgID=msg_id(m), groupID=m.group_id, readCount=count.read, unreadCount=count.unread
        )
    return W.V2TIMMessageReceipt(
        msgID=msg_id(m),
        userID=m.receiver,
        isPeerRead=count.read > 0,
        timestamp=time_s(count.peer_read_ms) if count.peer_read_ms else 0,
    )


async def _messages(c: Caller, texts: list[str]) -> list[Message]:
    """msgIDs -> messages, each checked to name a real message of this app."""
    parsed = parse_msg_ids(texts)
    found = await c.core.messages.get_many(c.sdkappid, [i for i, _ in parsed])
    out = []
    for msg_id_, text in parsed:
        m = found.get(msg_id_)
        if m is None:
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {text!r} does not exist")
        check_msg_id(m, text)
        out.append(m)
    return out


# -- WebSocket --------------------------------------------------------------------------------


async def ws_send_receipts(c: Caller, req: W.SendMessageReadReceipts) -> W.Empty:
    ids_ = await _messages(c, req.msgIDList)
    await c.core.receipts.send(c.sdkappid, c.user, ids_, platform=c.platform)
    return W.Empty()


async def ws_get_receipts(c: Caller, req: W.GetMessageReadReceipts) -> W.ReceiptList:
    ids_ = await _messages(c, req.msgIDList)
    counts = await c.core.receipts.counts(c.sdkappid, c.user, ids_)
    return W.ReceiptList(receiptList=[v2tim_receipt(x) for x in counts])


async def ws_read_members(c: Caller, req: W.GetGroupMessageReadMemberList) -> W.ReadMemberList:
    ((msg, _),) = parse_msg_ids([req.msgID])
    message = await c.core.messages.get(c.sdkappid, msg)
    check_msg_id(message, req.msgID)
    count = req.count if 0 < req.count <= WS_MAX_PAGE else WS_MAX_PAGE
    page = await c.core.receipts.members(
        c.sdkappid, c.user, msg, ReadFilter(req.filter), cursor=req.nextSeq, count=count
    )
    profiles = await c.core.directory.profiles(c.sdkappid, [m.user_id for m in page.members])
    return W.ReadMemberList(
        members=[
            W.V2TIMGroupMemberInfo(
                userID=m.user_id,
                nickName=profiles[m.user_id].nick if m.user_id in profiles else "",
                faceURL=profiles[m.user_id].face_url if m.user_id in profiles else "",
            )
            for m in page.members
        ],
        nextSeq=page.next_cursor,
        isFinished=page.finished,
    )


# -- REST: group ------------------------------------------------------------------------------


async def get_group_msg_receipt(
    c: Caller, body: R.GetGroupMsgReceipt
) -> R.GetGroupMsgReceiptResponse:
    rows = await c.core.receipts.group_counts_by_seq(
        c.sdkappid, body.GroupId, [s.MsgSeq for s in body.MsgSeqList]
    )
    return R.GetGroupMsgReceiptResponse(
        GroupMsgReceiptList=[
            R.GroupMsgReceipt(Code=0, MsgSeq=r.seq, ReadNum=r.count.read, UnreadNum=r.count.unread)
            if r.count
            else R.GroupMsgReceipt(Code=E.RECEIPT_NOT_FOUND, MsgSeq=r.seq, ReadNum=0, UnreadNum=0)
            for r in rows
        ]
    )


async def _group_message(c: Caller, group_id: str, seq: int) -> Message:
    found = await c.core.receipts.group_messages_by_seq(c.sdkappid, group_id, [seq])
    if seq not in found:
        raise CoreError(Reason.RECEIPT_NOT_FOUND, f"group {group_id!r} has no message {seq}")
    return found[seq]


async def get_group_msg_receipt_detail(
    c: Caller, body: R.GetGroupMsgReceiptDetail
) -> R.ReadDetailResponse | R.UnreadDetailResponse:
    message = await _group_message(c, body.GroupId, body.MsgSeq)
    if body.Cursor and not body.Cursor.isdigit():
        raise CoreError(Reason.INVALID, f"Cursor {body.Cursor!r} was not returned by this server")
    page = await c.core.receipts.members(
        c.sdkappid,
        c.user,
        message.id,
        ReadFilter(body.Filter),
        cursor=int(body.Cursor or 0),
        count=REST_MAX_PAGE if body.Count <= 0 or body.Count > REST_MAX_PAGE else body.Count,
        as_admin=True,
    )
    cursor = "" if page.finished else str(page.next_cursor)
    if body.Filter == 0:
        return R.ReadDetailResponse(
            MsgSeq=body.MsgSeq,
            Cursor=cursor,
            IsFinish=int(page.finished),
            ReadList=[R.ReadAccount(m.user_id) for m in page.members],
        )
    return R.UnreadDetailResponse(
        MsgSeq=body.MsgSeq,
        Cursor=cursor,
        IsFinish=int(page.finished),
        UnreadList=[R.UnreadAccount(m.user_id) for m in page.members],
    )


async def group_msg_receipt(c: Caller, body: R.GroupMsgReceiptSend) -> R.Envelope:
    seqs = [s.MsgSeq for s in body.MsgSeqList]
    found = await c.core.receipts.group_messages_by_seq(c.sdkappid, body.GroupId, seqs)
    for seq in seqs:
        if seq not in found:
            raise CoreError(
                Reason.RECEIPT_NOT_FOUND, f"group {body.GroupId!r} has no message {seq}"
            )
    await c.core.directory.require(c.sdkappid, [body.From_Account])
    await c.core.receipts.send(
        c.sdkappid, body.From_Account, [found[s].id for s in seqs], platform=c.platform
    )
    return R.Envelope()


# -- REST: C2C --------------------------------------------------------------------------------


async def c2c_msg_read_receipt(c: Caller, body: R.C2CMsgReadReceipt) -> R.Envelope:
    """``Operator_Account`` (the receiver) acknowledges messages ``Peer_Account`` sent it."""
    reader, peer = body.Operator_Account, body.Peer_Account
    await c.core.directory.require(c.sdkappid, [reader, peer])
    keys = []
    for info in body.C2CMsgInfo:
        if info.From_Account != peer or info.To_Account != reader:
            raise CoreError(
                Reason.NOT_ALLOWED,
                f"C2CMsgInfo From_Account {info.From_Account!r} / To_Account {info.To_Account!r} "
                f"must be Peer_Account {peer!r} / Operator_Account {reader!r}",
            )
        key = ids.parse_msg_key(info.MsgKey)
        if key is None:  # the same code as a MsgKey refused at decode (too long, empty)
            raise TimError(E.OPENIM_MSGKEY_ERROR, f"MsgKey {info.MsgKey!r} is not seq_random_time")
        keys.append((info.MsgKey, key))
    found = await c.core.messages.c2c_by_seq(c.sdkappid, reader, peer, [k.seq for _, k in keys])
    wanted = []
    for text, key in keys:
        m = found.get(key.seq)
        if m is None or m.random != key.random or time_s(m.time_ms) != key.time:
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {text!r} does not exist")
        wanted.append(m.id)
    await c.core.receipts.send(c.sdkappid, reader, wanted, platform=c.platform)
    return R.Envelope()

"""TIM read receipts: group and C2C, over REST and the WebSocket."""

from __future__ import annotations

from protocol import codec
from protocol.tim import errors as E
from protocol.tim import rest as R
from protocol.tim import sdk as S
from protocol.tim import ws as W
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind, MemberPage, MessageRef, ReadFilter, ReceiptCount
from server.core.receipts import SeqReceipt
from server.tim.auth import TimError
from server.tim.context import Caller
from server.tim.convert import msg_id, msg_key_ref, msg_refs, time_s
from server.tim.errors import GROUP, code_for

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


# -- WebSocket --------------------------------------------------------------------------------


async def ws_send_receipts(c: Caller, req: W.SendMessageReadReceipts) -> W.Empty:
    await c.core.receipts.send_ids(c.sdkappid, c.user, msg_refs(req.msgIDList), platform=c.platform)
    return W.Empty()


async def ws_get_receipts(c: Caller, req: W.GetMessageReadReceipts) -> W.ReceiptList:
    counts = await c.core.receipts.counts_ids(c.sdkappid, c.user, msg_refs(req.msgIDList))
    return W.ReceiptList(receiptList=[v2tim_receipt(x) for x in counts])


async def ws_read_members(c: Caller, req: W.GetGroupMessageReadMemberList) -> W.ReadMemberList:
    (ref,) = msg_refs([req.msgID])
    count = req.count if 0 < req.count <= WS_MAX_PAGE else WS_MAX_PAGE
    page = await c.core.receipts.members(
        c.sdkappid, c.user, ref, ReadFilter(req.filter), cursor=req.nextSeq, count=count
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


def seq_receipts(rows: list[SeqReceipt]) -> list[R.GroupMsgReceipt]:
    """``GroupMsgReceiptList`` items: ``Code`` 0 with the totals, or why there are none."""
    return [
        R.GroupMsgReceipt(Code=0, MsgSeq=r.seq, ReadNum=r.count.read, UnreadNum=r.count.unread)
        if r.count
        else R.GroupMsgReceipt(
            Code=code_for(r.reason or Reason.RECEIPT_NOT_FOUND, GROUP),
            MsgSeq=r.seq,
            ReadNum=0,
            UnreadNum=0,
        )
        for r in rows
    ]


def cursor_of(text: str) -> int:
    """A receipt-detail ``Cursor`` this server returned ("" first)."""
    if not text:
        return 0
    cursor = codec.parse_uint(text)
    if cursor is None:
        raise CoreError(Reason.INVALID, f"Cursor {text!r} was not returned by this server")
    return cursor


def detail_page(
    seq: int, which: int, page: MemberPage
) -> R.ReadDetailResponse | R.UnreadDetailResponse:
    """A page of readers (``which`` 0) or unreaders (1) in the detail shape; the cursor is ""
    once finished."""
    cursor = "" if page.finished else str(page.next_cursor)
    if which == 0:
        return R.ReadDetailResponse(
            MsgSeq=seq,
            Cursor=cursor,
            IsFinish=int(page.finished),
            ReadList=[R.ReadAccount(m.user_id) for m in page.members],
        )
    return R.UnreadDetailResponse(
        MsgSeq=seq,
        Cursor=cursor,
        IsFinish=int(page.finished),
        UnreadList=[R.UnreadAccount(m.user_id) for m in page.members],
    )


async def get_group_msg_receipt(
    c: Caller, body: R.GetGroupMsgReceipt
) -> R.GetGroupMsgReceiptResponse:
    rows = await c.core.receipts.group_counts(
        c.sdkappid, body.GroupId, [s.MsgSeq for s in body.MsgSeqList]
    )
    return R.GetGroupMsgReceiptResponse(GroupMsgReceiptList=seq_receipts(rows))


async def get_group_msg_receipt_detail(
    c: Caller, body: R.GetGroupMsgReceiptDetail
) -> R.ReadDetailResponse | R.UnreadDetailResponse:
    page = await c.core.receipts.group_members(
        c.sdkappid,
        body.GroupId,
        body.MsgSeq,
        ReadFilter(body.Filter),
        cursor=cursor_of(body.Cursor),
        count=REST_MAX_PAGE if body.Count <= 0 or body.Count > REST_MAX_PAGE else body.Count,
    )
    return detail_page(body.MsgSeq, body.Filter, page)


async def group_msg_receipt(c: Caller, body: R.GroupMsgReceiptSend) -> R.Envelope:
    await c.core.receipts.send_group_seqs(
        c.sdkappid,
        body.From_Account,
        body.GroupId,
        [s.MsgSeq for s in body.MsgSeqList],
        platform=c.platform,
    )
    return R.Envelope()


# -- REST: C2C --------------------------------------------------------------------------------


async def c2c_msg_read_receipt(c: Caller, body: R.C2CMsgReadReceipt) -> R.Envelope:
    """``Operator_Account`` (the receiver) acknowledges messages ``Peer_Account`` sent it."""
    reader, peer = body.Operator_Account, body.Peer_Account
    refs = []
    for info in body.C2CMsgInfo:
        if info.From_Account != peer or info.To_Account != reader:
            raise CoreError(
                Reason.NOT_ALLOWED,
                f"C2CMsgInfo From_Account {info.From_Account!r} / To_Account {info.To_Account!r} "
                f"must be Peer_Account {peer!r} / Operator_Account {reader!r}",
            )
        ref = msg_key_ref(info.MsgKey)
        if ref is None:  # the same code as a MsgKey refused at decode (too long, empty)
            raise TimError(E.OPENIM_MSGKEY_ERROR, f"MsgKey {info.MsgKey!r} is not seq_random_time")
        refs.append(ref)
    await c.core.receipts.send_c2c(c.sdkappid, reader, peer, refs, platform=c.platform)
    return R.Envelope()


# -- Tencent's Chat SDK -------------------------------------------------------------------------


async def sdk_group_msg_receipt(c: Caller, body: S.GroupMsgReceipt) -> R.Envelope:
    await c.core.receipts.send_group_seqs(
        c.sdkappid, c.user, body.GroupId, [s.MsgSeq for s in body.MsgSeqList], platform=c.platform
    )
    return R.Envelope()


async def sdk_get_group_msg_receipt(
    c: Caller, body: S.GetGroupMsgReceipt
) -> R.GetGroupMsgReceiptResponse:
    rows = await c.core.receipts.group_counts(
        c.sdkappid, body.GroupId, [s.MsgSeq for s in body.MsgSeqList], viewer=c.user
    )
    return R.GetGroupMsgReceiptResponse(GroupMsgReceiptList=seq_receipts(rows))


async def sdk_get_group_msg_receipt_detail(
    c: Caller, body: S.GetGroupMsgReceiptDetail
) -> R.ReadDetailResponse | R.UnreadDetailResponse:
    """``Flag`` 1 lists who has not read, anything else who has (as the SDK maps ``filter``);
    ``Num`` outside 1..99 is 100 (the SDK's own clamp)."""
    which = 1 if body.Flag == 1 else 0
    page = await c.core.receipts.group_members(
        c.sdkappid,
        body.GroupId,
        body.MsgSeq,
        ReadFilter(which),
        cursor=cursor_of(str(body.Cursor) if body.Cursor != 0 else ""),
        count=body.Num if 0 < body.Num < WS_MAX_PAGE else WS_MAX_PAGE,
        viewer=c.user,
    )
    return detail_page(body.MsgSeq, which, page)


async def sdk_c2c_msg_read_receipt(c: Caller, body: S.C2CMsgReadReceipt) -> R.Envelope:
    """The logged-in user read these messages of ``Peer_Account``: each named by the tuple the
    SDK knows (seq, random, time), not by REST's MsgKey."""
    peer = body.Peer_Account
    refs = []
    for info in body.C2CMsgInfo:
        if info.From_Account != peer or info.To_Account != c.user:
            raise CoreError(
                Reason.NOT_ALLOWED,
                f"C2CMsgInfo From_Account {info.From_Account!r} / To_Account {info.To_Account!r} "
                f"must be Peer_Account {peer!r} / the logged-in {c.user!r}",
            )
        refs.append(
            MessageRef(
                seq=info.MsgSeq or None,
                random=info.MsgRandom,
                time_s=info.MsgTime or None,
                text=f"{info.MsgSeq}_{info.MsgRandom}_{info.MsgTime}",
            )
        )
    await c.core.receipts.send_c2c(c.sdkappid, c.user, peer, refs, platform=c.platform)
    return R.Envelope()

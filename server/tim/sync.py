"""Catching Tencent's Chat SDK up: offline sync (``openim.getmsg``), the conversation list
(``recentcontact.page_get``), C2C and group history (``getroammsg``, ``group_msg_get``) and
profiles (``portrait_get_all``).

- ``getmsg`` with an empty ``Cookie`` (a new instance) answers the unread count per peer
  (``C2CPairUnreadCount``) and a cookie at the newest message; with a cookie (a reconnect) it
  answers the one-to-one messages sent or received since, which the SDK raises as
  ``MESSAGE_RECEIVED``, 100 at a time (``SyncFlag`` 1: ask again; 2: done).
- ``page_get`` lists every conversation with its newest message and unread count.
- history pages go from the newest message back.
"""

from __future__ import annotations

from typing import Any

from protocol import codec
from protocol.tim import ids
from protocol.tim import sdk as S
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind
from server.core.sync import MAX_SYNC, ConversationView
from server.tim.context import Caller
from server.tim.convert import (
    client_time_s,
    from_core,
    rest_type_name,
    sdk_c2c_item,
    time_s,
    tiny,
)
from server.tim.messages import key_seq

SYNC_MORE = 1
SYNC_DONE = 2
PAGE = 100


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}


def _cookie(text: str) -> int | None:
    """The position a getmsg ``Cookie`` stands for (None: a first sync)."""
    if not text:
        return None
    position = codec.parse_uint(text)
    if position is None:
        raise CoreError(Reason.INVALID, f"Cookie {text!r} was not returned by this server")
    return position


async def sdk_getmsg(c: Caller, body: S.GetMsg) -> dict[str, Any]:
    after = _cookie(body.Cookie)
    unread = await c.core.reads.c2c_unread(c.sdkappid, c.user)
    pairs = [{"From_Account": peer, "UnreadCount": n} for peer, n in unread.items()]
    if after is None:
        position = await c.core.sync.position()
        return _ok(Cookie=str(position), SyncFlag=SYNC_DONE, MsgList=[], C2CPairUnreadCount=pairs)
    messages = await c.core.sync.c2c_since(c.sdkappid, c.user, after, limit=MAX_SYNC)
    more = len(messages) == MAX_SYNC
    position = messages[-1].id if messages else after
    return _ok(
        Cookie=str(position),
        SyncFlag=SYNC_MORE if more else SYNC_DONE,
        MsgList=[sdk_c2c_item(m) for m in messages],
        C2CPairUnreadCount=pairs,
    )


def _session_item(v: ConversationView) -> dict[str, Any]:
    last = v.last
    item: dict[str, Any] = {"UnreadMsgCount": v.unread}
    if last is not None:
        item.update(
            MsgTimeStamp=time_s(last.time_ms),
            MsgSeq=last.shown_seq,
            MsgRandom=last.random,
            LastMsg={"MsgBody": from_core(last.body)},
            LastMsgFlags=8 if last.recalled and v.kind is ConvKind.C2C else 0,
        )
    if v.kind is ConvKind.C2C:
        item.update(
            Type=1,
            To_Account=v.peer,
            C2cPeerReadTime=time_s(v.peer_read_ms),
            LastC2CMsgFromAccount=last.sender if last else "",
        )
    else:
        assert v.group is not None
        item.update(
            Type=2,
            ToAccount=v.group.group_id,
            GroupNick=v.group.name,
            GroupType=rest_type_name(v.group.type),
            MsgGroupFromAccount=last.sender if last else "",
            MsgGroupReadedSeq=v.read_seq,
            GroupNextMsgSeq=v.last_seq + 1,
        )
    return item


async def sdk_page_get(c: Caller, body: S.PageGet) -> dict[str, Any]:
    views = await c.core.sync.conversations(c.sdkappid, c.user)
    page = views[body.StartIndex : body.StartIndex + PAGE]
    end = body.StartIndex + len(page)
    complete = end >= len(views)
    return _ok(
        SessionItem=[_session_item(v) for v in page],
        CompleteFlag=int(complete),
        TimeStamp=0,
        StartIndex=0 if complete else end,
        TopTimeStamp=0,
        TopStartIndex=0,
    )


async def sdk_getroammsg(c: Caller, body: S.GetRoamMsg) -> dict[str, Any]:
    """C2C history: the ``MaxCnt`` newest messages before ``MsgKey`` (none: the newest),
    oldest first as the SDK lists them; the ``MsgKey`` and ``LastMsgTime`` of the oldest
    message returned continue it."""
    before_seq = None
    if body.MsgKey:
        before_seq = await key_seq(c, c.user, body.Peer_Account, body.MsgKey)
    count = body.MaxCnt if 0 < body.MaxCnt <= PAGE else PAGE
    items = await c.core.messages.c2c_history(
        c.sdkappid, c.user, body.Peer_Account, count=count + 1, before_seq=before_seq
    )
    complete = len(items) <= count
    items = items[:count]
    last = items[-1].message if items else None
    return _ok(
        Complete=int(complete),
        MsgCnt=len(items),
        LastMsgTime=time_s(last.time_ms) if last else 0,
        MsgKey=ids.format_msg_key(last.shown_seq, last.random, time_s(last.time_ms))
        if last
        else "",
        MsgList=[sdk_c2c_item(i.message, peer_read=i.receipt_read > 0) for i in reversed(items)],
    )


async def sdk_group_msg_get(c: Caller, body: S.GroupMsgGet) -> dict[str, Any]:
    """Group history: ``ReqMsgNumber`` messages up to ``ReqMsgSeq`` (none: the newest)."""
    count = body.ReqMsgNumber if 0 < body.ReqMsgNumber <= PAGE else PAGE
    before = body.ReqMsgSeq + 1 if body.ReqMsgSeq else None
    items = await c.core.messages.group_history(
        c.sdkappid, c.user, body.GroupId, count=count + 1, before_seq=before
    )
    finished = len(items) <= count
    out = []
    for i in items[:count]:
        m = i.message
        out.append(
            {
                "From_Account": m.sender,
                "MsgSeq": m.seq,
                "Random": m.random,
                "MsgTime": time_s(m.time_ms),
                "MsgClientTime": client_time_s(m),
                "TinyId": tiny(m.app, m.sender),
                "MsgBody": from_core(m.body),
                "MsgPriority": 1,
                "IsPlaceMsg": 0,
                "ToGroupId": m.group_id,
                "IsNeedReadReceipt": int(m.need_receipt),
                "NeedReadReceipt": int(m.need_receipt),
            }
        )
    return _ok(GroupId=body.GroupId, IsFinished=int(finished), RspMsgList=out)


async def sdk_portrait_get_all(c: Caller, body: S.PortraitGetAll) -> dict[str, Any]:
    """Nick and avatar of each user asked (an unknown user: ``ResultCode`` 40006... left
    empty, as the SDK then shows the user id)."""
    wanted = [u.To_Account for u in body.UserItem] or [c.user]
    profiles = await c.core.directory.profiles(c.sdkappid, wanted)
    items = []
    for user in wanted:
        p = profiles.get(user)
        items.append(
            {
                "To_Account": user,
                "ResultCode": 0,
                "ProfileItem": [
                    {"Tag": "Tag_Profile_IM_Nick", "Value": p.nick if p else ""},
                    {"Tag": "Tag_Profile_IM_Image", "Value": p.face_url if p else ""},
                ],
            }
        )
    return _ok(UserProfileItem=items)

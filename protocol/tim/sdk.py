"""The frames of Tencent's own Chat SDK (``@tencentcloud/chat``) over its ``proxyServer`` socket.

Every frame, both ways, is one JSON object ``{"head": {...}, "body": {...}}``: binary WebSocket
frames holding UTF-8 JSON on ``…/binfo``, text frames on ``…/info`` (the SDK's ``devMode``).
``head.servcmd`` (``<service>.<command>``) names the command and ``head.seq`` numbers the request;
an answer echoes both, and carries TIM's envelope (``ActionStatus``/``ErrorCode``/``ErrorInfo``)
in its body. A frame from the server whose servcmd+seq matches no pending request is a push
(``im_open_push.msg_push``). Field names are Tencent's wire names: the SDK renames them to its
own on the way in and out. ``../shared/reference/tim-chat-sdk.md`` and docs/tim-sdk.md describe
every command; this module only has their shapes.

Decoding is in two steps, so that a bad body can still be answered at its servcmd and seq:
:func:`decode_frame` checks the envelope and the head, :func:`decode_body` the command's body.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

import msgspec

from protocol import codec
from protocol.tim.elements import MsgBody
from protocol.tim.rest import Envelope, Seq, SeqOrZero, UInt32

Account = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
GroupIdStr = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Count = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31)]
# A time in seconds: the SDK's clock may be off (or 0 before wslogin answered), never absurd.
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**33)]
Flag = Annotated[int, msgspec.Meta(ge=0, le=1)]

PUSH_CMD: Final = "im_open_push.msg_push"  # pushes: protocol/tim/sdk_push.py
HEARTBEAT: Final = "heartbeat.alive"
LOGIN: Final = "im_open_status.wslogin"
LOGOUT: Final = "im_open_status.wslogout"
HELLO: Final = "im_open_status.wshello"
TELEMETRY: Final = "imopenstat.tim_web_report_v2"


# -- the envelope ------------------------------------------------------------------------------


class Head(msgspec.Struct, frozen=True):
    """The uplink head fields the server reads; the SDK sends more (``ver``, ``cs``...)."""

    servcmd: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0
    sdkappid: Annotated[int, msgspec.Meta(ge=0, le=2**32)] = 0
    identifier: Annotated[str, msgspec.Meta(max_length=64)] = ""
    usersig: Annotated[str, msgspec.Meta(max_length=8192)] = ""
    a2: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    tinyid: Annotated[str, msgspec.Meta(max_length=32)] = ""


class Frame(msgspec.Struct, frozen=True):
    """One uplink frame; ``body`` is decoded per command by :func:`decode_body`."""

    head: Head
    body: msgspec.Raw = msgspec.Raw(b"{}")


class _Address(msgspec.Struct):
    servcmd: Any = None
    seq: Any = None


class _Peek(msgspec.Struct):
    head: _Address | None = None


_frame_decoder = codec.Decoder(Frame)
_peek_decoder = codec.Decoder(_Peek)
_encoder = msgspec.json.Encoder()


def decode_frame(data: str | bytes) -> Frame:
    """The envelope and head of one uplink frame.

    Raises msgspec.DecodeError (not JSON, or nested too deep) or msgspec.ValidationError (not
    a frame)."""
    return _frame_decoder.decode(data)


def peek_address(data: str | bytes) -> tuple[str, int]:
    """Best-effort ``servcmd`` and ``seq`` of a frame that failed to decode, to address the
    error; ``("", 0)`` when there is none. Never raises."""
    try:
        peek = _peek_decoder.decode(data)
    except msgspec.DecodeError:  # e.g. a body nested too deep to decode
        return _scan_address(data)
    head = peek.head
    if head is None:
        return "", 0
    cmd, seq = head.servcmd, head.seq
    ok_seq = isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= 2**53
    return (cmd if isinstance(cmd, str) and len(cmd) <= 128 else ""), (seq if ok_seq else 0)


_SERVCMD = re.compile(rb'"servcmd"\s*:\s*"([A-Za-z0-9_.]{1,128})"')
_SEQ = re.compile(rb'"seq"\s*:\s*([0-9]{1,15})\b')


def _scan_address(data: str | bytes) -> tuple[str, int]:
    """The servcmd and seq written in the first 4 KiB of a frame that does not decode."""
    head = (data.encode("utf-8", "replace") if isinstance(data, str) else data)[:4096]
    cmd, seq = _SERVCMD.search(head), _SEQ.search(head)
    return (cmd[1].decode() if cmd else ""), (int(seq[1]) if seq else 0)


def decode_body(frame: Frame, body_type: type[Any]) -> Any:
    """The frame's body as ``body_type``; an empty body is ``{}``.

    Raises msgspec.DecodeError or msgspec.ValidationError."""
    raw = bytes(frame.body) or b"{}"
    return codec.decode(raw, body_type)


class ReplyHead(msgspec.Struct):
    servcmd: str
    seq: int


class _Downlink(msgspec.Struct):
    head: ReplyHead
    body: Any


def encode_reply(servcmd: str, seq: int, body: msgspec.Struct | dict[str, Any]) -> bytes:
    """An answer to the request ``servcmd``/``seq``."""
    return _encoder.encode(_Downlink(ReplyHead(servcmd, seq), body))


def encode_error(servcmd: str, seq: int, code: int, info: str) -> bytes:
    """A refusal: the SDK rejects the call with ``{code, message}``."""
    return encode_reply(servcmd, seq, Envelope(ActionStatus="FAIL", ErrorCode=code, ErrorInfo=info))


class Empty(msgspec.Struct):
    """A body the server does not need to read."""


# -- session ---------------------------------------------------------------------------------


class WsLogin(msgspec.Struct, frozen=True):
    State: str = "Online"
    InstType: Count = 0
    CustomInfo: Annotated[str, msgspec.Meta(max_length=4096)] = ""


class WsLoginResult(Envelope):
    A2Key: str
    TinyId: str
    InstId: int
    HelloInterval: int
    TimeStamp: int


# -- messages --------------------------------------------------------------------------------


class SendMsg(msgspec.Struct, frozen=True):
    """``openim.sendmsg``: note ``MsgRandom`` and ``IsNeedReadReceipt`` (the group send says
    ``Random`` and ``NeedReadReceipt``); the SDK chooses ``MsgSeq`` and keeps it."""

    To_Account: Account
    MsgBody: MsgBody
    MsgRandom: UInt32 = 0
    MsgSeq: UInt32 = 0
    MsgClientTime: Seconds = 0
    IsNeedReadReceipt: Flag = 0
    MsgLifeTime: Annotated[int, msgspec.Meta(ge=0, le=604800)] | None = None  # 0: online only
    CloudCustomData: Annotated[str, msgspec.Meta(max_length=12 * 1024)] = ""
    From_Account: Account | None = None


class SendResult(Envelope):
    """Both sends' answer: the server's time, and the ``MsgSeq`` the message has (C2C: the
    SDK's own, kept; group: the group's, by the server)."""

    MsgTime: int
    MsgSeq: int


class SendGroupMsg(msgspec.Struct, frozen=True):
    GroupId: GroupIdStr
    MsgBody: MsgBody
    Random: UInt32 = 0
    ClientSeq: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0
    MsgClientTime: Seconds = 0
    NeedReadReceipt: Flag = 0
    OnlineOnlyFlag: Flag = 0
    CloudCustomData: Annotated[str, msgspec.Meta(max_length=12 * 1024)] = ""
    From_Account: Account | None = None


# -- receipts --------------------------------------------------------------------------------


class MsgSeqItem(msgspec.Struct, frozen=True):
    MsgSeq: Seq


MsgSeqList = Annotated[list[MsgSeqItem], msgspec.Meta(min_length=1, max_length=100)]


class GroupMsgReceipt(msgspec.Struct, frozen=True):
    """``group_msg_receipt``: the logged-in user has read these group messages."""

    GroupId: GroupIdStr
    MsgSeqList: MsgSeqList


class GetGroupMsgReceipt(msgspec.Struct, frozen=True):
    """Answered like REST's (``GroupMsgReceiptList`` items ``{Code, MsgSeq, ReadNum,
    UnreadNum}``): the SDK applies an item only when ``Code`` is 0, matched by ``MsgSeq``."""

    GroupId: GroupIdStr
    MsgSeqList: MsgSeqList


class GetGroupMsgReceiptDetail(msgspec.Struct, frozen=True):
    """``Flag`` is the public ``filter`` (0 read, 1 unread), ``Num`` the ``count``, ``Cursor``
    the public ``cursor`` ("" first; the SDK's own default is the number 0). Answered like
    REST's detail; the SDK calls ``.map`` on the list asked for, so it is always present."""

    GroupId: GroupIdStr
    MsgSeq: Seq
    Flag: Count = 0
    Num: Count = 0
    Cursor: Annotated[str, msgspec.Meta(max_length=32)] | SeqOrZero = ""


class C2CMsgInfo(msgspec.Struct, frozen=True):
    """A one-to-one message as the SDK names it (not by REST's ``MsgKey``)."""

    From_Account: Account
    To_Account: Account
    MsgRandom: UInt32
    MsgSeq: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0
    MsgTime: Seconds = 0
    MsgClientTime: Seconds = 0


class C2CMsgReadReceipt(msgspec.Struct, frozen=True):
    """``c2c_msg_read_receipt``: the logged-in user has read these messages of ``Peer_Account``."""

    Peer_Account: Account
    C2CMsgInfo: Annotated[list[C2CMsgInfo], msgspec.Meta(min_length=1, max_length=100)]


# -- conversation reads --------------------------------------------------------------------------


class C2CMsgReadedItem(msgspec.Struct, frozen=True):
    To_Account: Account  # the peer whose messages were read
    LastedMsgTime: Seconds = 0  # the time of the last message read (0: now)
    Receipt: Count = 0


class C2CMsgReaded(msgspec.Struct, frozen=True):
    C2CMsgReadedItem: Annotated[list[C2CMsgReadedItem], msgspec.Meta(min_length=1, max_length=100)]
    Cookie: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class MsgReaded(msgspec.Struct, frozen=True):
    """``openim.msgreaded`` (``setMessageRead`` on a C2C conversation)."""

    C2CMsgReaded: C2CMsgReaded


class MsgReadReport(msgspec.Struct, frozen=True):
    """``msg_read_report`` (``setMessageRead`` on a group): the unread cursor, not receipts."""

    GroupId: GroupIdStr
    MsgReadedSeq: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0


class GetPeerReadTime(msgspec.Struct, frozen=True):
    To_Account: Annotated[list[Account], msgspec.Meta(min_length=1, max_length=100)]


class PeerReadTimeResult(Envelope):
    ReadTime: list[int]  # one per asked user, in order (0: never read)


# -- groups ----------------------------------------------------------------------------------


class GetJoinedGroupList(msgspec.Struct, frozen=True):
    Member_Account: Account | None = None
    Limit: Annotated[int, msgspec.Meta(ge=0, le=10000)] = 0
    Offset: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0


GroupIdList = Annotated[list[GroupIdStr], msgspec.Meta(min_length=1, max_length=100)]


class GetGroupSelfMemberInfo(msgspec.Struct, frozen=True):
    GroupIdList: GroupIdList


# -- sync, conversations, history -------------------------------------------------------------


class GetMsg(msgspec.Struct, frozen=True):
    Cookie: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    SyncFlag: Count = 0


class PageGet(msgspec.Struct, frozen=True):
    TimeStamp: Annotated[int, msgspec.Meta(ge=0, le=2**53)] = 0
    StartIndex: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0


class GetRoamMsg(msgspec.Struct, frozen=True):
    Peer_Account: Account
    MaxCnt: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 15
    LastMsgTime: Seconds = 0
    MsgKey: Annotated[str, msgspec.Meta(max_length=64)] = ""


class GroupMsgGet(msgspec.Struct, frozen=True):
    GroupId: GroupIdStr
    ReqMsgNumber: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 15
    ReqMsgSeq: SeqOrZero | None = None


class UserItem(msgspec.Struct, frozen=True):
    To_Account: Account


class PortraitGetAll(msgspec.Struct, frozen=True):
    UserItem: Annotated[list[UserItem], msgspec.Meta(max_length=500)] = []

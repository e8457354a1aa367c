"""The pushes of Tencent's Chat SDK protocol: ``im_open_push.msg_push`` frames and the
``EventArray`` items in them (see ``protocol/tim/sdk.py`` for the frames themselves).

The SDK routes each item by the key it carries, not by ``Event``: ``C2cMsgArray`` and
``GroupMsgArray`` are messages, ``GroupTips`` with Event 5 and a ``MsgBody`` object holding
``GroupMsgReceiptList`` is a group receipt notice, Event 16 with ``UserId``/``PeerReadTime``
a C2C receipt, ``C2cNotifyMsgArray`` read notices. Receipt items name a message by the parts of
the SDK's id for it: ``TinyId``, ``MsgClientTime``, ``MsgRandom``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from protocol.tim.elements import MsgBody
from protocol.tim.sdk import PUSH_CMD, encode_reply

# Each EventArray item is routed by the key it carries; Event 5 (group tips) and 16 (C2C
# receipt) matter to the SDK, the others are this server's placeholders (the SDK ignores them).

EVENT_C2C_MSG: Final = 1
EVENT_GROUP_MSG: Final = 3
EVENT_GROUP_TIPS: Final = 5
EVENT_C2C_NOTIFY: Final = 9
EVENT_C2C_RECEIPT: Final = 16


class C2CMsgItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A one-to-one message, as pushed, synced and roamed."""

    From_Account: str
    To_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgClientTime: int
    TinyId: str
    MsgBody: MsgBody
    IsNeedReadReceipt: int = 0
    From_AccountNick: str = ""
    CloudCustomData: str = ""
    MsgKey: str = ""
    IsPeerRead: int = 0
    MsgFlagBits: int = 0


class GroupInfo(msgspec.Struct, kw_only=True, omit_defaults=True):
    GroupId: str
    GroupType: str = ""
    From_AccountNick: str = ""


class GroupMsgItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A group message, as pushed (``ToGroupId`` becomes ``to``, ``GroupInfo.GroupId`` its group)."""

    From_Account: str
    ToGroupId: str
    GroupInfo: GroupInfo
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgClientTime: int
    TinyId: str
    MsgBody: MsgBody
    MsgPriority: str = "Normal"
    IsNeedReadReceipt: int = 0
    CloudCustomData: str = ""


class C2CMsgEvent(msgspec.Struct):
    Event: int
    C2cMsgArray: list[C2CMsgItem]


class GroupMsgEvent(msgspec.Struct):
    Event: int
    GroupMsgArray: list[GroupMsgItem]


class ReceiptMsgRef(msgspec.Struct, kw_only=True):
    """How a receipt push names a message: the three parts of the SDK's message id."""

    TinyId: str
    MsgClientTime: int
    MsgRandom: int
    MsgSeq: int


class GroupReceiptCount(ReceiptMsgRef, kw_only=True):
    ReadNum: int
    UnreadNum: int


class GroupReceiptBody(msgspec.Struct):
    """A group tip's ``MsgBody`` is an object here, not the usual element list."""

    GroupMsgReceiptList: list[GroupReceiptCount]


class GroupRef(msgspec.Struct):
    GroupId: str


class GroupReceiptTip(msgspec.Struct):
    GroupInfo: GroupRef
    MsgBody: GroupReceiptBody


class GroupTipsEvent(msgspec.Struct):
    Event: int
    GroupTips: list[GroupReceiptTip]


class C2CReceiptEvent(msgspec.Struct):
    """Event 16: ``UserId`` (the reader) read these messages at ``PeerReadTime``."""

    Event: int
    UserId: str
    PeerReadTime: int
    C2cMsgInfo: list[ReceiptMsgRef]


class UinPairRead(msgspec.Struct):
    From_Account: str
    To_Account: str
    LastReadTime: int


class C2CReadedReceipt(msgspec.Struct):
    """``To_Account`` is the reader; the SDK makes the conversation ``C2C`` + it."""

    To_Account: str
    UinPairReadArray: list[UinPairRead]


class C2CReadNotify(msgspec.Struct):
    C2cReadedReceipt: C2CReadedReceipt


class PeerReadTime(msgspec.Struct):
    From_Account: str  # the peer whose messages were read
    LastReadTime: int


class C2CReadSyncInfo(msgspec.Struct):
    UinPairReadArray: list[PeerReadTime]


class C2CReadSync(msgspec.Struct):
    """To the reader's other instances: the conversation with the peer was read."""

    ReadC2cMsgNotify: C2CReadSyncInfo


class C2CNotifyEvent(msgspec.Struct):
    Event: int
    C2cNotifyMsgArray: list[Any]


def encode_push(seq: int, events: list[msgspec.Struct]) -> bytes:
    """A ``msg_push`` carrying ``EventArray`` items (the SDK routes each by the key it holds)."""
    return encode_reply(PUSH_CMD, seq, PushBody(EventArray=events))


class PushBody(msgspec.Struct):
    EventArray: list[Any]

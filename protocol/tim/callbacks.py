"""TIM webhook ("callback") bodies, the URL query they are sent with, and the Sign.

Shapes follow Tencent's callback pages (reference/tim.md section 5). ``EventTime`` is in
milliseconds; ``MsgTime``/``LastReadTime`` in seconds.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec

from protocol.tim.elements import MsgElem


class _Callback(msgspec.Struct, kw_only=True, tag_field="CallbackCommand"):
    EventTime: int


class GroupAfterSendMsg(_Callback, tag="Group.CallbackAfterSendMsg"):
    GroupId: str
    Type: str
    From_Account: str
    Operator_Account: str
    Random: int
    MsgSeq: int
    MsgTime: int
    OnlineOnlyFlag: int
    NeedReadReceipt: int
    MsgBody: list[MsgElem]
    CloudCustomData: str = ""


class C2CAfterSendMsg(_Callback, tag="C2C.CallbackAfterSendMsg"):
    From_Account: str
    To_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTime: int
    MsgKey: str
    OnlineOnlyFlag: int
    IsNeedReadReceipt: int
    SendMsgResult: int
    ErrorInfo: str
    UnreadMsgNum: int
    MsgBody: list[MsgElem]
    CloudCustomData: str = ""


class ReadReceiptMember(msgspec.Struct):
    Member_Account: str


class GroupMsgReceiptItem(msgspec.Struct):
    MsgSeq: int
    ReadNum: int
    UnreadNum: int
    ReadReceiptMembers: list[ReadReceiptMember]


class GroupAfterReadReceipt(_Callback, tag="Group.CallbackAfterReadReceipt"):
    GroupId: str
    Type: str
    GroupMsgReceiptList: list[GroupMsgReceiptItem]


class C2CAfterMsgReport(_Callback, tag="C2C.CallbackAfterMsgReport"):
    Report_Account: str
    Peer_Account: str
    LastReadTime: int
    UnreadMsgNum: int


Callback = GroupAfterSendMsg | C2CAfterSendMsg | GroupAfterReadReceipt | C2CAfterMsgReport


class CallbackReply(msgspec.Struct):
    """What the app backend answers (ignored for "After" callbacks, but logged)."""

    ActionStatus: str = ""
    ErrorCode: int = 0
    ErrorInfo: str = ""


def command_of(callback: Callback) -> str:
    tag = type(callback).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def sign(token: str, request_time: int) -> str:
    """``Sign = sha256(Token + RequestTime)``, lower-case hex (webhook authentication)."""
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def callback_url(
    base_url: str,
    *,
    sdkappid: int,
    command: str,
    client_ip: str = "127.0.0.1",
    platform: str = "RESTAPI",
    token: str = "",
    request_time: int | None = None,
) -> str:
    """The configured URL with TIM's query parameters appended (and Sign/RequestTime when a
    token is set). Existing query parameters of ``base_url`` are kept."""
    params = {
        "SdkAppid": str(sdkappid),
        "CallbackCommand": command,
        "contenttype": "json",
        "ClientIP": client_ip,
        "OptPlatform": platform,
    }
    if token:
        if request_time is None:
            raise ValueError("request_time is needed when a token is set")
        params["RequestTime"] = str(request_time)
        params["Sign"] = sign(token, request_time)
    parts = urlsplit(base_url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))

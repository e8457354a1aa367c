"""This server's WebSocket protocol for logged-in TIM users (the V2TIM side).

Every frame is one JSON text message. The client sends *requests*, tagged by ``cmd`` (the V2TIM
method name) and numbered by ``reqId``; the server answers each with a :class:`Response` carrying
the same ``cmd`` and ``reqId``, ``code`` (0 = success, otherwise a TIM code) and ``desc``; and it
sends *pushes*, tagged by ``event`` (the V2TIM listener name). Field names are V2TIM's.
docs/protocol.md documents each frame; its JSON Schema is generated from these types.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from protocol import codec
from protocol.tim.elements import MsgBody
from protocol.tim.rest import Seconds, SeqOrZero, UInt32

ReqId = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
UserID = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
GroupID = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MsgID = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MsgIDList = Annotated[list[MsgID], msgspec.Meta(max_length=100)]


class Request(msgspec.Struct, frozen=True, kw_only=True, tag_field="cmd"):
    reqId: ReqId = 0


class Login(Request, frozen=True, tag="login"):
    """Authenticate this connection. Must be the first request."""

    sdkAppID: UInt32
    userID: UserID
    userSig: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]


class Logout(Request, frozen=True, tag="logout"):
    pass


class OutgoingMessage(msgspec.Struct, frozen=True, kw_only=True):
    elemList: MsgBody
    needReadReceipt: bool = False
    cloudCustomData: Annotated[str, msgspec.Meta(max_length=4096)] = ""


class SendMessage(Request, frozen=True, tag="sendMessage"):
    """Send to exactly one of ``receiver`` (C2C) or ``groupID``."""

    message: OutgoingMessage
    receiver: UserID | None = None
    groupID: GroupID | None = None
    onlineUserOnly: bool = False


class SendMessageReadReceipts(Request, frozen=True, tag="sendMessageReadReceipts"):
    msgIDList: MsgIDList


class GetMessageReadReceipts(Request, frozen=True, tag="getMessageReadReceipts"):
    msgIDList: MsgIDList


class GetGroupMessageReadMemberList(Request, frozen=True, tag="getGroupMessageReadMemberList"):
    msgID: MsgID
    filter: Annotated[int, msgspec.Meta(ge=0, le=1)] = 0
    nextSeq: SeqOrZero = 0
    count: UInt32 = 100  # 0 or > 100 is taken as 100, like the SDK


class MarkC2CMessageAsRead(Request, frozen=True, tag="markC2CMessageAsRead"):
    userID: UserID


class MarkGroupMessageAsRead(Request, frozen=True, tag="markGroupMessageAsRead"):
    groupID: GroupID


class CleanConversationUnreadMessageCount(
    Request, frozen=True, tag="cleanConversationUnreadMessageCount"
):
    """``conversationID`` is ``c2c_<userID>`` or ``group_<groupID>``."""

    conversationID: Annotated[str, msgspec.Meta(min_length=5, max_length=80)]
    cleanTimestamp: Seconds = 0
    cleanSequence: SeqOrZero = 0


class GetConversation(Request, frozen=True, tag="getConversation"):
    conversationID: Annotated[str, msgspec.Meta(min_length=5, max_length=80)]


class GetC2CHistoryMessageList(Request, frozen=True, tag="getC2CHistoryMessageList"):
    userID: UserID
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    lastMsgID: MsgID | None = None


class GetGroupHistoryMessageList(Request, frozen=True, tag="getGroupHistoryMessageList"):
    groupID: GroupID
    count: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    lastMsgID: MsgID | None = None


AnyRequest = (
    Login
    | Logout
    | SendMessage
    | SendMessageReadReceipts
    | GetMessageReadReceipts
    | GetGroupMessageReadMemberList
    | MarkC2CMessageAsRead
    | MarkGroupMessageAsRead
    | CleanConversationUnreadMessageCount
    | GetConversation
    | GetC2CHistoryMessageList
    | GetGroupHistoryMessageList
)

COMMANDS: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in AnyRequest.__args__)


# -- data carried by responses and pushes ---------------------------------------------------


class V2TIMMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    msgID: str
    timestamp: int  # seconds
    sender: str
    seq: int
    random: int
    elemList: MsgBody
    isSelf: bool = False
    isRead: bool = False
    isPeerRead: bool = False  # C2C, own messages: the peer's conversation read time covers it
    needReadReceipt: bool = False
    userID: str | None = None  # C2C: the peer, whichever side sent it
    groupID: str | None = None
    cloudCustomData: str = ""
    readReceiptCode: int = 0  # non-zero: asked for receipts, but none are kept (why)


class V2TIMMessageReceipt(msgspec.Struct, kw_only=True, omit_defaults=True):
    msgID: str  # empty for a conversation-level C2C read (onRecvC2CReadReceipt)
    userID: str | None = None
    groupID: str | None = None
    isPeerRead: bool = False
    timestamp: int = 0
    readCount: int = 0
    unreadCount: int = 0


class V2TIMGroupMemberInfo(msgspec.Struct, kw_only=True):
    userID: str
    nickName: str = ""
    nameCard: str = ""
    friendRemark: str = ""
    faceURL: str = ""


class LoginResult(msgspec.Struct):
    userID: str
    sdkAppID: int
    serverTime: int


class SendResult(msgspec.Struct):
    message: V2TIMMessage


class ReceiptList(msgspec.Struct):
    receiptList: list[V2TIMMessageReceipt]


class ReadMemberList(msgspec.Struct):
    members: list[V2TIMGroupMemberInfo]
    nextSeq: int
    isFinished: bool


class MessageList(msgspec.Struct):
    messageList: list[V2TIMMessage]
    isFinished: bool


class ConversationInfo(msgspec.Struct):
    conversationID: str
    unreadCount: int


class Empty(msgspec.Struct):
    pass


ResponseData = (
    LoginResult | SendResult | ReceiptList | ReadMemberList | MessageList | ConversationInfo | Empty
)


class Response(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The answer to one request: same ``cmd`` and ``reqId``."""

    cmd: str
    reqId: int
    code: int = 0
    desc: str = ""
    data: Any = None


class Push(msgspec.Struct, kw_only=True):
    """A server push: ``event`` is a V2TIM listener method name."""

    event: Literal[
        "onRecvNewMessage", "onRecvMessageReadReceipts", "onRecvC2CReadReceipt", "onKickedOffline"
    ]
    data: Any


class NewMessagePush(msgspec.Struct):
    message: V2TIMMessage


class KickedOffline(msgspec.Struct):
    reason: str


request_decoder: codec.Decoder[AnyRequest] = codec.Decoder(AnyRequest)
encoder = msgspec.json.Encoder()


class _Address(msgspec.Struct):
    """Just the fields that address a response; everything else in the frame is skipped."""

    cmd: Any = None
    reqId: Any = None


_address_decoder = codec.Decoder(_Address)
_CMD = re.compile(rb'"cmd"\s*:\s*"([A-Za-z]{1,64})"')
_REQ_ID = re.compile(rb'"reqId"\s*:\s*([0-9]{1,15})\b')


def peek_address(raw: str | bytes) -> tuple[str, int]:
    """Best-effort ``cmd`` and ``reqId`` of a frame that failed to decode (or is over the size
    limit), to address the error; ``("", 0)`` when there is none. Other fields are skipped
    unparsed; a frame that is not JSON at all (nested too deep, say) is scanned for them in its
    first 4 KiB. Never raises."""
    try:
        address = _address_decoder.decode(raw)
    except msgspec.DecodeError:
        head = (raw.encode("utf-8", "replace") if isinstance(raw, str) else raw)[:4096]
        cmd_m, req_m = _CMD.search(head), _REQ_ID.search(head)
        req = int(req_m[1]) if req_m else 0
        return (cmd_m[1].decode() if cmd_m else ""), (req if req <= 2**53 else 0)
    cmd, req = address.cmd, address.reqId
    ok_req = isinstance(req, int) and not isinstance(req, bool) and 0 <= req <= 2**53
    return (cmd if isinstance(cmd, str) else ""), (req if ok_req else 0)


def decode_request(data: str | bytes) -> AnyRequest:
    """Decode and validate one client frame. Raises msgspec.ValidationError/DecodeError."""
    return request_decoder.decode(data)


def encode(frame: Response | Push) -> bytes:
    return encoder.encode(frame)


def json_schema() -> dict[str, Any]:
    """JSON Schema of every frame, for docs/protocol.md."""
    schemas, components = msgspec.json.schema_components(
        [
            AnyRequest,
            Response,
            Push,
            *ResponseData.__args__,
            NewMessagePush,
            KickedOffline,
        ]
    )
    return {"$defs": components, "requests": schemas[0], "response": schemas[1], "push": schemas[2]}

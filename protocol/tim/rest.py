"""TIM REST API bodies (``/v4/{service}/{command}``), request and response, by command.

Field names are TIM's own. Requests ignore unknown fields (as TIM does) but every known field
is type- and range-checked at decode. Responses embed the common envelope
``ActionStatus``/``ErrorCode``/``ErrorInfo``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import field

from protocol.tim.elements import MsgBody

Account = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Flag = Annotated[int, msgspec.Meta(ge=0, le=1)]
UInt32 = Annotated[int, msgspec.Meta(ge=0, le=4294967295)]
MAX_SEQ = 2**53 - 1
"""The largest seq a request may name: JavaScript's largest exact integer, which TIM's own web
SDK can hold, and far inside SQLite's 2**63 - 1 even after the arithmetic handlers do."""
Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
SeqOrZero = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=253402300799)]
"""A Unix time in seconds, at most 9999-12-31T23:59:59Z (so any ``MaxTime`` "far in the future"
works, and its milliseconds still fit SQLite)."""
GroupIdStr = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Envelope(msgspec.Struct, kw_only=True):
    """The envelope every response has; subclasses add their command's fields after it."""

    ActionStatus: Literal["OK", "FAIL"] = "OK"
    ErrorCode: int = 0
    ErrorInfo: str = ""


class Request(msgspec.Struct, frozen=True, kw_only=True):
    pass


# -- im_open_login_svc ----------------------------------------------------------------------


class AccountImport(Request, frozen=True):
    UserID: Account
    Nick: Annotated[str, msgspec.Meta(max_length=500)] = ""
    FaceUrl: Annotated[str, msgspec.Meta(max_length=500)] = ""


class MultiAccountImport(Request, frozen=True):
    Accounts: Annotated[list[Account], msgspec.Meta(min_length=1, max_length=100)]


class MultiAccountImportResponse(Envelope):
    FailAccounts: list[str] = []


# -- group_open_http_svc --------------------------------------------------------------------

GroupTypeName = Literal[
    "Private", "Work", "Public", "ChatRoom", "Meeting", "AVChatRoom", "Community"
]


class MemberIn(Request, frozen=True):
    Member_Account: Account
    Role: str = ""


class CreateGroup(Request, frozen=True):
    Type: GroupTypeName
    Name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    Owner_Account: Account | None = None
    GroupId: GroupIdStr | None = None
    MemberList: Annotated[list[MemberIn], msgspec.Meta(max_length=500)] = []


class CreateGroupResponse(Envelope):
    GroupId: str


class AddGroupMember(Request, frozen=True):
    GroupId: GroupIdStr
    MemberList: Annotated[list[MemberIn], msgspec.Meta(min_length=1, max_length=300)]
    Silence: Flag = 0


class MemberResult(msgspec.Struct):
    Member_Account: str
    Result: int  # 0 failed, 1 added, 2 already a member


class AddGroupMemberResponse(Envelope):
    MemberList: list[MemberResult]


class DeleteGroupMember(Request, frozen=True):
    GroupId: GroupIdStr
    MemberToDel_Account: Annotated[list[Account], msgspec.Meta(min_length=1, max_length=100)]
    Silence: Flag = 0
    Reason: str = ""


class DestroyGroup(Request, frozen=True):
    GroupId: GroupIdStr


class GetGroupMemberInfo(Request, frozen=True):
    GroupId: GroupIdStr
    Limit: Annotated[int, msgspec.Meta(ge=0, le=6000)] = 0
    Offset: SeqOrZero = 0


class MemberOut(msgspec.Struct):
    Member_Account: str
    Role: str
    JoinTime: int
    MsgSeq: int
    MsgFlag: str = "AcceptAndNotify"
    LastSendMsgTime: int = 0
    ShutUpUntil: int = 0
    NameCard: str = ""


class GetGroupMemberInfoResponse(Envelope):
    MemberNum: int
    MemberList: list[MemberOut]


class SendGroupMsg(Request, frozen=True):
    GroupId: GroupIdStr
    Random: UInt32
    MsgBody: MsgBody
    From_Account: Account | None = None
    NeedReadReceipt: Flag = 0
    OnlineOnlyFlag: Flag = 0
    CloudCustomData: str = ""


class SendGroupMsgResponse(Envelope):
    MsgTime: int
    MsgSeq: int


class GroupMsgGetSimple(Request, frozen=True):
    GroupId: GroupIdStr
    ReqMsgNumber: Annotated[int, msgspec.Meta(ge=1, le=20)]
    ReqMsgSeq: SeqOrZero = 0


class GroupMsgOut(msgspec.Struct):
    From_Account: str
    IsPlaceMsg: int
    MsgBody: MsgBody
    MsgPriority: int
    MsgRandom: int
    MsgSeq: int
    MsgTimeStamp: int
    NeedReadReceipt: int


class GroupMsgGetSimpleResponse(Envelope):
    GroupId: str
    IsFinished: int
    RspMsgList: list[GroupMsgOut]


class MsgSeqItem(Request, frozen=True):
    MsgSeq: Seq


class GetGroupMsgReceipt(Request, frozen=True):
    GroupId: GroupIdStr
    MsgSeqList: Annotated[list[MsgSeqItem], msgspec.Meta(min_length=1, max_length=100)]


class GroupMsgReceipt(msgspec.Struct):
    Code: int
    MsgSeq: int
    ReadNum: int
    UnreadNum: int


class GetGroupMsgReceiptResponse(Envelope):
    GroupMsgReceiptList: list[GroupMsgReceipt]


class GetGroupMsgReceiptDetail(Request, frozen=True):
    GroupId: GroupIdStr
    MsgSeq: Seq
    Filter: Flag = 0
    Cursor: Annotated[str, msgspec.Meta(max_length=32)] = ""
    Count: UInt32 = 100


class ReadAccount(msgspec.Struct):
    Read_Account: str


class UnreadAccount(msgspec.Struct):
    Unread_Account: str


class ReadDetailResponse(Envelope):
    """``Filter`` 0: the members who have read."""

    MsgSeq: int
    Cursor: str
    IsFinish: int
    ReadList: list[ReadAccount]


class UnreadDetailResponse(Envelope):
    """``Filter`` 1: the members who have not read."""

    MsgSeq: int
    Cursor: str
    IsFinish: int
    UnreadList: list[UnreadAccount]


class GroupMsgReceiptSend(Request, frozen=True):
    GroupId: GroupIdStr
    From_Account: Account
    MsgSeqList: Annotated[list[MsgSeqItem], msgspec.Meta(min_length=1, max_length=50)]


# -- openim ---------------------------------------------------------------------------------


class SendMsg(Request, frozen=True):
    To_Account: Account
    MsgRandom: UInt32
    MsgBody: MsgBody
    From_Account: Account | None = None
    SyncOtherMachine: Annotated[int, msgspec.Meta(ge=1, le=2)] = 1
    MsgLifeTime: Annotated[int, msgspec.Meta(ge=0, le=604800)] = 604800
    MsgSeq: UInt32 | None = (
        None  # the sender's number for it, kept (MsgKey uses it); none: the server numbers
    )
    IsNeedReadReceipt: Flag = 0
    OnlineOnlyFlag: Flag = 0
    CloudCustomData: str = ""


class SendMsgResponse(Envelope):
    MsgTime: int
    MsgKey: str


class AdminGetRoamMsg(Request, frozen=True):
    Operator_Account: Account
    Peer_Account: Account
    MaxCnt: Annotated[int, msgspec.Meta(ge=1, le=100)]
    MinTime: Seconds
    MaxTime: Seconds
    LastMsgKey: str = ""


class RoamMsg(msgspec.Struct):
    From_Account: str
    To_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgFlagBits: int
    IsPeerRead: int
    MsgKey: str
    MsgBody: MsgBody
    CloudCustomData: str = ""
    IsNeedReadReceipt: int = 0


class AdminGetRoamMsgResponse(Envelope):
    Complete: int
    MsgCnt: int
    LastMsgTime: int
    LastMsgKey: str
    MsgList: list[RoamMsg]


class C2CMsgInfo(Request, frozen=True):
    From_Account: Account
    To_Account: Account
    MsgKey: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class C2CMsgReadReceipt(Request, frozen=True):
    Operator_Account: Account
    Peer_Account: Account
    C2CMsgInfo: Annotated[list[C2CMsgInfo], msgspec.Meta(min_length=1, max_length=100)]


class AdminSetMsgRead(Request, frozen=True):
    Report_Account: Account
    Peer_Account: Account
    MsgReadTime: Seconds | None = None


class GetC2CUnreadMsgNum(Request, frozen=True):
    To_Account: Account
    Peer_Account: Annotated[list[Account], msgspec.Meta(max_length=10)] | None = None


class C2CUnread(msgspec.Struct):
    Peer_Account: str
    C2CUnreadMsgNum: int


class GetC2CUnreadMsgNumResponse(Envelope):
    AllC2CUnreadMsgNum: int
    C2CUnreadMsgNumList: list[C2CUnread] = field(default_factory=list)


# -- the command table ----------------------------------------------------------------------

REQUESTS: dict[tuple[str, str], type[Request]] = {
    ("im_open_login_svc", "account_import"): AccountImport,
    ("im_open_login_svc", "multiaccount_import"): MultiAccountImport,
    ("group_open_http_svc", "create_group"): CreateGroup,
    ("group_open_http_svc", "add_group_member"): AddGroupMember,
    ("group_open_http_svc", "delete_group_member"): DeleteGroupMember,
    ("group_open_http_svc", "destroy_group"): DestroyGroup,
    ("group_open_http_svc", "get_group_member_info"): GetGroupMemberInfo,
    ("group_open_http_svc", "send_group_msg"): SendGroupMsg,
    ("group_open_http_svc", "group_msg_get_simple"): GroupMsgGetSimple,
    ("group_open_http_svc", "get_group_msg_receipt"): GetGroupMsgReceipt,
    ("group_open_http_svc", "get_group_msg_receipt_detail"): GetGroupMsgReceiptDetail,
    ("group_open_http_svc", "group_msg_receipt"): GroupMsgReceiptSend,
    ("openim", "sendmsg"): SendMsg,
    ("openim", "admin_getroammsg"): AdminGetRoamMsg,
    ("openim", "c2c_msg_read_receipt"): C2CMsgReadReceipt,
    ("openim", "admin_set_msg_read"): AdminSetMsgRead,
    ("openim", "get_c2c_unread_msg_num"): GetC2CUnreadMsgNum,
}

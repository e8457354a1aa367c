"""Feishu open-apis REST shapes (auth/v3 tokens, im/v1 messages, read_users, reactions, chats,
chat members), as lark-oapi 1.7.5 sends and reads them (reference/feishu.md sections 2 and 6).

* ``*Params`` are one API's path and query parameters together. Query values arrive as strings:
  decode them with :func:`decode_params`, which converts ``"20"`` to 20 and ``"True"``/``"false"``
  to booleans (the Python SDK sends ``str(bool)``). Constraints (``page_size`` 1-100 ...) are
  checked there, once.
* ``*Body`` are request bodies; unknown fields are ignored, as Feishu does.
* The rest are the ``data`` of the ``{"code", "msg", "data"}`` envelope. Every time is a string
  of digits (milliseconds), as Feishu sends them (Go's SDK decodes them into ``*string``);
  ``page_token`` is left out when there is no next page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Final, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from protocol import codec
from protocol.feishu import ids

T = TypeVar("T")

UserIdType = Literal["open_id", "union_id", "user_id"]
ReceiveIdType = Literal["open_id", "union_id", "user_id", "email", "chat_id"]
MemberIdType = Literal["open_id", "union_id", "user_id", "app_id"]
PageSize50 = Annotated[int, Meta(ge=1, le=50)]
PageSize100 = Annotated[int, Meta(ge=1, le=100)]
MsgType = Annotated[str, Meta(pattern=r"^[a-z_]{1,32}$")]
Uuid = Annotated[str, Meta(max_length=50)]
NonEmpty = Annotated[str, Meta(min_length=1)]


def decode_params(values: Mapping[str, str], type_: type[T]) -> T:
    """Path and query parameters (strings) as ``type_``. Raises msgspec.ValidationError."""
    return msgspec.convert(dict(values), type_, strict=False)


def page_token(text: str) -> str:
    """An opaque page token (URL-safe base64) for a server-chosen position."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def parse_page_token(token: str) -> str | None:
    """The position in a token :func:`page_token` made; None for anything else."""
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, binascii.Error, UnicodeError):
        return None


MAX_POSITION: Final = ids.MAX_NUMBER


def parse_position(text: str | None) -> int | None:
    """A non-negative integer position (ASCII digits, at most :data:`MAX_POSITION`) taken from
    a page token's text; None for anything else, so a forged token is an error, never a
    number the database cannot hold."""
    return None if text is None else codec.parse_uint(text, MAX_POSITION)


# -- auth/v3 ----------------------------------------------------------------------------------


class TokenBody(Struct, frozen=True):
    """``POST /open-apis/auth/v3/{tenant,app}_access_token/internal`` (sent without a
    Content-Type)."""

    app_id: NonEmpty
    app_secret: NonEmpty


class TenantToken(Struct, frozen=True):
    code: int
    msg: str
    tenant_access_token: str
    expire: int  # seconds left; the SDK caches for expire - 600 s


class AppToken(Struct, frozen=True):
    code: int
    msg: str
    app_access_token: str
    tenant_access_token: str
    expire: int


# -- im/v1 messages ---------------------------------------------------------------------------


class CreateMessageParams(Struct, frozen=True):
    receive_id_type: ReceiveIdType


class CreateMessageBody(Struct, frozen=True):
    receive_id: NonEmpty
    msg_type: MsgType
    content: str  # JSON text
    uuid: Uuid | None = None  # idempotency key (one hour)


class MessageParams(Struct, frozen=True):
    message_id: str


class GetMessageParams(Struct, frozen=True):
    message_id: str
    user_id_type: UserIdType = "open_id"
    with_sender_name: bool = False


class ReplyMessageBody(Struct, frozen=True):
    content: str
    msg_type: MsgType
    reply_in_thread: bool = False
    uuid: Uuid | None = None


MAX_SECONDS: Final = MAX_POSITION // 1000  # Unix seconds whose milliseconds SQLite can hold


class ListMessagesParams(Struct, frozen=True):
    container_id_type: Literal["chat", "thread"]
    container_id: NonEmpty
    start_time: Annotated[int, Meta(ge=0, le=MAX_SECONDS)] | None = None
    end_time: Annotated[int, Meta(ge=0, le=MAX_SECONDS)] | None = None
    sort_type: Literal["ByCreateTimeAsc", "ByCreateTimeDesc"] = "ByCreateTimeAsc"
    page_size: PageSize50 = 20
    page_token: str | None = None
    with_sender_name: bool = False


class Sender(Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    id_type: Literal["open_id", "app_id"]
    sender_type: Literal["user", "app"]
    tenant_key: str
    sender_name: str | None = None  # with_sender_name=True only


class MessageBody(Struct, frozen=True):
    content: str  # JSON text


class Mention(Struct, frozen=True, kw_only=True):
    key: str  # "@_user_1", as written in the content
    id: str
    id_type: str
    name: str
    tenant_key: str


class Message(Struct, frozen=True, kw_only=True):
    message_id: str
    root_id: str  # "" unless a reply
    parent_id: str
    msg_type: str
    create_time: str  # ms
    update_time: str  # ms
    deleted: bool
    updated: bool
    chat_id: str
    sender: Sender
    body: MessageBody
    mentions: list[Mention]


class MessageItems(Struct, frozen=True):
    items: list[Message]


class MessagePage(Struct, frozen=True, kw_only=True, omit_defaults=True):
    has_more: bool
    page_token: str | None = None
    items: list[Message]


# -- read_users -------------------------------------------------------------------------------


class ReadUsersParams(Struct, frozen=True):
    message_id: str
    user_id_type: UserIdType  # required
    page_size: PageSize100 = 20
    page_token: str | None = None


class ReadUser(Struct, frozen=True, kw_only=True):
    user_id_type: str
    user_id: str
    timestamp: str  # ms, when the user read it
    tenant_key: str


class ReadUsersPage(Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[ReadUser]
    has_more: bool
    page_token: str | None = None


# -- reactions --------------------------------------------------------------------------------


class Emoji(Struct, frozen=True):
    emoji_type: NonEmpty


class CreateReactionBody(Struct, frozen=True):
    reaction_type: Emoji


class ReactionParams(Struct, frozen=True):
    message_id: str
    reaction_id: str


class ListReactionsParams(Struct, frozen=True):
    message_id: str
    reaction_type: str | None = None
    page_size: PageSize50 = 20
    page_token: str | None = None
    user_id_type: UserIdType = "open_id"


class Operator(Struct, frozen=True):
    operator_id: str
    operator_type: Literal["user", "app"]


class MessageReaction(Struct, frozen=True, kw_only=True):
    reaction_id: str
    operator: Operator
    action_time: str  # ms
    reaction_type: Emoji


class ReactionPage(Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[MessageReaction]
    has_more: bool
    page_token: str | None = None


# -- chats and members ------------------------------------------------------------------------


class CreateChatParams(Struct, frozen=True):
    user_id_type: UserIdType = "open_id"
    set_bot_manager: bool = False
    uuid: Uuid | None = None


class CreateChatBody(Struct, frozen=True):
    name: Annotated[str, Meta(max_length=60)] = ""
    description: Annotated[str, Meta(max_length=100)] = ""
    owner_id: str | None = None  # None: the bot owns the chat
    user_id_list: Annotated[list[str], Meta(max_length=50)] = []
    bot_id_list: Annotated[list[str], Meta(max_length=5)] = []
    chat_mode: Literal["group"] = "group"
    chat_type: Literal["private", "public"] = "private"
    external: Literal[False] = False


class ChatParams(Struct, frozen=True):
    chat_id: str
    user_id_type: UserIdType = "open_id"


class ListChatsParams(Struct, frozen=True):
    user_id_type: UserIdType = "open_id"
    sort_type: Literal["ByCreateTimeAsc", "ByActiveTimeDesc"] = "ByCreateTimeAsc"
    page_size: PageSize100 = 20
    page_token: str | None = None


class Chat(Struct, frozen=True, kw_only=True):
    """``chat.create``'s data; ``chat.get`` adds counts and status (:class:`ChatInfo`)."""

    chat_id: str
    avatar: str
    name: str
    description: str
    owner_id: str
    owner_id_type: str
    chat_mode: str
    chat_type: str
    external: bool
    tenant_key: str


class ChatInfo(Struct, frozen=True, kw_only=True):
    avatar: str
    name: str
    description: str
    owner_id: str
    owner_id_type: str
    chat_mode: str
    chat_type: str
    external: bool
    tenant_key: str
    user_count: str
    bot_count: str
    chat_status: str


class ListChat(Struct, frozen=True, kw_only=True):
    chat_id: str
    avatar: str
    name: str
    description: str
    owner_id: str
    owner_id_type: str
    external: bool
    tenant_key: str
    chat_status: str


class ChatPage(Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[ListChat]
    page_token: str | None = None
    has_more: bool


class MembersParams(Struct, frozen=True):
    chat_id: str
    member_id_type: MemberIdType = "open_id"
    succeed_type: Annotated[int, Meta(ge=0, le=2)] = 0


class MembersBody(Struct, frozen=True):
    id_list: Annotated[list[str], Meta(min_length=1, max_length=50)]


class MembersAdded(Struct, frozen=True, kw_only=True):
    invalid_id_list: list[str]
    not_existed_id_list: list[str]
    pending_approval_id_list: list[str]


class MembersRemoved(Struct, frozen=True):
    invalid_id_list: list[str]


class ListMembersParams(Struct, frozen=True):
    chat_id: str
    member_id_type: UserIdType = "open_id"
    page_size: PageSize100 = 20
    page_token: str | None = None


class ListMember(Struct, frozen=True, kw_only=True):
    member_id_type: str
    member_id: str
    name: str
    tenant_key: str


class MemberPage(Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[ListMember]
    page_token: str | None = None
    has_more: bool
    member_total: int

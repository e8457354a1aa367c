"""Plain value types of the IM model, shared by the core, the store and the dialects.

They carry no vendor field names. Times are milliseconds since the epoch; a dialect that
speaks seconds (TIM) converts at its edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec


class GroupType(enum.Enum):
    """Group kinds, named as the V2TIM SDK names them (REST aliases live in the TIM dialect)."""

    WORK = "Work"
    PUBLIC = "Public"
    MEETING = "Meeting"
    AVCHATROOM = "AVChatRoom"
    COMMUNITY = "Community"


class ConvKind(enum.Enum):
    C2C = "c2c"
    GROUP = "group"


class ReadFilter(enum.Enum):
    READ = 0
    UNREAD = 1


class Element(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """One element of a message body (untracked by the garbage collector, like
    :class:`Message`, so that a body tuple of elements is untracked too).

    ``kind == "text"`` carries ``text``; any other kind is a vendor element kept verbatim in
    ``data`` under a prefixed kind such as ``"tim:TIMCustomElem"``.
    """

    kind: str
    text: str | None = None
    data: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class Account:
    app: int
    user_id: str
    nick: str
    face_url: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Group:
    app: int
    conv_id: int
    group_id: str
    type: GroupType
    name: str
    owner: str
    created_ms: int
    member_count: int


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    joined_ms: int
    role: str


@dataclass(frozen=True, slots=True)
class Conversation:
    """A C2C pair (``user_a < user_b``) or a group."""

    id: int
    app: int
    kind: ConvKind
    group_id: str | None
    group_type: GroupType | None
    user_a: str | None
    user_b: str | None

    def peer_of(self, user_id: str) -> str:
        """The other side of a C2C conversation."""
        assert self.user_a is not None and self.user_b is not None
        return self.user_b if user_id == self.user_a else self.user_a

    def has_party(self, user_id: str) -> bool:
        return user_id in (self.user_a, self.user_b)


class Message(msgspec.Struct, frozen=True, gc=False):
    """A stored message. ``receipt_code`` is None when receipt state is kept for it.

    Not tracked by the garbage collector (``gc=False``: a message refers to no container that
    could refer back to it): the store caches up to 200,000 of them, and a full collection
    walking them all stalled the event loop for 50-130 ms (seen in ``scripts/bench``)."""

    id: int
    app: int
    conv_id: int
    kind: ConvKind
    group_id: str | None
    sender: str
    receiver: str | None  # C2C only: the peer the sender wrote to
    seq: int
    random: int
    time_ms: int
    body: tuple[Element, ...]
    need_receipt: bool
    receipt_code: str | None  # a Reason value when need_receipt was asked but no state is kept
    online_only: bool
    receivers: int  # size of the receiver snapshot (0 without receipt state)
    recalled: bool
    parent_id: int | None = None  # a reply: the message replied to...
    root_id: int | None = None  # ...and the first message of that thread
    mentions: tuple[str, ...] = ()  # accounts mentioned, in order
    client_seq: int | None = None  # the sender's own number for it (TIM C2C MsgSeq), as sent
    client_ms: int | None = None  # the sender's clock when it sent it, as sent

    @property
    def has_receipts(self) -> bool:
        return self.need_receipt and self.receipt_code is None

    @property
    def shown_seq(self) -> int:
        """The number clients know it by: the sender's own if it chose one, else ``seq``."""
        return self.seq if self.client_seq is None else self.client_seq

    @property
    def shown_client_ms(self) -> int:
        """The sender's clock when it sent it (the server's when the sender gave none)."""
        return self.time_ms if self.client_ms is None else self.client_ms


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message as a client names it: by the server's number, or by what the client knows of
    it. Every part given must match the stored message, or the message is unknown.

    ``seq`` matches the number clients know it by (:attr:`Message.shown_seq`); ``time_s`` the
    second it was sent; ``text`` is how the client wrote the reference, to name it in refusals."""

    id: int | None = None
    seq: int | None = None
    random: int | None = None
    time_s: int | None = None
    text: str = ""

    def matches(self, m: Message) -> bool:
        return (
            (self.id is None or self.id == m.id)
            and (self.seq is None or self.seq == m.shown_seq)
            and (self.random is None or self.random == m.random)
            and (self.time_s is None or self.time_s == m.time_ms // 1000)
        )

    def name(self) -> str:
        return repr(self.text) if self.text else str(self.id if self.id is not None else self.seq)


@dataclass(frozen=True, slots=True)
class ReceiptCount:
    """Receipt totals of one message after an operation."""

    message: Message
    read: int
    unread: int
    peer_read_ms: int | None = None  # C2C: when the peer sent its receipt


@dataclass(frozen=True, slots=True)
class ReadMember:
    user_id: str
    read_ms: int | None
    cursor: int  # position in the receiver snapshot, the paging key


@dataclass(frozen=True, slots=True)
class MemberPage:
    members: tuple[ReadMember, ...]
    next_cursor: int
    finished: bool


@dataclass(frozen=True, slots=True)
class Reader:
    """Someone who has read a message, by any way in (a receipt or a conversation read)."""

    user_id: str
    read_ms: int


@dataclass(frozen=True, slots=True)
class Reaction:
    id: int
    msg_id: int
    operator: str  # the account (a user, or a bot's app id)
    emoji_type: str
    action_ms: int
    deleted_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ConversationRead:
    """One user's read position in a conversation."""

    conv_id: int
    user_id: str
    read_seq: int
    read_ms: int

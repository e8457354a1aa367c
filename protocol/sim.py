"""Wire types of the simulation API (``/sim/v1/...``, docs/simulation.md).

The simulation API lets a test or a demo act as any account of a workspace: send a message,
read a conversation, add or remove a reaction. Bodies are JSON objects; unknown members are
refused, so a misspelt field is an error rather than silently ignored. A success answers the
result object (HTTP 200); a failure answers ``{"code": <non-zero>, "msg": "..."}`` with HTTP 400
or 404, ``code`` being one of the numbers below.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

__all__ = [
    "ACCOUNT_EXISTS",
    "BAD_REQUEST",
    "DEFAULT_WORKSPACE",
    "GROUP_EXISTS",
    "INVALID",
    "MESSAGE_RECALLED",
    "NOT_ALLOWED",
    "NOT_GROUP_MEMBER",
    "OTHER_WORKSPACE",
    "RATE_LIMITED",
    "RECEIPT_REFUSED",
    "TOO_MANY",
    "TOO_OLD",
    "UNKNOWN_ACCOUNT",
    "UNKNOWN_CHAT",
    "UNKNOWN_MESSAGE",
    "UNKNOWN_REACTION",
    "UNKNOWN_WORKSPACE",
    "ErrorBody",
    "ReactRequest",
    "ReactResult",
    "ReadRequest",
    "ReadResult",
    "SendRequest",
    "SendResult",
    "UnreactRequest",
]

DEFAULT_WORKSPACE: Final = 1400000000
"""The workspace (TIM SDKAppID) a body without ``workspace`` acts in."""

Workspace = Annotated[int, msgspec.Meta(ge=0, le=4294967295)]
"""A TIM SDKAppID: an unsigned 32-bit number."""

# -- error codes (HTTP 400 unless marked 404) ---------------------------------------------------
BAD_REQUEST: Final = 40000
"""The body is not JSON, misses a field, has an unknown one, or breaks an exactly-one-of rule."""
INVALID: Final = 40001
"""A value is out of range or inconsistent (an empty text, a message to oneself...)."""
TOO_MANY: Final = 40002
NOT_ALLOWED: Final = 40003
"""The account may not act on this object (another pair's chat, another's reaction)."""
NOT_GROUP_MEMBER: Final = 40004
MESSAGE_RECALLED: Final = 40005
TOO_OLD: Final = 40006
RATE_LIMITED: Final = 40007
RECEIPT_REFUSED: Final = 40008
"""A read-receipt rule refused the request."""
ACCOUNT_EXISTS: Final = 40009
GROUP_EXISTS: Final = 40010
UNKNOWN_WORKSPACE: Final = 40400
"""404: no workspace has this SDKAppID."""
UNKNOWN_ACCOUNT: Final = 40401
"""404"""
UNKNOWN_CHAT: Final = 40402
"""404: no such group or chat id."""
UNKNOWN_MESSAGE: Final = 40403
"""404: not a message id of this server, or not in this workspace."""
UNKNOWN_REACTION: Final = 40404
"""404"""
OTHER_WORKSPACE: Final = 40405
"""404: the object exists, but in another workspace."""


def _one_of(body: object, *names: str) -> None:
    given = [n for n in names if getattr(body, n) is not None]
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of {', '.join(names)} (got {', '.join(given) or 'none'})"
        )


class SendRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /sim/v1/messages``: ``sender`` writes to one user (``to_user``, a user id or a
    bot's app id), one chat (``chat_id``, ``oc_...``) or one group (``group_id``).

    The body is ``text``, or a Feishu ``msg_type`` with its ``content`` (an object, or the JSON
    string Feishu sends). ``mentions`` are account ids; ``reply_to`` a message id (``om_...`` or
    a TIM msgID)."""

    sender: str
    workspace: Workspace = DEFAULT_WORKSPACE
    to_user: str | None = None
    chat_id: str | None = None
    group_id: str | None = None
    text: str | None = None
    msg_type: str | None = None
    content: str | dict[str, Any] | None = None
    mentions: list[str] = msgspec.field(default_factory=list)
    reply_to: str | None = None
    need_receipt: bool = False

    def __post_init__(self) -> None:
        _one_of(self, "to_user", "chat_id", "group_id")
        if self.text is None and self.msg_type is None:
            raise ValueError("give text, or msg_type and content")
        if self.text is not None and (self.msg_type is not None or self.content is not None):
            raise ValueError("give text, or msg_type and content, not both")
        if self.msg_type is not None and self.content is None:
            raise ValueError(f"msg_type {self.msg_type!r} needs a content")


class SendResult(msgspec.Struct, frozen=True):
    message_id: str
    """Feishu ``om_...`` id."""
    msg_id: str
    """TIM ``msgID``."""
    seq: int
    """Sequence number in its conversation."""
    chat_id: str
    """Feishu ``oc_...`` id of its conversation (a group, or the pair's p2p chat)."""


class ReadRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /sim/v1/reads``: ``user`` reads its conversation with ``peer`` (a user or a bot's
    app id), a chat (``chat_id``) or a group (``group_id``), up to the message ``up_to``
    (default: everything up to now)."""

    user: str
    workspace: Workspace = DEFAULT_WORKSPACE
    peer: str | None = None
    chat_id: str | None = None
    group_id: str | None = None
    up_to: str | None = None

    def __post_init__(self) -> None:
        _one_of(self, "peer", "chat_id", "group_id")


class ReadResult(msgspec.Struct, frozen=True):
    read_seq: int
    """The reader's read position (sequence number) afterwards."""
    read_ms: int
    """The time of its read position, ms."""
    newly_read: list[str]
    """``om_`` ids of the peer's messages this read covered for the first time (C2C)."""
    unread_total: int
    """C2C: the reader's total C2C unread count afterwards (0 for a group)."""


class ReactRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /sim/v1/reactions``: ``user`` adds ``emoji_type`` (e.g. ``"THUMBSUP"``)."""

    user: str
    message_id: str
    emoji_type: str
    workspace: Workspace = DEFAULT_WORKSPACE


class ReactResult(msgspec.Struct, frozen=True):
    reaction_id: str


class UnreactRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``DELETE /sim/v1/reactions``: ``user`` removes its reaction ``reaction_id``."""

    user: str
    message_id: str
    reaction_id: str
    workspace: Workspace = DEFAULT_WORKSPACE


class ErrorBody(msgspec.Struct, frozen=True):
    code: int
    msg: str

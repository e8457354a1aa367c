"""The one exception type the core raises, and the neutral reasons it carries.

Dialects translate a :class:`Reason` into their own error numbers in ONE table each
(``server/tim/errors.py`` for TIM). The message always names the offending value.
"""

from __future__ import annotations

import enum


class Reason(enum.Enum):
    """Why the core refused a request, independent of any vendor's numbering."""

    INVALID = "invalid"  # a value is out of range or inconsistent (after the shape was decoded)
    TOO_MANY = "too_many"  # a list is longer than allowed
    UNKNOWN_ACCOUNT = "unknown_account"
    ACCOUNT_EXISTS = "account_exists"
    UNKNOWN_GROUP = "unknown_group"
    GROUP_EXISTS = "group_exists"
    NOT_GROUP_MEMBER = "not_group_member"
    UNKNOWN_MESSAGE = "unknown_message"
    OTHER_APP = "other_app"  # the object exists, but in another app (workspace, tenant)
    MESSAGE_RECALLED = "message_recalled"
    TOO_OLD = "too_old"  # outside a time window (e.g. Feishu's 7 days for read_users)
    RATE_LIMITED = "rate_limited"
    UNKNOWN_REACTION = "unknown_reaction"
    NOT_ALLOWED = (
        "not_allowed"  # caller may not act on this object (another user's conversation ...)
    )
    GROUP_TYPE_UNSUPPORTED = "group_type_unsupported"  # e.g. a receipt API on an AVChatRoom
    # read receipts
    RECEIPT_NOT_FLAGSHIP = "receipt_not_flagship"
    RECEIPT_GROUP_TYPE_DISABLED = "receipt_group_type_disabled"
    RECEIPT_GROUP_TOO_LARGE = "receipt_group_too_large"
    RECEIPT_ONLINE_ONLY = "receipt_online_only"
    RECEIPT_NOT_FOUND = "receipt_not_found"  # the message keeps no receipt state
    RECEIPT_LIST_EMPTY = "receipt_list_empty"  # nothing left after dropping own/no-receipt messages
    MIXED_CONVERSATIONS = "mixed_conversations"


class CoreError(Exception):
    """A request the core refuses. ``reason`` is neutral; ``str(err)`` is for humans."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"CoreError({self.reason.name}, {self.message!r})"

"""The ONE table that turns neutral core reasons into Feishu open-apis answers (HTTP status,
``code``), and the refusals the dialect makes itself (:class:`FeishuError`).

im/v1 numbers its codes per family: messages 230xxx, reactions 231xxx, chats and members 232xxx.
An API whose page documents a more specific code for a reason overrides its family there
(read_users: 230012 for "not the sender", 230033 for "older than 7 days"; reply: 230011 for a
recalled message; message delete: 230026). Every business refusal is HTTP 400, as on Feishu;
the rate limit is HTTP 429.
"""

from __future__ import annotations

from typing import Final

from protocol.feishu import errors as E
from server.core.errors import Reason

# API families (the generic codes) and the APIs with codes of their own
MESSAGE: Final = "message"
REACTION: Final = "reaction"
CHAT: Final = "chat"
READ_USERS: Final = "message.read_users"
REPLY: Final = "message.reply"
DELETE: Final = "message.delete"
DELETE_REACTION: Final = "reaction.delete"
LIST_REACTIONS: Final = "reaction.list"


class FeishuError(Exception):
    """A refusal that already has its Feishu code (authentication, decoding, dialect rules)."""

    def __init__(
        self, code: int, message: str, *, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers


# reason -> {API name or family -> code}; "*" is the fallback for the rest.
TABLE: dict[Reason, dict[str, int]] = {
    Reason.INVALID: {
        MESSAGE: E.MSG_INVALID_PARAM,
        REACTION: E.REACTION_TYPE_INVALID,  # the only value the core checks: emoji_type
        CHAT: E.CHAT_INVALID_PARAM,
    },
    Reason.TOO_MANY: {"*": E.MSG_INVALID_PARAM, CHAT: E.CHAT_INVALID_PARAM},
    Reason.UNKNOWN_ACCOUNT: {"*": E.MSG_INVALID_PARAM, CHAT: E.CHAT_INVALID_PARAM},
    Reason.ACCOUNT_EXISTS: {"*": E.MSG_INVALID_PARAM, CHAT: E.CHAT_INVALID_PARAM},
    # a chat id this server minted whose group is gone (dissolved): the bot is not in it
    Reason.UNKNOWN_GROUP: {
        MESSAGE: E.MSG_BOT_NOT_IN_CHAT,
        REACTION: E.REACTION_CHAT_NOT_FOUND,
        CHAT: E.CHAT_ID_INVALID,
    },
    Reason.GROUP_EXISTS: {"*": E.CHAT_INVALID_PARAM},
    Reason.NOT_GROUP_MEMBER: {
        MESSAGE: E.MSG_BOT_NOT_IN_CHAT,
        REACTION: E.REACTION_NO_PERMISSION,
        LIST_REACTIONS: E.REACTION_NO_ACCESS,
        CHAT: E.CHAT_OPERATOR_NOT_IN_CHAT,
    },
    Reason.UNKNOWN_MESSAGE: {  # "230001 invalid message_id"
        "*": E.MSG_INVALID_PARAM,
        REACTION: E.REACTION_MESSAGE_NOT_FOUND,
    },
    Reason.OTHER_APP: {  # another tenant's message or chat
        MESSAGE: E.MSG_NO_PERMISSION,
        REACTION: E.REACTION_NO_ACCESS,
        CHAT: E.CHAT_OTHER_TENANT,
    },
    Reason.MESSAGE_RECALLED: {
        MESSAGE: E.MSG_DELETED,
        REPLY: E.MSG_RECALLED,
        REACTION: E.REACTION_MESSAGE_NOT_FOUND,
    },
    Reason.TOO_OLD: {"*": E.MSG_INVALID_PARAM, READ_USERS: E.MSG_READ_TOO_OLD},
    Reason.RATE_LIMITED: {"*": E.RATE_LIMITED},
    Reason.UNKNOWN_REACTION: {"*": E.REACTION_ID_INVALID},
    Reason.NOT_ALLOWED: {
        MESSAGE: E.MSG_NO_PERMISSION,
        READ_USERS: E.MSG_BOT_NOT_SENDER,
        DELETE: E.MSG_NO_RECALL_PERMISSION,
        REACTION: E.REACTION_NO_PERMISSION,
        DELETE_REACTION: E.REACTION_NOT_OWN,
        LIST_REACTIONS: E.REACTION_NO_ACCESS,
        CHAT: E.CHAT_NO_PERMISSION,
    },
    # Reasons of TIM's receipt APIs: no Feishu API reaches them; a parameter error if one did.
    Reason.GROUP_TYPE_UNSUPPORTED: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_NOT_FLAGSHIP: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_GROUP_TYPE_DISABLED: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_GROUP_TOO_LARGE: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_ONLINE_ONLY: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_NOT_FOUND: {"*": E.MSG_INVALID_PARAM},
    Reason.RECEIPT_LIST_EMPTY: {"*": E.MSG_INVALID_PARAM},
    Reason.MIXED_CONVERSATIONS: {"*": E.MSG_INVALID_PARAM},
}

# Refusals before any core call, by family.
PARAM_ERROR: Final = {
    MESSAGE: E.MSG_INVALID_PARAM,
    REACTION: E.MSG_INVALID_PARAM,
    CHAT: E.CHAT_INVALID_PARAM,
}
BOT_DISABLED: Final = {
    MESSAGE: E.MSG_BOT_DISABLED,
    REACTION: E.MSG_BOT_DISABLED,
    CHAT: E.CHAT_BOT_DISABLED,
}
PAGE_TOKEN_ERROR: Final = {
    MESSAGE: E.MSG_INVALID_PARAM,
    REACTION: E.REACTION_PAGE_TOKEN_INVALID,
    CHAT: E.CHAT_INVALID_PARAM,
}


def code_for(reason: Reason, api: str, family: str) -> tuple[int, int]:
    """``(HTTP status, code)`` for ``reason`` refused by ``api`` of ``family``."""
    codes = TABLE[reason]
    code = codes.get(api) or codes.get(family) or codes.get("*") or PARAM_ERROR[family]
    return (429 if code == E.RATE_LIMITED else 400), code

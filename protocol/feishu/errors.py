"""Feishu open-apis ``code`` values used by this server.

Sources: the API pages of open.feishu.cn (im/v1 message, read_users, message-reaction, chat,
chat-members), the generic error-code page, and reference/feishu.md sections 2 and 6. Where
Feishu documents no code for a case, the choice is marked "chosen".
"""

from __future__ import annotations

from typing import Final

OK: Final = 0

# auth/v3 token endpoints
AUTH_INVALID_PARAM: Final = 10003  # missing/malformed app_id or app_secret; unknown app (chosen)
AUTH_APP_SECRET_INVALID: Final = 10014  # "app secret invalid"

# gateway (every open-apis call)
RATE_LIMITED: Final = 99991400  # "request trigger frequency limit", HTTP 429
TOKEN_MISSING: Final = 99991661  # "Missing access token for authorization"
TOKEN_INVALID: Final = 99991663  # "Invalid access token for authorization" (tenant token)
SCOPE_MISSING: Final = 99991672  # "Access denied": the app lacks a scope the call needs

# im/v1 messages (230xxx)
MSG_INVALID_PARAM: Final = 230001
MSG_BOT_NOT_IN_CHAT: Final = 230002
MSG_BOT_DISABLED: Final = 230006
MSG_RECALLED: Final = 230011  # reply: "The message was recalled"
MSG_BOT_NOT_SENDER: Final = 230012
MSG_USER_UNREACHABLE: Final = 230013  # outside the bot's availability
MSG_NO_RECALL_PERMISSION: Final = 230026
MSG_NO_PERMISSION: Final = 230027  # "Lack of necessary permissions" (also: another tenant)
MSG_READ_TOO_OLD: Final = 230033
MSG_DELETED: Final = 230110

# im/v1 message reactions (231xxx)
REACTION_TYPE_INVALID: Final = 231001
REACTION_NO_PERMISSION: Final = 231002  # the operator is not in the message's chat
REACTION_MESSAGE_NOT_FOUND: Final = 231003  # missing, recalled or deleted
REACTION_CHAT_NOT_FOUND: Final = 231004
REACTION_NOT_OWN: Final = 231007  # someone else added this reaction
REACTION_NO_ACCESS: Final = 231008
REACTION_ID_INVALID: Final = 231011
REACTION_PAGE_TOKEN_INVALID: Final = 231012

# im/v1 chats and members (232xxx)
CHAT_INVALID_PARAM: Final = 232001
CHAT_ID_INVALID: Final = 232006
CHAT_OTHER_TENANT: Final = 232010
CHAT_OPERATOR_NOT_IN_CHAT: Final = 232011
CHAT_NO_PERMISSION: Final = 232014
CHAT_BOT_DISABLED: Final = 232025

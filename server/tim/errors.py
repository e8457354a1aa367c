"""The ONE table that turns neutral core reasons (and decode failures) into TIM error codes.

REST codes depend on the service, as on the real server: ``openim`` (C2C) has its own 900xx
family, ``group_open_http_svc`` uses 100xx, ``im_open_login_svc`` 70xxx. WebSocket requests
answer with the V2TIM SDK's codes where the SDK would refuse locally (6017 invalid parameters,
7013 plan not supported) and pass server codes through otherwise, as the SDK does.
"""

from __future__ import annotations

import re
from typing import Final

from protocol.tim import errors as E
from server.core.errors import Reason

OPENIM: Final = "openim"
GROUP: Final = "group_open_http_svc"
LOGIN: Final = "im_open_login_svc"
WS: Final = "ws"

_DEFAULT = object()

# reason -> {service or WS -> code}; the "*" entry is the fallback for services not named.
TABLE: dict[Reason, dict[str, int]] = {
    Reason.INVALID: {
        GROUP: E.INVALID_PARAMETER,
        OPENIM: 90010,
        LOGIN: 70402,
        WS: E.SDK_INVALID_PARAMETERS,
    },
    Reason.TOO_MANY: {"*": E.TOO_MANY_ACCOUNTS, WS: E.SDK_INVALID_PARAMETERS},
    Reason.UNKNOWN_ACCOUNT: {
        GROUP: E.ACCOUNT_NOT_FOUND,
        OPENIM: E.OPENIM_TO_ACCOUNT,
        LOGIN: 70107,
        WS: E.C2C_ACCOUNT_INVALID,
    },
    Reason.ACCOUNT_EXISTS: {"*": E.INVALID_PARAMETER, WS: E.SDK_INVALID_PARAMETERS},
    Reason.UNKNOWN_GROUP: {"*": E.GROUP_NOT_FOUND},
    Reason.GROUP_EXISTS: {"*": E.GROUP_ID_IN_USE},
    Reason.NOT_GROUP_MEMBER: {"*": E.NO_PERMISSION},
    Reason.UNKNOWN_MESSAGE: {
        GROUP: E.RECEIPT_NOT_FOUND,
        OPENIM: E.C2C_MESSAGE_NOT_FOUND,
        WS: E.SDK_INVALID_PARAMETERS,
    },
    # TIM cannot tell another app's objects from missing ones: answer as for a missing message
    Reason.OTHER_APP: {
        GROUP: E.RECEIPT_NOT_FOUND,
        OPENIM: E.C2C_MESSAGE_NOT_FOUND,
        WS: E.SDK_INVALID_PARAMETERS,
    },
    Reason.NOT_ALLOWED: {
        GROUP: E.NO_PERMISSION,
        OPENIM: E.C2C_BAD_REQUEST,
        WS: E.SDK_INVALID_OPERATION,
    },
    Reason.GROUP_TYPE_UNSUPPORTED: {"*": E.NO_PERMISSION},
    Reason.RECEIPT_NOT_FLAGSHIP: {"*": E.NOT_FLAGSHIP, WS: E.SDK_INTERFACE_NOT_SUPPORT},
    Reason.RECEIPT_GROUP_TYPE_DISABLED: {"*": E.NO_PERMISSION},
    Reason.RECEIPT_GROUP_TOO_LARGE: {"*": E.RECEIPT_GROUP_TOO_LARGE},
    Reason.RECEIPT_ONLINE_ONLY: {"*": E.RECEIPT_ONLINE_ONLY},
    Reason.RECEIPT_NOT_FOUND: {"*": E.RECEIPT_NOT_FOUND},
    Reason.RECEIPT_LIST_EMPTY: {
        GROUP: E.RECEIPT_NOT_FOUND,
        OPENIM: E.C2C_MESSAGE_NOT_FOUND,
        WS: E.SDK_INVALID_PARAMETERS,
    },
    Reason.MESSAGE_RECALLED: {
        GROUP: 10030,
        OPENIM: E.C2C_MESSAGE_NOT_FOUND,
        WS: E.SDK_INVALID_PARAMETERS,
    },
    Reason.TOO_OLD: {"*": E.INVALID_PARAMETER, WS: E.SDK_INVALID_PARAMETERS},
    Reason.RATE_LIMITED: {"*": 10006, WS: 7008},
    Reason.UNKNOWN_REACTION: {"*": E.INVALID_PARAMETER, WS: E.SDK_INVALID_PARAMETERS},
    Reason.MIXED_CONVERSATIONS: {"*": E.INVALID_PARAMETER, WS: E.SDK_INVALID_PARAMETERS},
}


def code_for(reason: Reason, where: str) -> int:
    """The TIM code for ``reason`` on a REST service (or ``WS``)."""
    codes = TABLE[reason]
    return codes.get(where) or codes.get("*") or E.INTERNAL


def receipt_code(reason_value: str | None) -> int:
    """The ``readReceiptCode`` of a message that asked for receipts but keeps none (0 if it keeps them)."""
    if reason_value is None:
        return 0
    return code_for(Reason(reason_value), GROUP)


# Decode failures, before any core call.
JSON_ERROR = {GROUP: 10011, OPENIM: E.OPENIM_JSON_ERROR, LOGIN: E.REST_JSON_ERROR}
SHAPE_ERROR = {GROUP: E.INVALID_PARAMETER, OPENIM: 90010, LOGIN: 70402}
# openim names a code for some fields (sendmsg page): the first path segment decides.
OPENIM_FIELD_ERROR = {
    "MsgBody": 90002,
    "To_Account": E.OPENIM_TO_ACCOUNT,
    "From_Account": E.OPENIM_FROM_ACCOUNT,
    "MsgRandom": 90005,
    "MsgKey": E.OPENIM_MSGKEY_ERROR,
}
ADMIN_REQUIRED = {
    OPENIM: E.OPENIM_ADMIN_REQUIRED,
    GROUP: E.NO_PERMISSION,
    LOGIN: E.REST_ADMIN_REQUIRED,
}


def shape_error_code(service: str, path: str) -> int:
    """Code for a body that is JSON but not the command's shape; ``path`` is msgspec's ``$.X...``."""
    if service == OPENIM:
        field = path.removeprefix("$.").split(".", 1)[0].split("[", 1)[0]
        if field == "C2CMsgInfo" and "MsgKey" in path:
            field = "MsgKey"
        return OPENIM_FIELD_ERROR.get(field, 90010)
    return SHAPE_ERROR.get(service, E.INVALID_PARAMETER)


def shape_code_of(service: str, error: str) -> int:
    """:func:`shape_error_code` for a msgspec ValidationError's text (``... - at `$.X...```;
    a missing field is named in the text itself: ``missing required field `X```)."""
    path = error.rsplit(" - at `", 1)[-1].rstrip("`") if " - at `" in error else "$"
    missing = re.search(r"missing required field `([^`]+)`", error)
    if missing:
        path = f"{path}.{missing[1]}"
    return shape_error_code(service, path)

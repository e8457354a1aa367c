"""TIM error codes used by this server, with the text sent in ``ErrorInfo`` / ``desc``.

Server codes come from Tencent's "Error Codes" page (trtc.io/document/34348); SDK codes from
``TIMErrorCode.h``. See reference/tim.md section 3 for sources.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0

# SDK (client-side) codes, used on the WebSocket protocol
SDK_NOT_LOGGED_IN: Final = 6014
SDK_IN_PROGRESS: Final = 6015
SDK_INVALID_PARAMETERS: Final = 6017
SDK_INVALID_CONVERSATION: Final = 6004
SDK_INTERFACE_NOT_SUPPORT: Final = 7013
SDK_INVALID_OPERATION: Final = 7014
SDK_USER_SIG_EXPIRED: Final = 6206

# server codes (REST ErrorCode, per-item Code, also passed through on the WebSocket)
INTERNAL: Final = 10002
INVALID_COMMAND: Final = 10003
INVALID_PARAMETER: Final = 10004
TOO_MANY_ACCOUNTS: Final = 10005
NO_PERMISSION: Final = 10007
GROUP_NOT_FOUND: Final = 10010
GROUP_ID_IN_USE: Final = 10021
ACCOUNT_NOT_FOUND: Final = 10019
NOT_FLAGSHIP: Final = 10059
RECEIPT_GROUP_TOO_LARGE: Final = 10060
RECEIPT_ONLINE_ONLY: Final = 10061
RECEIPT_NOT_FOUND: Final = 10062
C2C_BAD_REQUEST: Final = 20001
C2C_ACCOUNT_INVALID: Final = 20003
C2C_MESSAGE_NOT_FOUND: Final = 20022
REST_URL_ERROR: Final = 60002
REST_JSON_ERROR: Final = 60003
REST_PARAM_ERROR: Final = (
    60025  # sdkappid/identifier/usersig/contenttype missing or wrong in the URL
)
REST_ADMIN_REQUIRED: Final = 60010
USERSIG_EXPIRED: Final = 70001
USERSIG_ILLEGAL: Final = 70003
USERSIG_VERIFY_FAILED: Final = 70009
USERSIG_IDENTIFIER_MISMATCH: Final = 70013
USERSIG_SDKAPPID_MISMATCH: Final = 70014
SDKAPPID_NOT_FOUND: Final = 70020
# Tencent's Chat SDK sessions (docs/tim-sdk.md): an A2Key that expired with its UserSig gets
# 70001, which the SDK takes as "UserSig expired" (KICKED_OUT, then the app logs in again); one
# this server never issued gets 70003 ("illegal UserSig"): both make the SDK drop the session.
A2_EXPIRED: Final = USERSIG_EXPIRED
A2_INVALID: Final = USERSIG_ILLEGAL
OPENIM_JSON_ERROR: Final = 90001
OPENIM_TO_ACCOUNT: Final = 90003
OPENIM_FROM_ACCOUNT: Final = 90008
OPENIM_ADMIN_REQUIRED: Final = 90009
OPENIM_MSGKEY_ERROR: Final = 90054

"""The simulation API's one table: a core refusal (``Reason``) -> HTTP status and ``code``."""

from __future__ import annotations

from typing import Final

from protocol import sim as S
from protocol.feishu.ids import FeishuIds
from server.core.errors import CoreError, Reason

TABLE: Final[dict[Reason, tuple[int, int]]] = {
    Reason.INVALID: (400, S.INVALID),
    Reason.TOO_MANY: (400, S.TOO_MANY),
    Reason.UNKNOWN_ACCOUNT: (404, S.UNKNOWN_ACCOUNT),
    Reason.ACCOUNT_EXISTS: (400, S.ACCOUNT_EXISTS),
    Reason.UNKNOWN_GROUP: (404, S.UNKNOWN_CHAT),
    Reason.GROUP_EXISTS: (400, S.GROUP_EXISTS),
    Reason.NOT_GROUP_MEMBER: (400, S.NOT_GROUP_MEMBER),
    Reason.UNKNOWN_MESSAGE: (404, S.UNKNOWN_MESSAGE),
    Reason.OTHER_APP: (404, S.OTHER_WORKSPACE),
    Reason.MESSAGE_RECALLED: (400, S.MESSAGE_RECALLED),
    Reason.TOO_OLD: (400, S.TOO_OLD),
    Reason.RATE_LIMITED: (400, S.RATE_LIMITED),
    Reason.UNKNOWN_REACTION: (404, S.UNKNOWN_REACTION),
    Reason.NOT_ALLOWED: (400, S.NOT_ALLOWED),
    Reason.GROUP_TYPE_UNSUPPORTED: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_NOT_FLAGSHIP: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_GROUP_TYPE_DISABLED: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_GROUP_TOO_LARGE: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_ONLINE_ONLY: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_NOT_FOUND: (400, S.RECEIPT_REFUSED),
    Reason.RECEIPT_LIST_EMPTY: (400, S.RECEIPT_REFUSED),
    Reason.MIXED_CONVERSATIONS: (400, S.INVALID),
}


class SimError(Exception):
    """A refusal of the simulation API itself (bad body, unknown workspace)."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


def for_core(err: CoreError, ids: FeishuIds) -> SimError:
    """The answer to a core refusal; its message is kept (it names the offending value), with
    internal message and conversation numbers written as Feishu ids (``om_…``, ``oc_…``)."""
    status, code = TABLE.get(err.reason, (400, S.INVALID))
    return SimError(status, code, ids.with_feishu_ids(err.message))

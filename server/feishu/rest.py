"""The open-apis REST routes (auth, im/v1 messages, read_users, reactions, chats, members)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    return []

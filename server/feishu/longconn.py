"""The long connection: ``POST /callback/ws/endpoint`` and the pbbp2 WebSocket at ``/ws/v2``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    return []


def websockets(dialect: FeishuDialect) -> dict[str, ASGIApp]:
    return {}

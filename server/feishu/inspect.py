"""Inspection endpoints: the events emitted for each app and every delivery attempt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    return []

"""Neutral outbox events rendered as Feishu schema-2.0 events for one app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.core.events import StoredEvent
from server.settings import FeishuAppSettings

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect


class EventRenderer:
    """Turns a stored neutral event into the events an app receives (possibly none)."""

    def __init__(self, dialect: FeishuDialect) -> None:
        self.dialect = dialect

    async def render(self, app: FeishuAppSettings, stored: StoredEvent) -> list[bytes]:
        """The plaintext JSON bodies (schema 2.0) ``app`` receives for ``stored``, in order."""
        return []

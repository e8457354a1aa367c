"""Reading the outbox back: the stored neutral events of an app and each channel's attempt log.

Dialects render and inspect events through this service, never through the store (the import
rules forbid it). Writing events is not here: they are appended by the service that made the
change, in the change's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.core.base import Deps
from server.core.events import StoredEvent
from server.store.events import Attempt

__all__ = ["Attempt", "EventLog"]


class EventLog:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def events(
        self, app: int, *, types: Sequence[str] = (), after_id: int = 0, limit: int = 100
    ) -> list[StoredEvent]:
        """The app's stored events of ``types`` (empty: all) after outbox id ``after_id``,
        oldest first, at most ``limit``. Raises nothing."""
        return await self.d.store.events.after(after_id, app=app, types=types, limit=limit)

    async def instance(self) -> str:
        """A random id drawn when the database was made: what makes event ids derived from
        outbox ids unique across databases. Raises nothing."""
        return await self.d.store.events.instance()

    async def attempts(self, channel: str, *, limit: int = 100) -> list[Attempt]:
        """The newest ``limit`` delivery attempts of ``channel``, newest first. Raises nothing."""
        return await self.d.store.events.attempts(channel, limit)

    async def record_attempt(
        self, channel: str, event_id: int, ok: bool, status: int | None, detail: str
    ) -> None:
        """Log an attempt that is not an outbox delivery (a webhook's url_verification, say:
        ``event_id`` 0), at the clock's now. Raises nothing."""
        await self.d.store.events.record_attempt(
            channel, event_id, self.d.clock.now_ms(), ok, status, detail
        )

"""Reading the outbox back: the stored neutral events of an app and each channel's attempt log.

Dialects render and inspect events through this service, never through the store (the import
rules forbid it). Writing events is not here: they are appended by the service that made the
change, in the change's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.core.base import Deps
from server.core.events import StoredEvent
from server.store.events import Attempt, Pruned

__all__ = ["Attempt", "EventLog", "Pruned"]

PRUNE_BATCH = 2000  # rows deleted per write: each pass is one short transaction


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

    async def prune(self, max_age_ms: int, keep_rows: int) -> tuple[int, int]:
        """Delete delivered events and delivery attempts older than ``max_age_ms`` (by the
        clock) or beyond the newest ``keep_rows`` of their app (events) or channel (attempts),
        in bounded passes so other writes go between them. An event some channel has not
        finished with is kept. Returns ``(events, attempts)`` deleted. Raises nothing."""
        before_ms = self.d.clock.now_ms() - max_age_ms
        events = attempts = 0
        while True:
            e, a = await self.d.store.events.prune(before_ms, keep_rows, PRUNE_BATCH)
            events, attempts = events + e, attempts + a
            if e < PRUNE_BATCH and a < PRUNE_BATCH:
                return events, attempts

    async def pruned_events(self, app: int) -> Pruned:
        """How many of the app's events retention has deleted so far. Raises nothing."""
        return await self.d.store.events.pruned("events", str(app))

    async def pruned_attempts(self, channel: str) -> Pruned:
        """How many of the channel's attempts retention has deleted so far. Raises nothing."""
        return await self.d.store.events.pruned("attempts", channel)

    async def record_attempt(
        self, channel: str, event_id: int, ok: bool, status: int | None, detail: str
    ) -> None:
        """Log an attempt that is not an outbox delivery (a webhook's url_verification, say:
        ``event_id`` 0), at the clock's now. Raises nothing."""
        await self.d.store.events.record_attempt(
            channel, event_id, self.d.clock.now_ms(), ok, status, detail
        )

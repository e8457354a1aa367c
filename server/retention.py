"""Retention: a background task that prunes delivered events and delivery attempts.

Every ``prune_interval`` seconds it deletes what is past ``retention_days`` or beyond
``retention_rows`` per app (events) or channel (attempts), in passes of at most 2,000 rows each,
so a large backlog never holds the writer for long (the hot path's writes queue between passes).
Events a delivery channel has not finished with are never pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.core.eventlog import EventLog
from server.settings import ServerSettings

log = logging.getLogger("server.retention")

DAY_MS = 86_400_000


class Retention:
    def __init__(self, event_log: EventLog, settings: ServerSettings) -> None:
        self.event_log = event_log
        self.max_age_ms = int(settings.retention_days * DAY_MS)
        self.keep_rows = settings.retention_rows
        self.interval = settings.prune_interval
        self._task: asyncio.Task[None] | None = None

    async def prune_now(self) -> tuple[int, int]:
        """One pruning run: ``(events, attempts)`` deleted."""
        events, attempts = await self.event_log.prune(self.max_age_ms, self.keep_rows)
        if events or attempts:
            log.info("retention: pruned %d events and %d delivery attempts", events, attempts)
        return events, attempts

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.prune_now()
            except Exception:  # a storage error: try again next time; the server carries on
                log.exception("retention: pruning failed")

"""Durable event delivery: one consumer per channel, at-least-once, retried with backoff.

Events are written to the ``events`` table in the same transaction as the change they report
(see ``server/store/events.py``). Each delivery channel (one TIM callback URL, one Feishu app)
keeps a cursor: the last event it has finished with. A consumer reads the events after its
cursor, hands each to its channel, retries a failed delivery with exponential backoff until it
succeeds or is too old, records every attempt, and only then moves the cursor. A crash between
delivery and cursor update means the event is delivered again after restart (at-least-once);
nothing acknowledged is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from server.core.clock import Clock
from server.core.events import StoredEvent
from server.store.events import EventStore

log = logging.getLogger("server.outbox")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None = None  # HTTP status, if any
    detail: str = ""
    permanent: bool = False  # a failure that retrying cannot fix: give the event up now


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial: float = 0.5
    maximum: float = 60.0
    give_up_after: float = 86_400.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based)."""
        # The exponent is capped: 2 ** 1024 overflows a float, and with the defaults (0.5 s
        # doubling to 60 s for a day) a receiver that stays down reaches attempt ~1440.
        exponent = min(max(attempt - 1, 0), 64)
        return float(min(self.maximum, self.initial * 2.0**exponent))


class Channel(Protocol):
    @property
    def name(self) -> str:
        """Unique and stable: the cursor is stored under it."""

    @property
    def app(self) -> int | None:
        """Only this app's events (None: all apps)."""

    @property
    def types(self) -> tuple[str, ...]:
        """Only these event types (empty: all)."""

    @property
    def retry(self) -> RetryPolicy: ...

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        """Deliver one event; None if this channel has nothing to send for it."""


class Consumer:
    """Drains one channel. ``wake()`` after a commit; it also polls every ``poll`` seconds."""

    def __init__(
        self,
        channel: Channel,
        events: EventStore,
        clock: Clock,
        *,
        poll: float = 1.0,
        batch: int = 200,
    ) -> None:
        self.channel = channel
        self.events = events
        self.clock = clock
        self.poll = poll
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.given_up = 0
        self._cursor: int | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Fix the channel's starting point (a new channel starts after the newest event), then
        run. Awaited before the server takes requests, so no event can slip in between."""
        self._cursor = await self.events.cursor(self.channel.name, self.clock.now_ms())
        log.info("outbox channel %s starts after event %d", self.channel.name, self._cursor)
        self._task = asyncio.create_task(self._run(), name=f"outbox:{self.channel.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        name = self.channel.name
        cursor = self._cursor
        while True:
            self._wake.clear()
            try:
                if cursor is None:
                    cursor = await self.events.cursor(name, self.clock.now_ms())
                    log.info("outbox channel %s starts after event %d", name, cursor)
                batch = await self.events.after(
                    cursor, app=self.channel.app, types=self.channel.types, limit=self.batch
                )
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll)
                    continue
                for event in batch:
                    await self._deliver(event)
                    cursor = event.id
                    await self.events.advance(name, cursor, self.clock.now_ms())
            except Exception:
                # The database refused a read or a write (disk full, I/O error...). The channel
                # must outlive that: it goes on from the last event it finished with (an event
                # whose outcome could not be recorded is delivered again: at-least-once).
                log.exception("outbox channel %s: storage error; again in %.1fs", name, self.poll)
                await asyncio.sleep(self.poll)

    async def _deliver(self, event: StoredEvent) -> None:
        channel = self.channel
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await channel.deliver(event)
            except Exception as exc:  # a bug in rendering must not block the channel
                log.exception("channel %s cannot deliver event %d", channel.name, event.id)
                outcome = Outcome(False, None, f"internal error: {exc!r}", permanent=True)
            if outcome is None:
                return
            now = self.clock.now_ms()
            await self.events.record_attempt(
                channel.name, event.id, now, outcome.ok, outcome.status, outcome.detail
            )
            if outcome.ok:
                self.delivered += 1
                return
            age = (now - event.time_ms) / 1000
            if outcome.permanent or age >= channel.retry.give_up_after:
                self.given_up += 1
                log.error(
                    "channel %s gives up event %d after %d attempts (%s)",
                    channel.name,
                    event.id,
                    attempt,
                    outcome.detail,
                )
                await self.events.record_attempt(
                    channel.name, event.id, now, False, None, "given up"
                )
                return
            delay = channel.retry.delay(attempt)
            log.warning(
                "channel %s: event %d attempt %d failed (%s); retrying in %.1fs",
                channel.name,
                event.id,
                attempt,
                outcome.detail,
                delay,
            )
            await asyncio.sleep(delay)


class Outbox:
    """All consumers; a core listener that wakes them after each commit."""

    def __init__(self) -> None:
        self.consumers: list[Consumer] = []

    def add(self, consumer: Consumer) -> None:
        self.consumers.append(consumer)

    async def start(self) -> None:
        for c in self.consumers:
            await c.start()

    async def stop(self) -> None:
        for c in self.consumers:
            await c.stop()

    # core Listener protocol: only the outbox part matters here
    def events_appended(self) -> None:
        for c in self.consumers:
            c.wake()

    def message_sent(self, *args: object) -> None:
        pass

    def receipts_changed(self, *args: object) -> None:
        pass

    def c2c_read(self, *args: object) -> None:
        pass

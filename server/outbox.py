"""Durable event delivery: one consumer per channel, at-least-once, retried with backoff.

Events are written to the ``events`` table in the same transaction as the change they report
(see ``server/store/events.py``). Each delivery channel (one TIM callback URL, one Feishu app)
keeps a cursor: the last event it has finished with. A consumer reads the events after its
cursor, hands each to its channel, retries a failed delivery with exponential backoff until it
succeeds or is too old, and logs every attempt. The attempts and the cursor are written together,
once per batch of events (at most :data:`FLUSH_EVERY` attempts apart, and before any retry
waits), so a fast receiver costs one write per batch rather than two per event. A crash before
that write means the events since are delivered again after restart (at-least-once); nothing
acknowledged is ever lost.
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

FLUSH_EVERY = 64
"""Attempts logged before they (and the cursor) are written, at the latest; a batch of events
is always written when it is done, and a failure before its retry waits."""


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None = None  # HTTP status, if any
    detail: str = ""
    permanent: bool = False  # a failure that retrying cannot fix: give the event up now
    retry_after: float | None = None  # the next attempt after this many seconds, not the backoff


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

    @property
    def window(self) -> int:
        """Events delivered at once; 1: one after the other, strictly in order."""

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
        self._cursor: int | None = None  # the last event finished with
        self._stored: int | None = None  # the cursor as stored
        # attempts (event, time_ms, ok, status, detail) not yet written
        self._log: list[tuple[int, int, bool, int | None, str]] = []

    async def _flush(self) -> None:
        """Write the attempts logged since the last flush and move the stored cursor to the
        last event finished with, in one transaction (one writer round trip for many events).
        A crash before this redelivers those events after restart: at-least-once."""
        if self._cursor is None or (not self._log and self._cursor == self._stored):
            return
        log_, self._log = self._log, []
        cursor = self._cursor
        try:
            await self.events.finish(self.channel.name, cursor, self.clock.now_ms(), log_)
        except BaseException:
            self._log[:0] = log_  # written with the next flush instead
            raise
        self._stored = max(cursor, self._stored or 0)

    def stats(self) -> dict[str, int | None]:
        """Delivered and given-up counts since start, and the last event finished with."""
        return {"cursor": self._cursor, "delivered": self.delivered, "given_up": self.given_up}

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        """Fix the channel's starting point (a new channel starts after the newest event), then
        run. Awaited before the server takes requests, so no event can slip in between."""
        self._cursor = await self.events.cursor(self.channel.name, self.clock.now_ms())
        self._stored = self._cursor
        log.info("outbox channel %s starts after event %d", self.channel.name, self._cursor)
        self._task = asyncio.create_task(self._run(), name=f"outbox:{self.channel.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            try:  # what was delivered before the stop is not delivered again
                await self._flush()
            except Exception:
                log.exception("outbox channel %s: cannot write its cursor", self.channel.name)

    async def _run(self) -> None:
        name = self.channel.name
        cursor = self._cursor
        while True:
            self._wake.clear()
            try:
                if cursor is None:
                    cursor = self._cursor = await self.events.cursor(name, self.clock.now_ms())
                    self._stored = cursor
                    log.info("outbox channel %s starts after event %d", name, cursor)
                batch = await self.events.after(
                    cursor, app=self.channel.app, types=self.channel.types, limit=self.batch
                )
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll)
                    continue
                await self._deliver_batch(batch)
                cursor = self._cursor
                await self._flush()
                if len(batch) < self.batch:
                    # that was all there was: query again only when something new is written
                    # (the wake flag was cleared before the query, so nothing is missed)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll)
            except Exception:
                # The database refused a read or a write (disk full, I/O error...). The channel
                # must outlive that: it goes on from the last event it finished with (an event
                # whose outcome could not be recorded is delivered again: at-least-once).
                log.exception("outbox channel %s: storage error; again in %.1fs", name, self.poll)
                if self._cursor is not None:
                    cursor = self._cursor
                await asyncio.sleep(self.poll)

    async def _deliver_batch(self, batch: list[StoredEvent]) -> None:
        """Deliver ``batch`` with up to ``channel.window`` events in flight (1: in order). The
        cursor moves only past events finished with *and* all those before them, so a crash
        redelivers whatever was still open (at-least-once); a failing event is retried in its
        own task while the others go on."""
        window = max(1, self.channel.window)
        if window == 1:
            # the same, without a task per event: one at a time, the task's extra loop turns
            # cost a quarter of the long connection's throughput (scripts/bench)
            for event in batch:
                await self._deliver(event)
                self._cursor = event.id
                if len(self._log) >= FLUSH_EVERY:
                    await self._flush()
            return
        open_: dict[int, asyncio.Task[None]] = {}  # by event id, in order

        def reap() -> None:
            for event_id, task in list(open_.items()):
                if not task.done() or task.cancelled():
                    return
                # A storage error re-raises here, as in the serial path, and the failed event
                # stays unfinished: the cursor never passes it (it is delivered again).
                task.result()
                del open_[event_id]
                self._cursor = event_id

        try:
            for event in batch:
                while sum(not t.done() for t in open_.values()) >= window:
                    await asyncio.wait(
                        [t for t in open_.values() if not t.done()],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    reap()
                open_[event.id] = asyncio.create_task(self._deliver(event))
                reap()
                if len(self._log) >= FLUSH_EVERY:
                    await self._flush()
            if open_:
                await asyncio.wait(open_.values())
            reap()
        finally:
            with contextlib.suppress(Exception):
                reap()  # what finished before a stop still counts
            for task in open_.values():
                task.cancel()

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
            self._log.append((event.id, now, outcome.ok, outcome.status, outcome.detail))
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
                self._log.append((event.id, now, False, None, "given up"))
                return
            await self._flush()  # the failure shows in the attempt log while we wait
            delay = (
                outcome.retry_after
                if outcome.retry_after is not None
                else channel.retry.delay(attempt)
            )
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

    def stats(self) -> dict[str, dict[str, int | None]]:
        return {c.channel.name: c.stats() for c in self.consumers}

    # core Listener protocol: only the outbox part matters here
    def events_appended(self, app: int) -> None:
        """Wake the consumers that may deliver events of workspace ``app``."""
        for c in self.consumers:
            if c.channel.app is None or c.channel.app == app:
                c.wake()

    def message_sent(self, *args: object) -> None:
        pass

    def receipts_changed(self, *args: object) -> None:
        pass

    def c2c_read(self, *args: object) -> None:
        pass

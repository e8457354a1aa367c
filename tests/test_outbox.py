"""The outbox consumer (server/outbox.py): backoff, and a channel that outlives storage errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from server.core.clock import FakeClock
from server.core.events import GroupRead, StoredEvent
from server.outbox import Consumer, Outcome, RetryPolicy
from server.store import events as event_sql
from server.store.db import Database
from server.store.events import EventStore

APP = 1400000000


def test_retry_delay_doubles_to_the_maximum_and_never_overflows() -> None:
    """The delay doubles from `initial` up to `maximum` and stays there however many attempts fail."""
    policy = RetryPolicy(initial=0.5, maximum=60.0)
    assert [policy.delay(n) for n in (1, 2, 3, 7, 8)] == [0.5, 1.0, 2.0, 32.0, 60.0]
    assert policy.delay(1025) == 60.0  # 0.5 * 2 ** 1024 would overflow a float
    assert policy.delay(10**6) == 60.0


class FailingAdvance(EventStore):
    """Events whose first cursor update fails as a full disk would."""

    failures = 1

    async def finish(
        self,
        channel: str,
        event_id: int,
        now_ms: int,
        attempts: Sequence[tuple[int, int, bool, int | None, str]] = (),
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        await super().finish(channel, event_id, now_ms, attempts)


class QueueChannel:
    """Delivers every event by putting its id on a queue."""

    name = "test-channel"
    app: int | None = None
    types: tuple[str, ...] = ()
    retry = RetryPolicy(0.01, 0.01)
    window = 1

    def __init__(self) -> None:
        self.seen: asyncio.Queue[int] = asyncio.Queue()

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        self.seen.put_nowait(event.id)
        return Outcome(True, 200, "ok")


async def test_consumer_outlives_a_storage_error(tmp_path: Path) -> None:
    """A cursor update that fails does not stop the channel: later events are still delivered."""
    clock = FakeClock()
    db = Database(str(tmp_path / "im.sqlite3"))
    await db.open()
    events = FailingAdvance(db)
    channel = QueueChannel()
    consumer = Consumer(channel, events, clock, poll=0.01)
    try:
        await events.cursor(channel.name, clock.now_ms())  # the channel starts before the events
        for seq in (1, 2, 3):
            read = GroupRead(reader="bob", group_id="g", read_seq=seq)
            await db.write(event_sql.append, APP, [read], clock.now_ms())
        await consumer.start()
        async with asyncio.timeout(5):
            assert [await channel.seen.get() for _ in range(3)] == [1, 2, 3]
        for _ in range(500):  # the failing write has happened (deliveries run in tasks)
            if not events.failures:
                break
            await asyncio.sleep(0.01)
        await consumer.stop()
        # event 2 was finished with before event 3 was sent; 3 may not be recorded yet
        assert await events.cursor(channel.name, clock.now_ms()) in (2, 3)
    finally:
        try:
            await consumer.stop()
        finally:
            await db.close()


class BrokenChannel(QueueChannel):
    """Fails to render event 1 (a bug), delivers the others."""

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        if event.id == 1:
            raise ValueError("cannot render")
        return await super().deliver(event)


async def test_an_event_that_cannot_be_rendered_is_given_up_at_once(tmp_path: Path) -> None:
    """A channel that raises on an event gives that event up and goes on with the next one."""
    clock = FakeClock()
    db = Database(str(tmp_path / "im.sqlite3"))
    await db.open()
    events = EventStore(db)
    channel = BrokenChannel()
    channel.retry = RetryPolicy(60, 60)  # a retry would block the test: none may happen
    consumer = Consumer(channel, events, clock, poll=0.01)
    try:
        await events.cursor(channel.name, clock.now_ms())
        for seq in (1, 2):
            read = GroupRead(reader="bob", group_id="g", read_seq=seq)
            await db.write(event_sql.append, APP, [read], clock.now_ms())
        await consumer.start()
        async with asyncio.timeout(5):
            assert await channel.seen.get() == 2
        await consumer.stop()  # writes what it logged (attempts go with the cursor, per batch)
        attempts = await events.attempts(channel.name)
        assert [(a.event_id, a.detail) for a in reversed(attempts)][:2] == [
            (1, "internal error: ValueError('cannot render')"),
            (1, "given up"),
        ]
    finally:
        await consumer.stop()
        await db.close()


class SlowFirstChannel(QueueChannel):
    """Four events at once; event 1 fails its first attempt, so 2-5 finish before it."""

    window = 4
    retry = RetryPolicy(0.05, 0.05)

    def __init__(self) -> None:
        super().__init__()
        self.failed_once = False

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        if event.id == 1 and not self.failed_once:
            self.failed_once = True
            return Outcome(False, 500, "not yet")
        return await super().deliver(event)


async def test_a_window_moves_the_cursor_only_past_finished_events(tmp_path: Path) -> None:
    """With several events in flight, later events are not held back by a failing one, and
    the stored cursor never passes an event that is not finished (so a restart redelivers it)."""
    clock = FakeClock()
    db = Database(str(tmp_path / "im.sqlite3"))
    await db.open()
    events = EventStore(db)
    channel = SlowFirstChannel()
    consumer = Consumer(channel, events, clock, poll=0.01)
    try:
        await events.cursor(channel.name, clock.now_ms())
        for seq in range(1, 6):
            read = GroupRead(reader="bob", group_id="g", read_seq=seq)
            await db.write(event_sql.append, APP, [read], clock.now_ms())
        await consumer.start()
        async with asyncio.timeout(5):
            first = [await channel.seen.get() for _ in range(3)]
            assert 1 not in first  # 2, 3 and 4 went out while 1 waited for its retry
            assert await events.cursor(channel.name, clock.now_ms()) == 0
            rest = [await channel.seen.get() for _ in range(2)]
        assert sorted(first + rest) == [1, 2, 3, 4, 5]
        await consumer.stop()
        assert await events.cursor(channel.name, clock.now_ms()) == 5
        attempts = [(a.event_id, a.ok) for a in await events.attempts(channel.name)]
        assert sorted(attempts) == [
            (1, False),
            (1, True),
            (2, True),
            (3, True),
            (4, True),
            (5, True),
        ]
    finally:
        await consumer.stop()
        await db.close()


class _FlakyStore:
    """An EventStore stand-in whose writes fail while ``failing`` is set."""

    def __init__(self, events: list[StoredEvent]) -> None:
        self.events = events
        self.stored_cursor = 0
        self.failing = False
        self.logged: list[tuple[int, int, bool, int | None, str]] = []

    async def cursor(self, channel: str, now_ms: int) -> int:
        return self.stored_cursor

    async def after(
        self, after_id: int, *, app: int | None = None, types: Sequence[str] = (), limit: int = 100
    ) -> list[StoredEvent]:
        return [e for e in self.events if e.id > after_id][:limit]

    async def finish(
        self,
        channel: str,
        event_id: int,
        now_ms: int,
        attempts: Sequence[tuple[int, int, bool, int | None, str]] = (),
    ) -> None:
        if self.failing:
            raise sqlite3.OperationalError("database or disk is full")
        self.stored_cursor = max(self.stored_cursor, event_id)
        self.logged += attempts


class _FailsFirstWhileDiskIsFull:
    """Four at once; event 1's first attempt fails just as the disk fills up."""

    name = "flaky"
    app: int | None = None
    types: tuple[str, ...] = ()
    retry = RetryPolicy(0.01, 0.01)
    window = 4

    def __init__(self, store: _FlakyStore) -> None:
        self.store = store
        self.calls: list[int] = []
        self.delivered: asyncio.Queue[int] = asyncio.Queue()

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        self.calls.append(event.id)
        if event.id == 1 and self.calls.count(1) == 1:
            self.store.failing = True  # the log write before the retry's wait will fail
            return Outcome(False, 500, "not yet")
        self.delivered.put_nowait(event.id)
        return Outcome(True, 200, "ok")


async def test_a_storage_error_in_a_window_never_skips_an_event() -> None:
    """With several events in flight, a storage error while one of them waits for its retry
    does not move the cursor past it: it is delivered once the disk is back, and the attempts
    that could not be written are written then."""
    clock = FakeClock()
    store = _FlakyStore([StoredEvent(i, APP, "t", clock.now_ms(), b"") for i in (1, 2, 3)])
    channel = _FailsFirstWhileDiskIsFull(store)
    consumer = Consumer(channel, store, clock, poll=0.01)  # type: ignore[arg-type]
    await consumer.start()
    try:
        async with asyncio.timeout(5):
            assert {await channel.delivered.get() for _ in range(2)} == {2, 3}
            store.failing = False
            assert await channel.delivered.get() == 1
    finally:
        await consumer.stop()
    assert store.stored_cursor == 3
    assert (1, False) in [(e, ok) for e, _, ok, _, _ in store.logged]
    assert (1, True) in [(e, ok) for e, _, ok, _, _ in store.logged]

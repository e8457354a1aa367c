"""SQLite connections: a group-committing writer thread and an async reader.

Why a thread of our own for writes instead of aiosqlite: with aiosqlite every statement is a
thread hop (~100 us), so a unit of work that reads, checks and writes costs several hops and one
transaction per request caps out near 2k/s (see docs/performance.md). Here a unit of work is a
plain function ``fn(conn, *args)``; callers queue it and await one future. The writer thread takes
*everything queued*, runs the units one after another inside one ``BEGIN IMMEDIATE``
transaction, commits once, and resolves all the futures with one loop callback. If a unit
raises, that transaction is rolled back and the batch runs again with each unit under its own
SAVEPOINT, so the failing unit is rolled back alone and the others still commit (savepoints
cost two statements per unit, so they are only paid when something failed).

Reads go through an ``aiosqlite`` connection (WAL lets them run beside the writer); a read
issued after a write's future resolved sees that write.

WAL checkpoints (copying the log back into the database, with its fsync) run on a connection
and thread of their own every ``checkpoint_interval`` seconds (0.5), not inside the writer's commits:
SQLite's automatic checkpoint would run in whichever commit crossed 1,000 pages and hold every
write queued behind it (seen in ``scripts/bench``: receipt-to-push p99 7.0 ms with it, 3.0 ms
without, at 2,000 receipts/s). A passive checkpoint never blocks the writer, and committed
transactions are durable in the log whether or not it has run.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger("server.store")

T = TypeVar("T")
Unit = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]

_STOP = object()
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _UnitFailed(Exception):
    """A unit raised in the optimistic pass: run the batch again, isolating each unit."""


MAX_BATCH = 2000
CHECKPOINT_INTERVAL = 0.5  # seconds between passive WAL checkpoints


def _configure(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it


def _migrate(conn: sqlite3.Connection) -> int:
    """Apply the numbered ``migrations/NNNN_*.sql`` files not applied yet; return the version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] or 0
    found = resources.files("server.store.migrations").iterdir()
    # sort by name: a Traversable need not be orderable (e.g. inside a zipped install)
    files = sorted((f for f in found if f.name.endswith(".sql")), key=lambda f: f.name)
    for f in files:
        version = int(f.name.split("_", 1)[0])
        if version <= current:
            continue
        log.info("applying migration %s", f.name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in f.read_text().split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = version
    return int(current)


class Database:
    """Owns the SQLite file: one writer thread (group commit) and one async reader."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.path = path
        self.synchronous = synchronous.upper()
        self.checkpoint_interval = checkpoint_interval
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: aiosqlite.Connection | None = None
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self.batches = 0  # statistics, read by the benchmark
        self.units = 0

    async def open(self) -> None:
        """Create/migrate the schema, start the writer thread and open the reader."""
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[int] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._run_writer, args=(ready,), name="sqlite-writer", daemon=True
        )
        self._thread.start()
        version = await ready
        log.info("database %s at schema version %d", self.path, version)
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(
            target=self._run_checkpoints, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()
        self._reader = await aiosqlite.connect(self.path)
        await self._reader.execute("PRAGMA query_only=ON")
        await self._reader.execute("PRAGMA busy_timeout=5000")

    async def close(self) -> None:
        """Finish every queued write, then close the connections."""
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    def _run_checkpoints(self) -> None:
        """Passive WAL checkpoints from a connection of their own, until close()."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("checkpoint connection failed; the WAL grows until restart")
            return
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            while not self._stop_checkpoints.wait(self.checkpoint_interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy, or the disk: try again next time
                    log.debug("wal checkpoint skipped: %s", exc)
        finally:
            conn.close()

    # -- writes -----------------------------------------------------------------------------

    def write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``fn(conn, *args)`` for the writer; the future resolves after COMMIT."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("database is not open")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((fn, args, fut))
        return fut

    def _run_writer(self, ready: asyncio.Future[int]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _configure(conn, self.synchronous)
            version = _migrate(conn)
        except BaseException as exc:  # report to open() and stop
            loop.call_soon_threadsafe(_set_exception, ready, exc)
            return
        loop.call_soon_threadsafe(_set_result, ready, version)
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch: list[Unit] = [first]  # type: ignore[list-item]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)  # type: ignore[arg-type]
                self._run_batch(conn, batch)
                if stop:
                    break
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Unit]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            outcomes = self._optimistic(conn, batch)
        except _UnitFailed:
            outcomes = self._isolated(conn, batch)
        except BaseException as exc:  # the commit itself failed: nothing of the batch is stored
            log.exception("write batch of %d units failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(fut, None, exc) for _, _, fut in batch]
        self.batches += 1
        self.units += len(batch)
        loop.call_soon_threadsafe(_resolve_all, outcomes)

    def _optimistic(self, conn: sqlite3.Connection, batch: list[Unit]) -> list[Outcome]:
        """The fast path: every unit in one transaction, no savepoints. A unit that raises
        rolls the whole transaction back (``_UnitFailed``); a batch of one just reports it."""
        outcomes: list[Outcome] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, args, fut in batch:
            try:
                outcomes.append((fut, fn(conn, *args), None))
            except Exception as exc:
                conn.execute("ROLLBACK")
                if len(batch) == 1:
                    return [(fut, None, exc)]
                raise _UnitFailed from exc
        conn.execute("COMMIT")
        return outcomes

    def _isolated(self, conn: sqlite3.Connection, batch: list[Unit]) -> list[Outcome]:
        """The slow path after a failure: each unit again under its own SAVEPOINT, so the one
        that fails is rolled back alone and the others commit. (Units are plain functions of
        the connection, so running them again after the rollback is safe.)"""
        outcomes: list[Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, fut in batch:
                conn.execute("SAVEPOINT unit")
                try:
                    result = fn(conn, *args)
                except Exception as exc:
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                    outcomes.append((fut, None, exc))
                else:
                    conn.execute("RELEASE unit")
                    outcomes.append((fut, result, None))
            conn.execute("COMMIT")
        except BaseException as exc:
            log.exception("write batch of %d units failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(fut, None, exc) for _, _, fut in batch]
        return outcomes

    # -- reads ------------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one read query; rows are plain tuples."""
        if self._reader is None:
            raise RuntimeError("database is not open")
        rows = await self._reader.execute_fetchall(sql, params)
        return list(rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


def _resolve_all(outcomes: Iterable[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, exc in outcomes:
        if fut.done():  # the caller gave up (cancelled); the write happened anyway
            continue
        if exc is None:
            fut.set_result(result)
        else:
            fut.set_exception(exc)

"""The SQLite layer: group commit, per-unit rollback, durability across reopen, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from server.store.db import Database, _migrate


def _create_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY)")


def _insert(conn: sqlite3.Connection, x: int) -> int:
    conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
    return x


def _insert_then_fail(conn: sqlite3.Connection, x: int) -> None:
    conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
    raise ValueError(f"unit {x} fails after writing")


async def _hold_writer(db: Database) -> Callable[[], Awaitable[None]]:
    """Queue a unit that blocks the writer thread inside its batch; return an async release.

    Everything queued while the writer is held is taken as one batch once it is released."""
    started, release = threading.Event(), threading.Event()

    def block(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    blocker = db.write(block)
    await asyncio.to_thread(started.wait, 10)
    assert started.is_set()

    async def let_go() -> None:
        release.set()
        await blocker

    return let_go


async def _xs(db: Database) -> list[int]:
    return [r[0] for r in await db.fetchall("SELECT x FROM t ORDER BY x")]


async def test_queued_writes_commit_in_fewer_batches_than_units(db: Database) -> None:
    """Writes queued while the writer is busy are committed together as one batch."""
    await db.write(_create_table)
    release = await _hold_writer(db)
    batches_before, units_before = db.batches, db.units
    futures = [db.write(_insert, x) for x in range(200)]
    await release()
    assert await asyncio.gather(*futures) == list(range(200))
    # the blocker's batch and exactly one batch for the 200 queued units
    assert db.batches - batches_before == 2
    assert db.units - units_before == 201
    assert db.batches < db.units
    assert await _xs(db) == list(range(200))


async def test_concurrent_writes_are_group_committed(db: Database) -> None:
    """Many concurrent writes from the event loop take fewer batches than units."""
    await db.write(_create_table)
    await asyncio.gather(*(db.write(_insert, x) for x in range(500)))
    assert db.batches < db.units
    assert len(await _xs(db)) == 500


async def test_a_failing_unit_is_rolled_back_alone(db: Database) -> None:
    """A unit that raises is rolled back alone while the other units of its batch commit."""
    await db.write(_create_table)
    release = await _hold_writer(db)
    batches_before = db.batches
    ok_before = db.write(_insert, 1)
    failing = db.write(_insert_then_fail, 2)
    ok_after = db.write(_insert, 3)
    await release()
    assert await ok_before == 1
    with pytest.raises(ValueError, match="unit 2 fails"):
        await failing
    assert await ok_after == 3
    assert db.batches - batches_before == 2  # the blocker's batch, then all three together
    assert await _xs(db) == [1, 3]


async def test_a_constraint_error_fails_only_its_unit(db: Database) -> None:
    """A unit hitting a constraint raises the sqlite error to its caller and nothing else fails."""
    await db.write(_create_table)
    await db.write(_insert, 7)
    results = await asyncio.gather(
        db.write(_insert, 7), db.write(_insert, 8), return_exceptions=True
    )
    assert isinstance(results[0], sqlite3.IntegrityError)
    assert results[1] == 8
    assert await _xs(db) == [7, 8]


async def test_a_read_after_a_write_sees_it(db: Database) -> None:
    """A read issued after a write's future resolved sees that write."""
    await db.write(_create_table)
    for x in range(20):
        await db.write(_insert, x)
        assert (await db.fetchone("SELECT max(x) FROM t"))[0] == x


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    """Committed rows are still there after the database is closed and opened again."""
    path = str(tmp_path / "im.sqlite3")
    first = Database(path)
    await first.open()
    await first.write(_create_table)
    await asyncio.gather(*(first.write(_insert, x) for x in range(10)))
    await first.close()
    second = Database(path)
    await second.open()
    try:
        assert await _xs(second) == list(range(10))
    finally:
        await second.close()


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    """Writes still queued when close() is called are committed before it returns."""
    path = str(tmp_path / "im.sqlite3")
    db = Database(path)
    await db.open()
    await db.write(_create_table)
    futures = [db.write(_insert, x) for x in range(50)]
    await db.close()
    assert await asyncio.gather(*futures) == list(range(50))
    again = Database(path)
    await again.open()
    try:
        assert await _xs(again) == list(range(50))
    finally:
        await again.close()


MIGRATIONS = sorted(
    int(p.name.split("_", 1)[0])
    for p in (Path(__file__).resolve().parents[2] / "server" / "store" / "migrations").glob("*.sql")
)


async def test_migrations_are_idempotent_on_reopen(tmp_path: Path) -> None:
    """Reopening a database applies no migration twice and keeps one version row per file."""
    path = str(tmp_path / "im.sqlite3")
    for _ in range(3):
        db = Database(path)
        await db.open()
        versions = [r[0] for r in await db.fetchall("SELECT version FROM schema_version")]
        tables = {
            r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        await db.close()
        assert versions == MIGRATIONS
        assert {"accounts", "conversations", "members", "messages", "receipts", "events"} <= tables
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert _migrate(conn) == MIGRATIONS[-1]
        assert _migrate(conn) == MIGRATIONS[-1]
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()


async def test_writes_before_open_are_refused(tmp_path: Path) -> None:
    """Queueing a write on a database that is not open raises RuntimeError."""
    db = Database(str(tmp_path / "im.sqlite3"))
    with pytest.raises(RuntimeError, match="not open"):
        db.write(_create_table)


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    """A synchronous mode SQLite does not know is refused with ValueError."""
    with pytest.raises(ValueError, match="synchronous"):
        Database(str(tmp_path / "x.sqlite3"), synchronous="SOMETIMES")


def _blobs(conn: sqlite3.Connection, round_: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS b (x INTEGER PRIMARY KEY, data BLOB)")
    conn.executemany(
        "INSERT INTO b (x, data) VALUES (?, randomblob(2000))",
        [(round_ * 1000 + i,) for i in range(100)],
    )


async def _wal_growth(path: Path, interval: float) -> tuple[int, int]:
    """Six rounds of 200 KB of writes with a pause of three checkpoint intervals between;
    the WAL file's size after the first round and after the last."""
    db = Database(str(path), checkpoint_interval=interval)
    await db.open()
    wal = path.parent / (path.name + "-wal")
    try:
        (auto,) = await db.write(lambda conn: conn.execute("PRAGMA wal_autocheckpoint").fetchone())
        assert auto == 0  # commits never checkpoint
        sizes = []
        for round_ in range(6):
            await db.write(_blobs, round_)
            await asyncio.sleep(0.15)
            sizes.append(wal.stat().st_size)
        return sizes[0], sizes[-1]
    finally:
        await db.close()


async def test_the_wal_is_checkpointed_beside_the_writer(tmp_path: Path) -> None:
    """The checkpointer's own connection copies the WAL back between rounds of writes, so the
    log is reused instead of growing with every commit, as it does with no checkpoint."""
    first, last = await _wal_growth(tmp_path / "a.sqlite3", 0.05)
    assert last <= first * 1.5, (first, last)
    first, last = await _wal_growth(tmp_path / "b.sqlite3", 3600)  # no checkpoint in time
    assert last > first * 3, (first, last)

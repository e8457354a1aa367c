"""SQL for the durable outbox (events), delivery cursors and delivery attempts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from server.core.events import Event, StoredEvent, encode_event, event_type
from server.store.db import Database


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    channel: str
    event_id: int
    time_ms: int
    ok: bool
    status: int | None
    detail: str


def append(conn: sqlite3.Connection, app: int, events: Sequence[Event], now_ms: int) -> list[int]:
    """Write events inside the caller's transaction (the writer's unit of work)."""
    ids = []
    for event in events:
        cur = conn.execute(
            "INSERT INTO events (app, type, time_ms, body) VALUES (?, ?, ?, ?)",
            (app, event_type(event), now_ms, encode_event(event)),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids


def _init_cursor(conn: sqlite3.Connection, channel: str, now_ms: int, from_start: bool) -> int:
    row = conn.execute("SELECT event_id FROM cursors WHERE channel = ?", (channel,)).fetchone()
    if row:
        return int(row[0])
    start = (
        0 if from_start else conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    )
    conn.execute(
        "INSERT INTO cursors (channel, event_id, updated_ms) VALUES (?, ?, ?)",
        (channel, start, now_ms),
    )
    return int(start)


def _advance(conn: sqlite3.Connection, channel: str, event_id: int, now_ms: int) -> None:
    conn.execute(
        "UPDATE cursors SET event_id = max(event_id, ?), updated_ms = ? WHERE channel = ?",
        (event_id, now_ms, channel),
    )


def _attempt(
    conn: sqlite3.Connection,
    channel: str,
    event_id: int,
    now_ms: int,
    ok: bool,
    status: int | None,
    detail: str,
) -> None:
    conn.execute(
        "INSERT INTO attempts (channel, event_id, time_ms, ok, status, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (channel, event_id, now_ms, int(ok), status, detail[:500]),
    )


def _finish(
    conn: sqlite3.Connection,
    channel: str,
    event_id: int,
    now_ms: int,
    attempts: Sequence[tuple[int, int, bool, int | None, str]],
) -> None:
    for event, time_ms, ok, status, detail in attempts:
        _attempt(conn, channel, event, time_ms, ok, status, detail)
    _advance(conn, channel, event_id, now_ms)


MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Pruned:
    """What retention has removed so far: ``rows`` rows, the newest of them from ``upto_ms``."""

    rows: int = 0
    upto_ms: int = 0


def _record_pruned(
    conn: sqlite3.Connection, kind: str, key: str, rows: int, upto_ms: int | None
) -> None:
    conn.execute(
        "INSERT INTO pruned (kind, key, rows, upto_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (kind, key) DO UPDATE SET rows = rows + excluded.rows,"
        " upto_ms = max(upto_ms, excluded.upto_ms)",
        (kind, key, rows, upto_ms or 0),
    )


# What retention prunes, per kind: (table, the column rows are grouped by). Both tables have an
# index on (that column, id): events_app (0002) and attempts_channel (0006).
_PRUNED_TABLES: dict[str, tuple[str, str]] = {
    "events": ("events", "app"),
    "attempts": ("attempts", "channel"),
}


def _prune(
    conn: sqlite3.Connection,
    kind: str,
    before_ms: int,
    keep_rows: int,
    batch: int,
    up_to_id: int,
) -> int:
    """Delete up to ``batch`` rows of ``kind`` with id at most ``up_to_id`` that are older than
    ``before_ms`` or not among their group's newest ``keep_rows``, oldest first; count them
    per group in ``pruned``. Every lookup walks the (group, id) index: no table scan."""
    table, column = _PRUNED_TABLES[kind]
    deleted = 0
    key = conn.execute(f"SELECT min({column}) FROM {table}").fetchone()[0]
    while key is not None and deleted < batch:
        # two single-aggregate queries: each is one index lookup (together, a range scan)
        newest, oldest = (
            conn.execute(f"SELECT {f}(id) FROM {table} WHERE {column} = ?", (key,)).fetchone()[0]
            for f in ("max", "min")
        )
        span = newest - oldest
        beyond = 0  # rows with this id and older are past the row limit
        if span >= keep_rows:  # ids are unique: a group holds at most span + 1 rows
            row = conn.execute(
                f"SELECT id FROM {table} WHERE {column} = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                (key, keep_rows),
            ).fetchone()
            beyond = row[0] if row else 0
        found = conn.execute(
            f"SELECT count(*), max(time_ms), max(id) FROM (SELECT id, time_ms FROM {table}"
            f" WHERE {column} = ? AND id <= ? AND (time_ms < ? OR id <= ?) ORDER BY id LIMIT ?)",
            (key, up_to_id, before_ms, beyond, batch - deleted),
        ).fetchone()
        if found[0]:
            conn.execute(
                f"DELETE FROM {table} WHERE {column} = ? AND id <= ? AND (time_ms < ? OR id <= ?)",
                (key, found[2], before_ms, beyond),
            )
            _record_pruned(conn, kind, str(key), found[0], found[1])
            deleted += found[0]
        key = conn.execute(
            f"SELECT min({column}) FROM {table} WHERE {column} > ?", (key,)
        ).fetchone()[0]
    return deleted


def _prune_pass(
    conn: sqlite3.Connection, before_ms: int, keep_rows: int, batch: int
) -> tuple[int, int]:
    """One pass of retention: ``(events, attempts)`` deleted. Events only below every
    channel's cursor (all channels have finished with them); with no channel, any."""
    done = conn.execute("SELECT min(event_id) FROM cursors").fetchone()[0]
    if done is None:
        done = MAX_ID
    return (
        _prune(conn, "events", before_ms, keep_rows, batch, done),
        _prune(conn, "attempts", before_ms, keep_rows, batch, MAX_ID),
    )


class EventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def cursor(self, channel: str, now_ms: int, *, from_start: bool = False) -> int:
        """The channel's position, created at the newest event (or 0) on first use."""
        return await self.db.write(_init_cursor, channel, now_ms, from_start)

    async def finish(
        self,
        channel: str,
        event_id: int,
        now_ms: int,
        attempts: Sequence[tuple[int, int, bool, int | None, str]] = (),
    ) -> None:
        """Log ``attempts`` ``(event, time_ms, ok, status, detail)`` and move the channel's
        cursor to ``event_id``, in one transaction."""
        await self.db.write(_finish, channel, event_id, now_ms, list(attempts))

    async def record_attempt(
        self, channel: str, event_id: int, now_ms: int, ok: bool, status: int | None, detail: str
    ) -> None:
        await self.db.write(_attempt, channel, event_id, now_ms, ok, status, detail)

    async def after(
        self, after_id: int, *, app: int | None = None, types: Sequence[str] = (), limit: int = 100
    ) -> list[StoredEvent]:
        sql = "SELECT id, app, type, time_ms, body FROM events WHERE id > ?"
        params: list[object] = [after_id]
        if app is not None:
            sql += " AND app = ?"
            params.append(app)
        if types:
            sql += f" AND type IN ({','.join('?' * len(types))})"
            params.extend(types)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        rows = await self.db.fetchall(sql, params)
        return [StoredEvent(*r) for r in rows]

    async def instance(self) -> str:
        """The random id drawn when this database was made (32 hex digits)."""
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'instance'")
        assert row is not None, "migration 0004 makes it"
        return str(row[0])

    async def attempts(self, channel: str | None = None, limit: int = 100) -> list[Attempt]:
        sql = "SELECT id, channel, event_id, time_ms, ok, status, detail FROM attempts"
        params: list[object] = []
        if channel is not None:
            sql += " WHERE channel = ?"
            params.append(channel)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self.db.fetchall(sql, params)
        return [Attempt(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]

    async def prune(self, before_ms: int, keep_rows: int, batch: int = 2000) -> tuple[int, int]:
        """One bounded pass of retention: ``(events, attempts)`` deleted, at most ``batch`` of
        each, in one short write (callers repeat while a pass is full)."""
        return await self.db.write(_prune_pass, before_ms, keep_rows, batch)

    async def pruned(self, kind: str, key: str) -> Pruned:
        row = await self.db.fetchone(
            "SELECT rows, upto_ms FROM pruned WHERE kind = ? AND key = ?", (kind, key)
        )
        return Pruned(row[0], row[1]) if row else Pruned()

    async def pending(self, channel: str) -> int:
        """How many events the channel has not finished with (any app)."""
        row = await self.db.fetchone(
            "SELECT count(*) FROM events WHERE id > (SELECT event_id FROM cursors WHERE channel = ?)",
            (channel,),
        )
        return int(row[0]) if row else 0

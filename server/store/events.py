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


def _prune_events(conn: sqlite3.Connection, before_ms: int, keep_rows: int, batch: int) -> int:
    """Delete up to ``batch`` events that every channel has finished with and that are older
    than ``before_ms`` or not among their app's newest ``keep_rows``; count them per app."""
    done = conn.execute("SELECT min(event_id) FROM cursors").fetchone()[0]
    if done is None:  # no delivery channel: every event is done with
        done = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    deleted = 0
    apps = [r[0] for r in conn.execute("SELECT DISTINCT app FROM events")]
    for app in apps:
        if deleted >= batch:
            break
        row = conn.execute(
            "SELECT id FROM events WHERE app = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (app, keep_rows),
        ).fetchone()
        beyond = row[0] if row else 0  # this id and older are past the row limit
        found = conn.execute(
            "SELECT count(*), max(time_ms), max(id) FROM (SELECT id, time_ms FROM events"
            " WHERE app = ? AND id <= ? AND (time_ms < ? OR id <= ?) ORDER BY id LIMIT ?)",
            (app, done, before_ms, beyond, batch - deleted),
        ).fetchone()
        if not found[0]:
            continue
        conn.execute(
            "DELETE FROM events WHERE app = ? AND id <= ? AND (time_ms < ? OR id <= ?)",
            (app, found[2], before_ms, beyond),
        )
        _record_pruned(conn, "events", str(app), found[0], found[1])
        deleted += found[0]
    return deleted


def _prune_attempts(conn: sqlite3.Connection, before_ms: int, keep_rows: int, batch: int) -> int:
    """Delete up to ``batch`` attempts older than ``before_ms`` or not among their channel's
    newest ``keep_rows``; count them per channel."""
    deleted = 0
    channels = [r[0] for r in conn.execute("SELECT DISTINCT channel FROM attempts")]
    for channel in channels:
        if deleted >= batch:
            break
        row = conn.execute(
            "SELECT id FROM attempts WHERE channel = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (channel, keep_rows),
        ).fetchone()
        beyond = row[0] if row else 0
        found = conn.execute(
            "SELECT count(*), max(time_ms), max(id) FROM (SELECT id, time_ms FROM attempts"
            " WHERE channel = ? AND (time_ms < ? OR id <= ?) ORDER BY id LIMIT ?)",
            (channel, before_ms, beyond, batch - deleted),
        ).fetchone()
        if not found[0]:
            continue
        conn.execute(
            "DELETE FROM attempts WHERE channel = ? AND id <= ? AND (time_ms < ? OR id <= ?)",
            (channel, found[2], before_ms, beyond),
        )
        _record_pruned(conn, "attempts", channel, found[0], found[1])
        deleted += found[0]
    return deleted


def _prune_pass(
    conn: sqlite3.Connection, before_ms: int, keep_rows: int, batch: int
) -> tuple[int, int]:
    return (
        _prune_events(conn, before_ms, keep_rows, batch),
        _prune_attempts(conn, before_ms, keep_rows, batch),
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

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

    async def pending(self, channel: str) -> int:
        """How many events the channel has not finished with (any app)."""
        row = await self.db.fetchone(
            "SELECT count(*) FROM events WHERE id > (SELECT event_id FROM cursors WHERE channel = ?)",
            (channel,),
        )
        return int(row[0]) if row else 0

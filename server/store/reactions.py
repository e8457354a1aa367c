"""SQL for reactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from server.core.events import Event
from server.core.model import Reaction
from server.store import events as event_sql
from server.store.db import Database

_COLS = "id, msg_id, operator, emoji_type, action_ms, deleted_ms"


def _add(
    conn: sqlite3.Connection,
    app: int,
    msg_id: int,
    operator: str,
    emoji_type: str,
    now_ms: int,
    build_event: Callable[[int], Event],
) -> tuple[Reaction, bool]:
    row = conn.execute(
        f"SELECT {_COLS} FROM reactions WHERE msg_id = ? AND operator = ? AND emoji_type = ?"
        " AND deleted_ms IS NULL",
        (msg_id, operator, emoji_type),
    ).fetchone()
    if row:
        return Reaction(*row), False
    cur = conn.execute(
        "INSERT INTO reactions (msg_id, operator, emoji_type, action_ms) VALUES (?, ?, ?, ?)",
        (msg_id, operator, emoji_type, now_ms),
    )
    assert cur.lastrowid is not None
    event_sql.append(conn, app, [build_event(cur.lastrowid)], now_ms)
    return Reaction(cur.lastrowid, msg_id, operator, emoji_type, now_ms), True


def _remove(
    conn: sqlite3.Connection, app: int, reaction_id: int, now_ms: int, event: Event
) -> Reaction | None:
    row = conn.execute(
        f"UPDATE reactions SET deleted_ms = ? WHERE id = ? AND deleted_ms IS NULL RETURNING {_COLS}",
        (now_ms, reaction_id),
    ).fetchone()
    if row is None:
        return None
    event_sql.append(conn, app, [event], now_ms)
    return Reaction(*row)


class ReactionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        app: int,
        msg_id: int,
        operator: str,
        emoji_type: str,
        now_ms: int,
        build_event: Callable[[int], Event],
    ) -> tuple[Reaction, bool]:
        """(the reaction, whether it was created now) with its event in the same transaction."""
        return await self.db.write(_add, app, msg_id, operator, emoji_type, now_ms, build_event)

    async def remove(
        self, app: int, reaction_id: int, now_ms: int, event: Event
    ) -> Reaction | None:
        return await self.db.write(_remove, app, reaction_id, now_ms, event)

    async def get(self, reaction_id: int) -> Reaction | None:
        row = await self.db.fetchone(f"SELECT {_COLS} FROM reactions WHERE id = ?", (reaction_id,))
        return Reaction(*row) if row else None

    async def list(
        self, msg_id: int, emoji_type: str | None, after_id: int, limit: int
    ) -> list[Reaction]:
        sql = f"SELECT {_COLS} FROM reactions WHERE msg_id = ? AND deleted_ms IS NULL AND id > ?"
        params: list[object] = [msg_id, after_id]
        if emoji_type:
            sql += " AND emoji_type = ?"
            params.append(emoji_type)
        rows = await self.db.fetchall(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [Reaction(*r) for r in rows]

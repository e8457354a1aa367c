"""SQL for conversation-level read positions and unread counts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.core.events import Event
from server.core.model import Reader
from server.store import events as event_sql
from server.store.db import Database

# Unread C2C messages of user ?1 in app ?2, per conversation: the peer's messages after the
# user's read position.
_C2C_UNREAD = """
SELECT CASE WHEN c.user_a = :user THEN c.user_b ELSE c.user_a END AS peer, count(m.id)
FROM conversations c
JOIN messages m ON m.conv_id = c.id AND m.sender != :user AND m.recalled = 0
LEFT JOIN reads r ON r.conv_id = c.id AND r.user_id = :user
WHERE c.app = :app AND c.kind = 'c2c' AND (c.user_a = :user OR c.user_b = :user)
  AND m.seq > coalesce(r.read_seq, 0)
GROUP BY c.id
"""


@dataclass(frozen=True, slots=True)
class ReadChange:
    read_seq: int
    read_ms: int
    newly_read: tuple[int, ...]  # ids of the peer's messages newly covered
    unread_total: int  # C2C: the reader's total C2C unread afterwards (0 for groups)


EventBuilder = Callable[[ReadChange], Sequence[Event]]


_C2C_UNREAD_TOTAL = "SELECT total FROM c2c_unread WHERE app = ? AND user_id = ?"


def c2c_unread_total(conn: sqlite3.Connection, app: int, user: str) -> int:
    """The user's total C2C unread count, as kept in ``c2c_unread`` (one indexed row)."""
    row = conn.execute(_C2C_UNREAD_TOTAL, (app, user)).fetchone()
    return int(row[0]) if row else 0


def c2c_unread_add(conn: sqlite3.Connection, app: int, user: str, delta: int) -> int:
    """Change the user's total C2C unread count by ``delta``; returns the new total."""
    (total,) = conn.execute(
        "INSERT INTO c2c_unread (app, user_id, total) VALUES (?, ?, ?) ON CONFLICT (app, user_id)"
        " DO UPDATE SET total = total + excluded.total RETURNING total",
        (app, user, delta),
    ).fetchone()
    return int(total)


def _unread_between(
    conn: sqlite3.Connection, conv_id: int, reader: str, old_seq: int, new_seq: int
) -> int:
    """The peer's live messages with old_seq < seq <= new_seq: what a read from old to new
    takes off the reader's unread count."""
    (n,) = conn.execute(
        "SELECT count(*) FROM messages WHERE conv_id = ? AND seq > ? AND seq <= ?"
        " AND sender != ? AND recalled = 0",
        (conv_id, old_seq, new_seq, reader),
    ).fetchone()
    return int(n)


def _current(conn: sqlite3.Connection, conv_id: int, user: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT read_seq, read_ms FROM reads WHERE conv_id = ? AND user_id = ?", (conv_id, user)
    ).fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _save(conn: sqlite3.Connection, conv_id: int, user: str, read_seq: int, read_ms: int) -> None:
    conn.execute(
        "INSERT INTO reads (conv_id, user_id, read_seq, read_ms) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (conv_id, user_id) DO UPDATE SET read_seq = excluded.read_seq,"
        " read_ms = excluded.read_ms",
        (conv_id, user, read_seq, read_ms),
    )


def _newly_read(
    conn: sqlite3.Connection, conv_id: int, reader: str, old_seq: int, new_seq: int, now_ms: int
) -> tuple[int, ...]:
    """Record the move and return the other side's messages it covers that ``reader`` had not
    read before (by a per-message receipt either)."""
    if new_seq <= old_seq:
        return ()
    conn.execute(
        "INSERT INTO read_marks (conv_id, user_id, from_seq, to_seq, read_ms) VALUES (?, ?, ?, ?, ?)",
        (conv_id, reader, old_seq, new_seq, now_ms),
    )
    return tuple(
        r[0]
        for r in conn.execute(
            "SELECT m.id FROM messages m WHERE m.conv_id = ? AND m.seq > ? AND m.seq <= ?"
            " AND m.sender != ? AND m.recalled = 0 AND NOT EXISTS (SELECT 1 FROM receipts r"
            " WHERE r.msg_id = m.id AND r.user_id = ? AND r.read_ms IS NOT NULL) ORDER BY m.seq",
            (conv_id, old_seq, new_seq, reader, reader),
        )
    )


def _mark_c2c(
    conn: sqlite3.Connection,
    app: int,
    conv_id: int,
    reader: str,
    upto_ms: int,
    upto_seq: int | None,
    now_ms: int,
    build_events: EventBuilder,
) -> ReadChange:
    old_seq, old_ms = _current(conn, conv_id, reader)
    if upto_seq is None:
        (target,) = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM messages WHERE conv_id = ? AND time_ms <= ?",
            (conv_id, upto_ms),
        ).fetchone()
    else:  # up to a message (clamped to the newest): its time becomes the read time
        row = conn.execute(
            "SELECT seq, time_ms FROM messages WHERE conv_id = ? AND seq <= ?"
            " ORDER BY seq DESC LIMIT 1",
            (conv_id, upto_seq),
        ).fetchone()
        target, upto_ms = row if row else (0, 0)
    read_seq, read_ms = max(old_seq, target), max(old_ms, upto_ms)
    _save(conn, conv_id, reader, read_seq, read_ms)
    covered = _unread_between(conn, conv_id, reader, old_seq, read_seq)
    change = ReadChange(
        read_seq,
        read_ms,
        _newly_read(conn, conv_id, reader, old_seq, read_seq, now_ms),
        c2c_unread_add(conn, app, reader, -covered)
        if covered
        else c2c_unread_total(conn, app, reader),
    )
    event_sql.append(conn, app, build_events(change), now_ms)
    return change


def _mark_group(
    conn: sqlite3.Connection,
    app: int,
    conv_id: int,
    reader: str,
    upto_seq: int | None,
    now_ms: int,
    build_events: EventBuilder,
) -> ReadChange:
    old_seq, old_ms = _current(conn, conv_id, reader)
    (last_seq,) = conn.execute(
        "SELECT last_seq FROM conversations WHERE id = ?", (conv_id,)
    ).fetchone()
    target = last_seq if upto_seq is None or upto_seq <= 0 else min(upto_seq, last_seq)
    read_seq = max(old_seq, target)
    _save(conn, conv_id, reader, read_seq, max(old_ms, now_ms))
    change = ReadChange(
        read_seq, now_ms, _newly_read(conn, conv_id, reader, old_seq, read_seq, now_ms), 0
    )
    event_sql.append(conn, app, build_events(change), now_ms)
    return change


class ReadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mark_c2c(
        self,
        app: int,
        conv_id: int,
        reader: str,
        upto_ms: int,
        now_ms: int,
        *,
        upto_seq: int | None = None,
        build_events: EventBuilder,
    ) -> ReadChange:
        """Move ``reader``'s read position to every message at or before ``upto_ms`` (or up to
        the message ``upto_seq``), never back."""
        return await self.db.write(
            _mark_c2c, app, conv_id, reader, upto_ms, upto_seq, now_ms, build_events
        )

    async def mark_group(
        self,
        app: int,
        conv_id: int,
        reader: str,
        upto_seq: int | None,
        now_ms: int,
        *,
        build_events: EventBuilder,
    ) -> ReadChange:
        """Move ``reader``'s read position to ``upto_seq`` (None or 0: the newest message)."""
        return await self.db.write(
            _mark_group, app, conv_id, reader, upto_seq, now_ms, build_events
        )

    async def readers(
        self,
        msg_id: int,
        conv_id: int,
        seq: int,
        exclude: frozenset[str],
        *,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Reader]:
        """Who (but the accounts in ``exclude``: the sender, say) has read a message, by
        receipt or conversation read, each once with the earliest time, ordered by
        (time, user) after the key ``after``."""
        key_ms, key_user = after if after is not None else (-1, "")
        left_out = sorted(exclude)
        rows = await self.db.fetchall(
            "SELECT user_id, min(read_ms) AS t FROM ("
            " SELECT user_id, read_ms FROM receipts WHERE msg_id = ? AND read_ms IS NOT NULL"
            " UNION ALL"
            " SELECT user_id, read_ms FROM read_marks WHERE conv_id = ? AND to_seq >= ?"
            " AND from_seq < ?"
            f") WHERE user_id NOT IN ({','.join('?' * len(left_out))})"
            " GROUP BY user_id HAVING t > ? OR (t = ? AND user_id > ?)"
            " ORDER BY t, user_id LIMIT ?",
            (msg_id, conv_id, seq, seq, *left_out, key_ms, key_ms, key_user, limit),
        )
        return [Reader(r[0], r[1]) for r in rows]

    async def position(self, conv_id: int, user: str) -> tuple[int, int]:
        """(read_seq, read_ms) of ``user`` in a conversation; (0, 0) if never read."""
        row = await self.db.fetchone(
            "SELECT read_seq, read_ms FROM reads WHERE conv_id = ? AND user_id = ?", (conv_id, user)
        )
        return (row[0], row[1]) if row else (0, 0)

    async def c2c_unread_total(self, app: int, user: str) -> int:
        """The user's total C2C unread count (kept by sends, reads and recalls)."""
        row = await self.db.fetchone(_C2C_UNREAD_TOTAL, (app, user))
        return int(row[0]) if row else 0

    async def c2c_unread(self, app: int, user: str) -> dict[str, int]:
        """``{peer: unread}`` over the user's C2C conversations with unread messages."""
        rows = await self.db.fetchall(_C2C_UNREAD, {"user": user, "app": app})  # type: ignore[arg-type]
        return {r[0]: r[1] for r in rows if r[1]}

    async def group_unread(self, conv_id: int, user: str) -> int:
        row = await self.db.fetchone(
            "SELECT count(*) FROM messages m WHERE m.conv_id = ? AND m.sender != ? AND m.recalled = 0"
            " AND m.seq > coalesce((SELECT read_seq FROM reads WHERE conv_id = ? AND user_id = ?), 0)",
            (conv_id, user, conv_id, user),
        )
        return int(row[0])

"""SQL for per-message read receipts: the receiver snapshot rows and the read counters."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.core.events import Event
from server.core.model import MemberPage, ReadFilter, ReadMember
from server.store import events as event_sql
from server.store.db import Database


@dataclass(frozen=True, slots=True)
class ReceiptChange:
    """The outcome of one receipt for one message."""

    msg_id: int
    newly_read: bool  # False: the reader had already read it, or is not a receiver
    is_receiver: bool
    read: int
    receivers: int
    read_ms: int | None  # when this reader read it
    first_read: bool = False  # newly read, and not covered by an earlier conversation read either


EventBuilder = Callable[[Sequence[ReceiptChange]], Sequence[Event]]


def _mark_read(
    conn: sqlite3.Connection,
    app: int,
    reader: str,
    msg_ids: Sequence[int],
    now_ms: int,
    build_events: EventBuilder,
    track_first: bool,
) -> list[ReceiptChange]:
    changes = []
    for msg_id in msg_ids:
        cur = conn.execute(
            "UPDATE receipts SET read_ms = ? WHERE msg_id = ? AND user_id = ? AND read_ms IS NULL",
            (now_ms, msg_id, reader),
        )
        if cur.rowcount == 1:
            read, receivers, seq, conv_id = conn.execute(
                "UPDATE messages SET read_count = read_count + 1 WHERE id = ?"
                " RETURNING read_count, receivers, seq, conv_id",
                (msg_id,),
            ).fetchone()
            first = True
            if track_first:
                position = conn.execute(
                    "SELECT read_seq FROM reads WHERE conv_id = ? AND user_id = ?",
                    (conv_id, reader),
                ).fetchone()
                first = position is None or seq > position[0]
            changes.append(ReceiptChange(msg_id, True, True, read, receivers, now_ms, first))
        else:
            read, receivers, read_ms, is_receiver = conn.execute(
                "SELECT m.read_count, m.receivers, r.read_ms, r.user_id IS NOT NULL FROM messages m"
                " LEFT JOIN receipts r ON r.msg_id = m.id AND r.user_id = ? WHERE m.id = ?",
                (reader, msg_id),
            ).fetchone()
            changes.append(
                ReceiptChange(msg_id, False, bool(is_receiver), read, receivers, read_ms)
            )
    event_sql.append(conn, app, build_events(changes), now_ms)
    return changes


class ReceiptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def mark_read(
        self,
        app: int,
        reader: str,
        msg_ids: Sequence[int],
        now_ms: int,
        *,
        build_events: EventBuilder,
        track_first: bool = False,
    ) -> list[ReceiptChange]:
        """Record that ``reader`` read each message (idempotent: a second receipt changes
        nothing), in one transaction with the events ``build_events`` makes of the changes.
        With ``track_first``, each change also says whether an earlier conversation read had
        already covered the message (``first_read``)."""
        return await self.db.write(
            _mark_read, app, reader, msg_ids, now_ms, build_events, track_first
        )

    async def counts(self, msg_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """``{msg_id: (read, receivers)}`` for messages with receipt state."""
        out: dict[int, tuple[int, int]] = {}
        for i in range(0, len(msg_ids), 500):
            chunk = list(msg_ids[i : i + 500])
            rows = await self.db.fetchall(
                f"SELECT id, read_count, receivers FROM messages WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.update((r[0], (r[1], r[2])) for r in rows)
        return out

    async def read_at(self, msg_id: int, user_id: str) -> tuple[bool, int | None]:
        """(is a receiver, when it read the message or None)."""
        row = await self.db.fetchone(
            "SELECT read_ms FROM receipts WHERE msg_id = ? AND user_id = ?", (msg_id, user_id)
        )
        return (False, None) if row is None else (True, row[0])

    async def page(self, msg_id: int, which: ReadFilter, cursor: int, count: int) -> MemberPage:
        """Receivers after position ``cursor`` that have (not) read, in snapshot order."""
        cond = "read_ms IS NOT NULL" if which is ReadFilter.READ else "read_ms IS NULL"
        rows = await self.db.fetchall(
            f"SELECT user_id, read_ms, idx FROM receipts WHERE msg_id = ? AND idx > ? AND {cond}"
            " ORDER BY idx LIMIT ?",
            (msg_id, cursor, count + 1),
        )
        finished = len(rows) <= count
        rows = rows[:count]
        members = tuple(ReadMember(r[0], r[1], r[2]) for r in rows)
        next_cursor = members[-1].cursor if members else cursor
        return MemberPage(members, next_cursor, finished)

    async def readers_by_time(
        self, msg_id: int, after: tuple[int, int] | None, count: int
    ) -> list[ReadMember]:
        """Receivers that read the message, ordered by (read time, position), after a key."""
        key_ms, key_idx = after if after is not None else (-1, 0)
        rows = await self.db.fetchall(
            "SELECT user_id, read_ms, idx FROM receipts WHERE msg_id = ? AND read_ms IS NOT NULL"
            " AND (read_ms > ? OR (read_ms = ? AND idx > ?)) ORDER BY read_ms, idx LIMIT ?",
            (msg_id, key_ms, key_ms, key_idx, count),
        )
        return [ReadMember(r[0], r[1], r[2]) for r in rows]

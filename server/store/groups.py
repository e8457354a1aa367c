"""SQL for conversations (groups and C2C pairs) and group members."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from server.core.errors import CoreError, Reason
from server.core.model import Conversation, ConvKind, Group, GroupType, Member
from server.store.db import Database

_CONV_COLS = "id, app, kind, group_id, group_type, user_a, user_b"


def _conv(row: Sequence[object]) -> Conversation:
    return Conversation(
        id=row[0],  # type: ignore[arg-type]
        app=row[1],  # type: ignore[arg-type]
        kind=ConvKind(row[2]),
        group_id=row[3],  # type: ignore[arg-type]
        group_type=GroupType(row[4]) if row[4] else None,
        user_a=row[5],  # type: ignore[arg-type]
        user_b=row[6],  # type: ignore[arg-type]
    )


def _create_group(
    conn: sqlite3.Connection,
    app: int,
    group_id: str,
    group_type: str,
    name: str,
    owner: str,
    members: Sequence[tuple[str, str]],
    now_ms: int,
) -> int:
    try:
        cur = conn.execute(
            "INSERT INTO conversations (app, kind, group_id, group_type, name, owner, created_ms)"
            " VALUES (?, 'group', ?, ?, ?, ?, ?)",
            (app, group_id, group_type, name, owner, now_ms),
        )
    except sqlite3.IntegrityError:
        raise CoreError(Reason.GROUP_EXISTS, f"group {group_id!r} already exists") from None
    conv_id = cur.lastrowid
    assert conv_id is not None
    _add(conn, conv_id, members, now_ms)
    return conv_id


def _add(
    conn: sqlite3.Connection, conv_id: int, members: Sequence[tuple[str, str]], now_ms: int
) -> list[str]:
    last_seq = conn.execute(
        "SELECT last_seq FROM conversations WHERE id = ?", (conv_id,)
    ).fetchone()[0]
    added = []
    for user_id, role in members:
        cur = conn.execute(
            "INSERT INTO members (conv_id, user_id, role, joined_ms, join_seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (conv_id, user_id) DO NOTHING",
            (conv_id, user_id, role, now_ms, last_seq),
        )
        if cur.rowcount == 1:
            added.append(user_id)
            # A new member has read nothing before it joined: its unread count starts at 0.
            conn.execute(
                "INSERT INTO reads (conv_id, user_id, read_seq, read_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (conv_id, user_id) DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)",
                (conv_id, user_id, last_seq, now_ms),
            )
    return added


def _remove(conn: sqlite3.Connection, conv_id: int, user_ids: Sequence[str]) -> list[str]:
    removed = []
    for user_id in user_ids:
        cur = conn.execute(
            "DELETE FROM members WHERE conv_id = ? AND user_id = ?", (conv_id, user_id)
        )
        if cur.rowcount == 1:
            removed.append(user_id)
    return removed


def _destroy(conn: sqlite3.Connection, conv_id: int) -> None:
    conn.execute("DELETE FROM members WHERE conv_id = ?", (conv_id,))
    conn.execute("UPDATE conversations SET live = 0 WHERE id = ?", (conv_id,))


def _c2c(conn: sqlite3.Connection, app: int, user_a: str, user_b: str, now_ms: int) -> int:
    row = conn.execute(
        "SELECT id FROM conversations WHERE app = ? AND kind = 'c2c' AND user_a = ? AND user_b = ?",
        (app, user_a, user_b),
    ).fetchone()
    if row:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO conversations (app, kind, user_a, user_b, created_ms) VALUES (?, 'c2c', ?, ?, ?)",
        (app, user_a, user_b, now_ms),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


class GroupStore:
    """Groups and C2C conversations, with in-memory caches for the hot paths.

    Live groups and member sets are cached and invalidated by every membership write; a
    per-conversation version keeps a read that raced with a write from caching stale data.
    C2C conversation ids never change and are cached for good.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._groups: dict[tuple[int, str], Group] = {}
        self._member_sets: dict[int, frozenset[str]] = {}
        self._versions: dict[int, int] = {}
        self._pairs: dict[tuple[int, str, str], Conversation] = {}
        self._generation = 0  # bumped by every invalidation (guards the group cache)

    def _invalidate(self, conv_id: int) -> None:
        self._generation += 1
        self._versions[conv_id] = self._versions.get(conv_id, 0) + 1
        self._member_sets.pop(conv_id, None)
        for key in [k for k, g in self._groups.items() if g.conv_id == conv_id]:
            del self._groups[key]

    async def create(
        self,
        app: int,
        group_id: str,
        group_type: GroupType,
        name: str,
        owner: str,
        members: Sequence[tuple[str, str]],
        now_ms: int,
    ) -> int:
        """Create a live group with its first members; CoreError(GROUP_EXISTS) on a taken id."""
        self._groups.pop((app, group_id), None)
        conv_id = await self.db.write(
            _create_group, app, group_id, group_type.value, name, owner, members, now_ms
        )
        self._invalidate(conv_id)
        return conv_id

    async def add_members(
        self, conv_id: int, members: Sequence[tuple[str, str]], now_ms: int
    ) -> list[str]:
        self._invalidate(conv_id)
        try:
            return await self.db.write(_add, conv_id, members, now_ms)
        finally:
            self._invalidate(conv_id)

    async def remove_members(self, conv_id: int, user_ids: Sequence[str]) -> list[str]:
        self._invalidate(conv_id)
        try:
            return await self.db.write(_remove, conv_id, user_ids)
        finally:
            self._invalidate(conv_id)

    async def destroy(self, conv_id: int) -> None:
        self._invalidate(conv_id)
        try:
            await self.db.write(_destroy, conv_id)
        finally:
            self._invalidate(conv_id)

    async def get(self, app: int, group_id: str) -> Group | None:
        cached = self._groups.get((app, group_id))
        if cached is not None:
            return cached
        generation = self._generation
        row = await self.db.fetchone(
            "SELECT c.app, c.id, c.group_id, c.group_type, c.name, c.owner, c.created_ms,"
            " (SELECT count(*) FROM members m WHERE m.conv_id = c.id)"
            " FROM conversations c WHERE c.app = ? AND c.kind = 'group' AND c.group_id = ? AND c.live = 1",
            (app, group_id),
        )
        if row is None:
            return None
        group = Group(row[0], row[1], row[2], GroupType(row[3]), row[4], row[5], row[6], row[7])
        if self._generation == generation:
            self._groups[(app, group_id)] = group
        return group

    async def of_member(self, app: int, user_id: str, after_conv: int, limit: int) -> list[Group]:
        """Live groups of ``app`` that ``user_id`` is a member of, by conversation id."""
        rows = await self.db.fetchall(
            "SELECT c.app, c.id, c.group_id, c.group_type, c.name, c.owner, c.created_ms,"
            " (SELECT count(*) FROM members n WHERE n.conv_id = c.id)"
            " FROM members m JOIN conversations c ON c.id = m.conv_id"
            " WHERE m.user_id = ? AND c.app = ? AND c.kind = 'group' AND c.live = 1 AND c.id > ?"
            " ORDER BY c.id LIMIT ?",
            (user_id, app, after_conv, limit),
        )
        return [Group(r[0], r[1], r[2], GroupType(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    async def c2c_of(self, app: int, user_id: str) -> list[Conversation]:
        """Every one-to-one conversation ``user_id`` is a party to."""
        rows = await self.db.fetchall(
            f"SELECT {_CONV_COLS} FROM conversations WHERE app = ? AND kind = 'c2c'"
            " AND (user_a = ? OR user_b = ?)",
            (app, user_id, user_id),
        )
        return [_conv(r) for r in rows]

    async def last_seq(self, conv_id: int) -> int:
        """The sequence number of the conversation's newest message (0: none)."""
        row = await self.db.fetchone("SELECT last_seq FROM conversations WHERE id = ?", (conv_id,))
        return int(row[0]) if row else 0

    async def member_set(self, conv_id: int) -> frozenset[str]:
        """The current members (cached until the next membership write)."""
        cached = self._member_sets.get(conv_id)
        if cached is not None:
            return cached
        version = self._versions.get(conv_id, 0)
        rows = await self.db.fetchall("SELECT user_id FROM members WHERE conv_id = ?", (conv_id,))
        members = frozenset(r[0] for r in rows)
        if self._versions.get(conv_id, 0) == version:
            self._member_sets[conv_id] = members
        return members

    async def members(self, conv_id: int) -> list[Member]:
        rows = await self.db.fetchall(
            "SELECT user_id, joined_ms, role FROM members WHERE conv_id = ? ORDER BY joined_ms, user_id",
            (conv_id,),
        )
        return [Member(*r) for r in rows]

    async def member(self, conv_id: int, user_id: str) -> Member | None:
        row = await self.db.fetchone(
            "SELECT user_id, joined_ms, role FROM members WHERE conv_id = ? AND user_id = ?",
            (conv_id, user_id),
        )
        return Member(*row) if row else None

    async def is_member(self, conv_id: int, user_id: str) -> bool:
        return user_id in await self.member_set(conv_id)

    async def conversation(self, conv_id: int) -> Conversation | None:
        row = await self.db.fetchone(
            f"SELECT {_CONV_COLS} FROM conversations WHERE id = ?", (conv_id,)
        )
        return _conv(row) if row else None

    async def find_c2c(self, app: int, user_a: str, user_b: str) -> Conversation | None:
        a, b = sorted((user_a, user_b))
        cached = self._pairs.get((app, a, b))
        if cached is not None:
            return cached
        row = await self.db.fetchone(
            f"SELECT {_CONV_COLS} FROM conversations WHERE app = ? AND kind = 'c2c' AND user_a = ? AND user_b = ?",
            (app, a, b),
        )
        if row is None:
            return None
        conv = _conv(row)
        self._pairs[(app, a, b)] = conv
        return conv

    async def c2c(self, app: int, user_a: str, user_b: str, now_ms: int) -> int:
        """The id of the C2C conversation of two users, created on first use."""
        a, b = sorted((user_a, user_b))
        return await self.db.write(_c2c, app, a, b, now_ms)

"""SQL for accounts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from server.core.model import Account
from server.store.db import Database


def _import(
    conn: sqlite3.Connection, app: int, accounts: Sequence[tuple[str, str, str]], now_ms: int
) -> list[bool]:
    created = []
    for user_id, nick, face_url in accounts:
        cur = conn.execute(
            "INSERT INTO accounts (app, user_id, nick, face_url, created_ms) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (app, user_id) DO NOTHING",
            (app, user_id, nick, face_url, now_ms),
        )
        created.append(cur.rowcount == 1)
    return created


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def import_accounts(
        self, app: int, accounts: Sequence[tuple[str, str, str]], now_ms: int
    ) -> list[bool]:
        """Insert (user_id, nick, face_url) rows; per row, True if it was new."""
        return await self.db.write(_import, app, accounts, now_ms)

    async def get(self, app: int, user_id: str) -> Account | None:
        row = await self.db.fetchone(
            "SELECT app, user_id, nick, face_url, created_ms FROM accounts WHERE app = ? AND user_id = ?",
            (app, user_id),
        )
        return Account(*row) if row else None

    async def existing(self, app: int, user_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(user_ids))
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = await self.db.fetchall(
                f"SELECT user_id FROM accounts WHERE app = ? AND user_id IN ({','.join('?' * len(chunk))})",
                (app, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    async def all_ids(self, app: int) -> list[str]:
        rows = await self.db.fetchall("SELECT user_id FROM accounts WHERE app = ?", (app,))
        return [r[0] for r in rows]

    async def profiles(self, app: int, user_ids: Sequence[str]) -> dict[str, Account]:
        out: dict[str, Account] = {}
        ids = list(dict.fromkeys(user_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = await self.db.fetchall(
                "SELECT app, user_id, nick, face_url, created_ms FROM accounts"
                f" WHERE app = ? AND user_id IN ({','.join('?' * len(chunk))})",
                (app, *chunk),
            )
            out.update((r[1], Account(*r)) for r in rows)
        return out

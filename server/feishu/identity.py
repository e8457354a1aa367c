"""Who is who, in Feishu terms: open_id/union_id/user_id/email <-> the workspace's accounts.

open_ids and union_ids are hashes (``protocol/feishu/ids.py``), so this keeps the reverse maps,
filled from the workspace's accounts and refreshed when an unknown id is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocol.feishu import ids
from server.core.service import Core
from server.settings import SCOPE_USER_ID, FeishuAppSettings

IdType = Literal["open_id", "user_id", "union_id", "email", "app_id"]


@dataclass(frozen=True, slots=True)
class UserIds:
    """A user's ids as one app sees them; ``user_id`` is None without the user-id scope."""

    open_id: str
    union_id: str
    user_id: str | None

    def as_dict(self) -> dict[str, str]:
        out = {"union_id": self.union_id, "open_id": self.open_id}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        return out

    def by_type(self, id_type: str) -> str:
        if id_type == "user_id":
            return self.user_id or ""
        return self.union_id if id_type == "union_id" else self.open_id


class Identity:
    def __init__(self, core: Core) -> None:
        self.core = core
        self._by_open: dict[str, dict[str, str]] = {}  # app_id -> open_id -> user
        self._by_union: dict[int, dict[str, str]] = {}  # workspace -> union_id -> user

    def ids_of(self, app: FeishuAppSettings, user: str) -> UserIds:
        """The ids ``app`` sees for account ``user``."""
        return UserIds(
            ids.open_id(app.app_id, user),
            ids.union_id(app.workspace, user),
            user if app.has_scope(SCOPE_USER_ID) else None,
        )

    async def _refresh(self, app: FeishuAppSettings) -> None:
        users = await self.core.directory.all_ids(app.workspace)
        self._by_open[app.app_id] = {ids.open_id(app.app_id, u): u for u in users}
        self._by_union[app.workspace] = {ids.union_id(app.workspace, u): u for u in users}

    async def account(self, app: FeishuAppSettings, id_type: str, value: str) -> str | None:
        """The account named by ``value`` of ``id_type``, or None if there is none."""
        if id_type in ("user_id", "app_id"):
            found = await self.core.directory.existing(app.workspace, [value])
            return value if value in found else None
        if id_type == "email":
            user = ids.user_of_email(value)
            if user is None:
                return None
            found = await self.core.directory.existing(app.workspace, [user])
            return user if user in found else None
        for attempt in range(2):
            if id_type == "open_id":
                user = self._by_open.get(app.app_id, {}).get(value)
            elif id_type == "union_id":
                user = self._by_union.get(app.workspace, {}).get(value)
            else:
                return None
            if user is not None or attempt:
                return user
            await self._refresh(app)
        return None

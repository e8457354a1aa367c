"""Who is calling an open-api: one app's bot, as its tenant_access_token says, with what it
needs to name users and bots in Feishu terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.feishu import errors as E
from protocol.feishu import ids
from protocol.feishu.ids import FeishuIds
from server.core.service import Core
from server.feishu.errors import FeishuError
from server.feishu.identity import Identity
from server.settings import SCOPE_USER_ID, FeishuAppSettings


@dataclass(frozen=True, slots=True)
class Bot:
    app: FeishuAppSettings
    core: Core
    identity: Identity
    apps: Mapping[str, FeishuAppSettings]  # every configured app, by app id
    ids: FeishuIds  # the database's om_/oc_/rc_ ids

    @property
    def app_id(self) -> str:
        """The bot's account in its workspace."""
        return self.app.app_id

    @property
    def workspace(self) -> int:
        return self.app.workspace

    @property
    def tenant_key(self) -> str:
        return ids.tenant_key(self.app.workspace)

    def is_bot(self, account: str) -> bool:
        """Whether ``account`` is the bot of an app in this bot's workspace."""
        other = self.apps.get(account)
        return other is not None and other.workspace == self.app.workspace

    def bots(self) -> frozenset[str]:
        """The bot accounts (app ids) of this bot's workspace."""
        return frozenset(a for a, s in self.apps.items() if s.workspace == self.app.workspace)

    def reaches(self, account: str) -> bool:
        """Whether ``account`` is within the app's availability (bots always are)."""
        return self.app.reach is None or account in self.app.reach or self.is_bot(account)

    def require_id_type(self, id_type: str) -> None:
        """``user_id`` values need the app's user-id scope. Raises FeishuError 99991672."""
        if id_type == "user_id" and not self.app.has_scope(SCOPE_USER_ID):
            raise FeishuError(
                E.SCOPE_MISSING,
                f"Access denied: user_id_type user_id needs the scope {SCOPE_USER_ID}",
            )

    def id_of(self, account: str, id_type: str) -> tuple[str, str]:
        """``(id, id_type)`` naming ``account`` to this bot: a bot by its app id, a user by
        ``id_type`` (open_id, union_id or user_id)."""
        if self.is_bot(account):
            return account, "app_id"
        if id_type == "user_id":
            self.require_id_type(id_type)
            return account, "user_id"
        found = self.identity.ids_of(self.app, account)
        return (found.union_id, "union_id") if id_type == "union_id" else (found.open_id, "open_id")

    async def account_of(self, id_type: str, value: str) -> str | None:
        """The account ``value`` names (as ``id_type``: open_id, union_id, user_id, email or
        app_id), or None if it names none this bot can see."""
        if id_type == "app_id":
            return value if self.is_bot(value) else None
        self.require_id_type(id_type)
        account = await self.identity.account(self.app, id_type, value)
        if account is not None and self.is_bot(account):
            return None  # a bot is named by its app id only
        return account

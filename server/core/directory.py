"""Accounts: who exists in each app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.model import Account

MAX_USER_ID_BYTES = 32


def check_user_id(user_id: str) -> None:
    """A user id is 1..32 bytes of printable ASCII (TIM's account rule, which Feishu user_ids share).

    Raises CoreError(INVALID) naming the id."""
    if not user_id or len(user_id.encode()) > MAX_USER_ID_BYTES:
        raise CoreError(Reason.INVALID, f"user id {user_id!r} must be 1 to 32 bytes")
    if not all(0x20 <= ord(ch) <= 0x7E for ch in user_id):
        raise CoreError(Reason.INVALID, f"user id {user_id!r} must be printable ASCII")


@dataclass(frozen=True, slots=True)
class NewAccount:
    user_id: str
    nick: str = ""
    face_url: str = ""


class Directory:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def import_accounts(self, app: int, accounts: Sequence[NewAccount]) -> list[bool]:
        """Create accounts that do not exist yet (existing ones are left as they are).

        Returns, per account, whether it was created. Raises CoreError(INVALID) for a bad id."""
        self.d.policy(app)
        for acc in accounts:
            check_user_id(acc.user_id)
        return await self.d.store.accounts.import_accounts(
            app, [(a.user_id, a.nick, a.face_url) for a in accounts], self.d.clock.now_ms()
        )

    async def ensure(self, app: int, user_id: str) -> None:
        """Create the account on first use (a TIM login imports the account automatically)."""
        if await self.d.store.accounts.get(app, user_id) is None:
            await self.import_accounts(app, [NewAccount(user_id)])

    async def get(self, app: int, user_id: str) -> Account:
        account = await self.d.store.accounts.get(app, user_id)
        if account is None:
            raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user_id!r} does not exist")
        return account

    async def require(self, app: int, user_ids: Sequence[str]) -> None:
        """Raise CoreError(UNKNOWN_ACCOUNT) naming the first id that does not exist."""
        found = await self.d.store.accounts.existing(app, user_ids)
        for user_id in user_ids:
            if user_id not in found:
                raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user_id!r} does not exist")

    async def existing(self, app: int, user_ids: Sequence[str]) -> set[str]:
        return await self.d.store.accounts.existing(app, user_ids)

    async def all_ids(self, app: int) -> list[str]:
        """Every account id of an app (for dialects that map hashed ids back to accounts)."""
        return await self.d.store.accounts.all_ids(app)

    async def profiles(self, app: int, user_ids: Sequence[str]) -> dict[str, Account]:
        return await self.d.store.accounts.profiles(app, user_ids)

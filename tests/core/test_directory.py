"""Accounts: import, ensure, require, and the user id rule."""

from __future__ import annotations

import pytest

from server.core.directory import NewAccount
from server.core.errors import CoreError, Reason
from server.core.service import Core
from tests.core.support import APP, APP_BASIC


async def test_import_creates_new_accounts_and_keeps_existing_ones(core: Core) -> None:
    """Importing reports per account whether it was created and leaves existing ones unchanged."""
    assert await core.directory.import_accounts(APP, [NewAccount("alice", nick="Alice")]) == [True]
    created = await core.directory.import_accounts(
        APP, [NewAccount("alice", nick="Other"), NewAccount("bob")]
    )
    assert created == [False, True]
    alice = await core.directory.get(APP, "alice")
    assert (alice.nick, alice.created_ms) == ("Alice", core.clock.now_ms())


async def test_accounts_belong_to_one_app(core: Core) -> None:
    """An account imported into one app does not exist in another."""
    await core.directory.import_accounts(APP, [NewAccount("alice")])
    assert await core.directory.existing(APP_BASIC, ["alice"]) == set()
    with pytest.raises(CoreError) as err:
        await core.directory.get(APP_BASIC, "alice")
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT


async def test_ensure_creates_an_account_once(core: Core) -> None:
    """ensure() creates a missing account and is a no-op for an existing one."""
    await core.directory.ensure(APP, "carol")
    await core.directory.ensure(APP, "carol")
    assert await core.directory.existing(APP, ["carol", "dave"]) == {"carol"}


async def test_require_names_the_first_missing_account(core: Core) -> None:
    """require() passes when every account exists and otherwise raises UNKNOWN_ACCOUNT naming it."""
    await core.directory.import_accounts(APP, [NewAccount("alice"), NewAccount("bob")])
    await core.directory.require(APP, ["alice", "bob"])
    with pytest.raises(CoreError) as err:
        await core.directory.require(APP, ["alice", "zed", "bob"])
    assert err.value.reason is Reason.UNKNOWN_ACCOUNT
    assert "zed" in err.value.message


async def test_profiles_returns_known_accounts_only(core: Core) -> None:
    """profiles() maps each existing id to its account and leaves unknown ids out."""
    await core.directory.import_accounts(APP, [NewAccount("alice", "Alice", "http://a/face.png")])
    profiles = await core.directory.profiles(APP, ["alice", "ghost"])
    assert list(profiles) == ["alice"]
    assert profiles["alice"].face_url == "http://a/face.png"


@pytest.mark.parametrize(
    "user_id",
    ["", "x" * 33, "é" * 17, "tab\there", "nul\x00", "new\nline", "del\x7f", "ünïcode"],
    ids=["empty", "33-bytes", "34-utf8-bytes", "tab", "nul", "newline", "del", "non-ascii"],
)
async def test_invalid_user_ids_are_refused(core: Core, user_id: str) -> None:
    """An empty, over-32-byte or non-printable-ASCII user id is refused with INVALID."""
    for attempt in (
        core.directory.import_accounts(APP, [NewAccount("fine"), NewAccount(user_id)]),
        core.directory.ensure(APP, user_id),
    ):
        with pytest.raises(CoreError) as err:
            await attempt
        assert err.value.reason is Reason.INVALID
        assert repr(user_id) in err.value.message
    assert await core.directory.existing(APP, ["fine"]) == set()  # nothing of the call is stored


async def test_the_longest_valid_ids_are_accepted(core: Core) -> None:
    """A 32-byte id and ids with printable punctuation and spaces are accepted."""
    ids = ["x" * 32, "a b", "@TIM#SYSTEM", "~!$%^&*()_+"]
    assert await core.directory.import_accounts(APP, [NewAccount(u) for u in ids]) == [True] * 4


async def test_an_unknown_app_is_refused(core: Core) -> None:
    """Importing into an app without a policy is refused with INVALID."""
    with pytest.raises(CoreError) as err:
        await core.directory.import_accounts(1, [NewAccount("alice")])
    assert err.value.reason is Reason.INVALID

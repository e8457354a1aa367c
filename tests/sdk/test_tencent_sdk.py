"""Tencent's own Chat SDK (``@tencentcloud/chat`` 3.6.6) against the server, unchanged but
for ``proxyServer``: each test runs one Node scenario (``tests/sdk/*.mjs``)."""

from __future__ import annotations

from pathlib import Path

from tests.sdk.conftest import run_scenario


async def test_receipts_with_four_sdk_instances(tmp_path: Path) -> None:
    """Four SDK instances send C2C and group messages with receipts; counts, read/unread lists,
    peer reads and the REST view all agree."""
    outcome = await run_scenario("receipts.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 14


async def test_an_offline_user_catches_up_after_login(tmp_path: Path) -> None:
    """Messages sent while a user was offline show in its conversation list and history, with
    the sender's ids, and take receipts."""
    outcome = await run_scenario("offline.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 8


async def test_one_user_on_two_sdk_instances(tmp_path: Path) -> None:
    """Two instances of one user both get every message and receipt, see each other's sends
    as their own, and share the read state."""
    outcome = await run_scenario("multi.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 6


async def test_sdk_instances_reconnect_after_a_server_restart(tmp_path: Path) -> None:
    """After a restart the SDK reconnects on its own with its A2Key, and nothing is lost or
    doubled."""
    outcome = await run_scenario("restart.mjs", tmp_path / "im.sqlite3")
    assert outcome.restarts == 1
    assert len(outcome.steps) >= 5


async def test_dev_mode_text_frames(tmp_path: Path) -> None:
    """devMode (text frames on /tim/sdk/info) works like binary frames."""
    await run_scenario("devmode.mjs", tmp_path / "im.sqlite3")


async def test_refusals_reject_the_sdk_promise_with_tim_codes(tmp_path: Path) -> None:
    """Bad UserSigs and impossible sends reject with TIM's codes; nothing is left unhandled."""
    outcome = await run_scenario("errors.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 10


async def test_messages_and_receipts_cross_between_rest_and_the_sdk(tmp_path: Path) -> None:
    """REST messages reach SDK users; REST receipts reach SDK senders and SDK receipts count
    over REST."""
    outcome = await run_scenario("cross.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 7


async def test_groups_as_the_sdk_sees_them(tmp_path: Path) -> None:
    """getGroupList, getGroupProfile (refusals per group), getGroupMemberList and a message in
    a group joined after login."""
    outcome = await run_scenario("groups.mjs", tmp_path / "im.sqlite3")
    assert len(outcome.steps) >= 7

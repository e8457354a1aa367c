"""The TIM callback channel (server/tim/callbacks.py): which CallbackCommands it sends.

What a callback looks like on the wire is tested end to end in tests/e2e/test_callbacks.py.
"""

from __future__ import annotations

import aiohttp
import pytest

from server.core.clock import FakeClock
from server.core.events import C2CRead, StoredEvent, encode_event, event_type
from server.settings import AppSettings, CallbackSettings
from server.tim.callbacks import ALL_COMMANDS, TimCallbackChannel
from tests.harness import KEY, SDKAPPID

APP = AppSettings(sdkappid=SDKAPPID, secret_key=KEY)
URL = "http://127.0.0.1:9/never-called"


def stored_read() -> StoredEvent:
    event = C2CRead(
        reader="bob", peer="alice", read_ms=1_700_000_000_000, unread_total=0, newly_read=()
    )
    return StoredEvent(1, SDKAPPID, event_type(event), 1_700_000_000_000, encode_event(event))


async def test_commands_none_means_all_and_an_empty_list_means_none() -> None:
    """Without `commands` all four callbacks are sent; `commands = []` sends none, without a request."""
    async with aiohttp.ClientSession() as http:
        every = TimCallbackChannel(APP, CallbackSettings(url=URL), http, FakeClock())
        silent = TimCallbackChannel(APP, CallbackSettings(url=URL, commands=[]), http, FakeClock())
        assert every.commands == frozenset(ALL_COMMANDS)
        assert silent.commands == frozenset()
        assert await silent.deliver(stored_read()) is None


async def test_an_unknown_command_is_refused() -> None:
    """A `commands` entry that is no CallbackCommand the server sends is refused at start-up."""
    settings = CallbackSettings(url=URL, commands=["Group.CallbackAfterReadReciept"])
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ValueError, match=r"Group\.CallbackAfterReadReciept"):
            TimCallbackChannel(APP, settings, http, FakeClock())

"""Fixtures every test folder may use. Keep this generic: each folder adds its own conftest."""

from __future__ import annotations

import pytest

from server.core.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test moves it (1_700_000_000_000 ms at the start)."""
    return FakeClock()

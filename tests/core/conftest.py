"""Core fixtures: a real SQLite database in a temporary directory, a fake clock, and a core
whose listener calls are recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.core.clock import FakeClock
from server.core.policy import AppPolicy
from server.core.service import Core
from server.store.db import Database
from server.store.store import Store
from tests.core.support import APP, APP_BASIC, Recorder


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "im.sqlite3"))
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def core(db: Database, clock: FakeClock, recorder: Recorder) -> Core:
    """A flagship app (APP) and a basic-plan app (APP_BASIC) on one database."""
    built = Core(
        Store(db),
        clock,
        {APP: AppPolicy(APP), APP_BASIC: AppPolicy(APP_BASIC, flagship=False)},
    )
    built.listeners.add(recorder)
    return built

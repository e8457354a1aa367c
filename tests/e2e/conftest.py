"""Fixtures of the end-to-end tests: a callback receiver and a watch on the outbox's log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from tests.e2e.receiver import OutboxLog, Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started callback receiver on a free port, answering HTTP 200."""
    async with Receiver() as r:
        yield r


@pytest.fixture
async def outbox_log() -> AsyncIterator[OutboxLog]:
    """The log lines of the in-process server's outbox, as they are written."""
    handler = OutboxLog()
    logger = logging.getLogger("server.outbox")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)

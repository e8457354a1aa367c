"""Time as a dependency: the real clock for the server, a movable one for tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time in milliseconds since the Unix epoch."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The machine's wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that only moves when told to (tests: expiry, 7-day windows, backoff)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, *, ms: int = 0, seconds: float = 0, days: float = 0) -> None:
        self._now += ms + int(seconds * 1000) + int(days * 86_400_000)

    def set(self, now_ms: int) -> None:
        self._now = now_ms

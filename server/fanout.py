"""Who is online, and per-session bounded push queues.

A push is encoded once and offered to each target session's queue without waiting. A session
whose queue is full (a slow or stuck client) is cut off with close code 4008 instead of
stalling anyone else; its pushes are dropped (the client can re-sync from history and
``getMessageReadReceipts``). Each session drains its own queue in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger("server.fanout")

CLOSE_SLOW_CONSUMER = 4008


class PushSession:
    """The push side of one connection: a bounded queue and the task that drains it."""

    def __init__(
        self,
        app: int,
        user: str,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Coroutine[Any, Any, None]],
        *,
        limit: int,
        name: str = "",
    ) -> None:
        self.app = app
        self.user = user
        self.name = name
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(limit)
        self._limit = limit
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        self.dropped = 0
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name=f"push:{self.name or self.user}")

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False (and the session is being cut off) if the queue is full."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self.dropped += 1
            self.closed = True
            log.warning(
                "session %s of %s/%s is too slow (%d pushes queued): closing it",
                self.name,
                self.app,
                self.user,
                self._limit,
            )
            self._closing = asyncio.create_task(
                self._close(CLOSE_SLOW_CONSUMER, f"too slow: {self._limit} pushes queued")
            )
            return False

    async def _drain(self) -> None:
        try:
            while not self.closed:
                frame = await self._queue.get()
                if self.closed:  # cut off meanwhile: what is queued is dropped
                    break
                await self._send(frame)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection went away; the reader side cleans up
            log.debug("push to %s/%s stopped: %r", self.app, self.user, exc)
            self.closed = True

    async def stop(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


class Fanout:
    """The online sessions of every (app, user)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[int, str], list[PushSession]] = {}

    def add(self, session: PushSession) -> None:
        self._sessions.setdefault((session.app, session.user), []).append(session)

    def remove(self, session: PushSession) -> None:
        key = (session.app, session.user)
        sessions = self._sessions.get(key)
        if sessions and session in sessions:
            sessions.remove(session)
            if not sessions:
                del self._sessions[key]

    def sessions(self, app: int, user: str) -> list[PushSession]:
        return self._sessions.get((app, user), [])

    def push(
        self, app: int, users: Iterable[str], frame: bytes, *, skip: PushSession | None = None
    ) -> int:
        """Offer ``frame`` to every session of ``users``; returns how many took it."""
        n = 0
        for user in users:
            for session in self._sessions.get((app, user), ()):
                if session is not skip and session.offer(frame):
                    n += 1
        return n

    def online(self) -> int:
        return sum(len(s) for s in self._sessions.values())

"""A local TIM callback receiver for tests: it records every request and can fail, hang or go away.

::

    receiver = Receiver()
    await receiver.start()                 # a pre-bound port-0 socket (or the port given)
    ... CallbackSettings(url=receiver.url) ...
    receiver.status = 500                  # answer every callback with HTTP 500 ...
    receiver.fail = lambda hit: 503 if ... else None   # ... or decide per request
    await receiver.stop()                  # nothing listens on the port any more
    await receiver.start()                 # the same port again
    await receiver.wait_until(lambda: len(receiver.delivered) >= 3, what="3 callbacks")

Tests wait on :meth:`wait_until`, which wakes on each recorded request, never on a sleep. The
outbox's own log lines are watched the same way by :class:`OutboxLog`, for failures that never
reach a receiver (a closed port).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

PATH = "/tim/callback"
HUNG = 0  # Hit.status of a request that was left without an answer


@dataclass(frozen=True)
class Hit:
    """One callback request as it arrived, and the HTTP status it was answered with."""

    query: dict[str, str]
    body: dict[str, Any]
    status: int  # HUNG: not answered before the sender gave up

    @property
    def command(self) -> str:
        return self.query.get("CallbackCommand", "")

    @property
    def key(self) -> tuple[Any, ...]:
        """What identifies the state change behind this callback (retries share it)."""
        b = self.body
        command = self.command
        if command == "Group.CallbackAfterSendMsg":
            return (command, b["GroupId"], b["MsgSeq"])
        if command == "C2C.CallbackAfterSendMsg":
            return (command, b["MsgKey"])
        if command == "Group.CallbackAfterReadReceipt":
            members = tuple(
                m["Member_Account"] for m in b["GroupMsgReceiptList"][0]["ReadReceiptMembers"]
            )
            seqs = tuple(i["MsgSeq"] for i in b["GroupMsgReceiptList"])
            return (command, b["GroupId"], members, seqs)
        if command == "C2C.CallbackAfterMsgReport":
            return (
                command,
                b["Report_Account"],
                b["Peer_Account"],
                b["LastReadTime"],
                b["EventTime"],
            )
        return (command, json.dumps(b, sort_keys=True))


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """An aiohttp app on 127.0.0.1 that answers TIM callbacks (HTTP 200 unless told otherwise)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.status = 200  # the answer to every request ...
        self.fail: Callable[[Hit], int | None] | None = None  # ... unless this names another
        self.hang: Callable[[Hit], bool] | None = None  # True: do not answer (until stop())
        self.hits: list[Hit] = []  # every request, in arrival order
        self._changed = asyncio.Event()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    @property
    def delivered(self) -> list[Hit]:
        """The requests answered with HTTP 200, in arrival order."""
        return [h for h in self.hits if h.status == 200]

    def delivered_keys(self) -> list[tuple[Any, ...]]:
        """Each delivered state change once, in the order of its first delivery."""
        return list(dict.fromkeys(h.key for h in self.delivered))

    def of(self, command: str) -> list[Hit]:
        """The delivered callbacks of one CallbackCommand."""
        return [h for h in self.delivered if h.command == command]

    async def start(self) -> None:
        """Listen (again) on ``self.port``; port 0 picks a free one on the first start."""
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening: the port is closed until the next start()."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_until(
        self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = "a condition"
    ) -> None:
        """Return once ``predicate()`` holds; it is checked again after each request arrives."""
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = "\n".join(f"  {h.status} {h.command} {h.body}" for h in self.hits)
            raise AssertionError(f"no {what} within {within}s; requests:\n{seen}") from None

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        query = dict(request.query)
        probe = Hit(query, body, 200)
        if self.hang is not None and self.hang(probe):
            self._record(Hit(query, body, HUNG))
            # answered only when the test ends; the sender's timeout fires long before
            await self._release.wait()
            return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        status = (self.fail(probe) if self.fail is not None else None) or self.status
        self._record(Hit(query, body, status))
        if status == 200:
            return web.json_response({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        return web.json_response(
            {"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": "told to fail"}, status=status
        )

    def _record(self, hit: Hit) -> None:
        self.hits.append(hit)
        self._changed.set()


class OutboxLog(logging.Handler):
    """Collects the outbox's log lines (``server.outbox``) of an in-process server, so a test
    can wait for a failed delivery attempt that no receiver saw (nothing listening)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._loop.call_soon_threadsafe(self._changed.set)

    async def wait_for(self, text: str, *, within: float = 5.0) -> str:
        """The first line containing ``text`` (waiting for it to be logged)."""
        try:
            async with asyncio.timeout(within):
                while True:
                    for line in self.lines:
                        if text in line:
                            return line
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"the outbox logged no line with {text!r} within {within}s: {self.lines}"
            ) from None

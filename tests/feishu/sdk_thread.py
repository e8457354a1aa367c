"""The official ``lark.ws.Client`` in its own thread and event loop (feishu.md §3.11).

The SDK captures a module-level loop at import and blocks in ``start()`` forever (with
synchronous HTTP inside), so it cannot share the test's loop, where the server runs. Each
:class:`SdkThread` makes a new loop, points ``lark_oapi.ws.client.loop`` at it, builds the
client there and runs ``start()``. Handlers run in that thread; what they see goes through
thread-safe queues, which the test reads with :meth:`SdkThread.next_event` without blocking its
own loop. :meth:`SdkThread.stop` stops the loop, cancels the SDK's tasks and closes its socket.

``lark_oapi.ws.client.loop`` is one module global, read at every call, so only one SDK client
may run at a time in a process: :meth:`SdkThread.start` waits for the previous one to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

EventHandler = Callable[[Any], None]

_one_at_a_time = threading.Lock()


class SdkThread:
    """One ``lark.ws.Client`` for ``app_id``; ``handlers`` maps a registration name (e.g.
    ``"p2_im_message_receive_v1"``) to a callable, or leave it out to record every
    ``im.message.receive_v1`` event in :attr:`events`."""

    def __init__(
        self,
        domain: str,
        app_id: str,
        app_secret: str,
        *,
        handlers: Mapping[str, EventHandler] | None = None,
    ) -> None:
        self.domain = domain
        self.app_id = app_id
        self.app_secret = app_secret
        self.handlers = handlers
        self.events: queue.Queue[Any] = queue.Queue()
        self.error: BaseException | None = None  # what start() raised (a fatal ClientException)
        self.finished = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._stopping = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lark-ws-{app_id}", daemon=True)

    def start(self) -> SdkThread:
        if not _one_at_a_time.acquire(timeout=30):
            raise RuntimeError("another SDK client is still running")
        self._thread.start()
        self._ready.wait(30)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            import lark_oapi as lark
            import lark_oapi.ws.client as wsc

            wsc.loop = loop
            builder = lark.EventDispatcherHandler.builder("", "")
            handlers = self.handlers
            if handlers is None:
                handlers = {"p2_im_message_receive_v1": self.events.put}
            for name, fn in handlers.items():
                builder = getattr(builder, f"register_{name}")(fn)
            self._client = lark.ws.Client(
                self.app_id,
                self.app_secret,
                event_handler=builder.build(),
                domain=self.domain,
                log_level=lark.LogLevel.WARNING,
            )
            self._ready.set()
            self._client.start()
        except BaseException as exc:
            if not self._stopping:
                self.error = exc
        finally:
            self._ready.set()
            self._cleanup(loop)
            self.finished.set()
            _one_at_a_time.release()

    def _cleanup(self, loop: asyncio.AbstractEventLoop) -> None:
        client = self._client
        if client is not None:
            client._auto_reconnect = False
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        conn = getattr(client, "_conn", None)
        if conn is not None:
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait_for(conn.close(), 2))
        with contextlib.suppress(BaseException):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self) -> None:
        """Stop the client and its loop, and wait for the thread to end."""
        self._stopping = True
        loop = self._loop
        if loop is not None and not self.finished.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    async def next_event(self, timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        """The next event a handler put on :attr:`events` (waits without blocking the loop)."""
        return await asyncio.to_thread(self.events.get, True, timeout)

    async def wait_finished(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``start()`` has returned or raised (a fatal error)."""
        if not await asyncio.to_thread(self.finished.wait, timeout):
            raise TimeoutError("the SDK client is still running")


@contextlib.asynccontextmanager
async def sdk_thread(
    domain: str,
    app_id: str,
    app_secret: str,
    *,
    handlers: Mapping[str, EventHandler] | None = None,
) -> AsyncIterator[SdkThread]:
    """Run an :class:`SdkThread` for the duration of the block. Starting and stopping happen in
    a worker thread: the test's loop must keep serving (the SDK's close handshake needs it)."""
    client = SdkThread(domain, app_id, app_secret, handlers=handlers)
    await asyncio.to_thread(client.start)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.stop)


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (yielding to the loop) until ``check()`` is true; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)

"""Tencent's own Chat SDK against the real server: each scenario is a Node script
(``tests/sdk/*.mjs``) that drives ``@tencentcloud/chat`` (pinned in package.json, installed
by ``scripts/test`` with ``npm ci``) while the test runs the server in-process and restarts it
when the script asks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Running, running_server

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent


def node_or_fail() -> str:
    """The node binary, with Tencent's SDK installed; a clear failure otherwise (never a skip)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js (20 or newer) is needed for the Tencent Chat SDK tests and was not found "
            "on PATH; install it, then run scripts/test (which runs npm ci)",
            pytrace=False,
        )
    if not (ROOT / "node_modules" / "@tencentcloud" / "chat" / "package.json").exists():
        pytest.fail(
            "node_modules/@tencentcloud/chat is missing: run `npm ci` in the project root "
            "(scripts/test does this itself)",
            pytrace=False,
        )
    return node


@dataclass
class Outcome:
    output: str
    steps: list[str] = field(default_factory=list)
    restarts: int = 0


class _Server:
    """The server under test, which can be restarted on its port and database."""

    def __init__(self, db: Path, settings: dict[str, Any]) -> None:
        self.db = db
        self.settings = settings
        self.port = 0
        self._stack: contextlib.AsyncExitStack | None = None
        self.running: Running | None = None

    async def start(self) -> Running:
        self._stack = contextlib.AsyncExitStack()
        self.running = await self._stack.enter_async_context(
            running_server(self.db, port=self.port, **self.settings)
        )
        self.port = int(self.running.base_url.rsplit(":", 1)[1])
        return self.running

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None


async def run_scenario(
    script: str,
    db: Path,
    *,
    within: float = 90,
    env: dict[str, str] | None = None,
    on_started: Callable[[Running], Any] | None = None,
    **settings: Any,
) -> Outcome:
    """Run ``tests/sdk/<script>`` against a fresh server on ``db``; fail the test with the
    script's output unless it exits 0 after printing ``@@done``. The script may ask for
    restarts (``@@restart``): the server stops and starts again on the same port and database."""
    node = node_or_fail()
    outcome = Outcome("")
    lines: list[str] = []
    server = _Server(db, settings)
    srv = await server.start()
    try:
        if on_started is not None:
            await on_started(srv)
        proc = await asyncio.create_subprocess_exec(
            node,
            str(HERE / script),
            cwd=ROOT,
            env={**os.environ, "IM_BASE_URL": srv.base_url, **(env or {})},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None and proc.stdin is not None
        try:
            async with asyncio.timeout(within):
                while raw := await proc.stdout.readline():
                    line = raw.decode(errors="replace").rstrip("\n")
                    lines.append(line)
                    if line.startswith("ok - "):
                        outcome.steps.append(line[5:].rsplit(" (", 1)[0])
                    if line == "@@restart":
                        await server.stop()
                        await server.start()
                        outcome.restarts += 1
                        proc.stdin.write(b"ok\n")
                        await proc.stdin.drain()
                code = await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail(f"{script} did not finish within {within} s:\n" + "\n".join(lines))
    finally:
        await server.stop()
    outcome.output = "\n".join(lines)
    if code != 0 or not any(line.startswith("@@done") for line in lines):
        pytest.fail(f"{script} failed (exit {code}):\n{outcome.output}", pytrace=False)
    return outcome

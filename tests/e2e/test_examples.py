"""The examples the README points to run as written."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clients.sim import SimClient
from server import settings as settings_mod
from server.feishu import longconn
from tests.harness import running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_walkthrough_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/walkthrough.py prints that one member read the message and one did not."""
    spec = importlib.util.spec_from_file_location("walkthrough", EXAMPLES / "walkthrough.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with running_server(tmp_path / "im.sqlite3") as srv:
        await module.main(srv.base_url.removeprefix("http://"))
    out = capsys.readouterr().out
    assert "alice <- onRecvMessageReadReceipts: ['1 read, 1 unread']" in out
    assert "alice: 1 read ['bob'], 1 unread ['carol']" in out


async def _line(proc: asyncio.subprocess.Process, prefix: str, seen: list[str]) -> str:
    """The next line of the bot's output that starts with ``prefix`` (within 20 s)."""
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                raise AssertionError(f"the bot exited; it printed {seen}")
            line = raw.decode().rstrip()
            seen.append(line)
            if line.startswith(prefix):
                return line


async def test_feishu_bot_example_runs_unchanged(tmp_path: Path) -> None:
    """examples/feishu_bot.py, a lark-oapi bot in its own process with only the domain set,
    echoes alice's message and, when she reads the echo, finds her with read_users."""
    settings = settings_mod.load(str(EXAMPLES / "feishu.toml"))
    async with running_server(
        tmp_path / "im.sqlite3", apps=settings.apps, feishu_apps=settings.feishu.apps
    ) as srv:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / "feishu_bot.py"),
            env={**os.environ, "FEISHU_DOMAIN": srv.base_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        seen: list[str] = []
        try:
            hub = longconn.hub(srv.wiring.feishu)
            for _ in range(400):  # the SDK discovers, then connects: at most 20 s
                if hub.connections("cli_a1b2c3d4e5f60718"):
                    break
                await asyncio.sleep(0.05)
            async with SimClient(srv.base_url) as sim:
                await sim.send("alice", to_user="cli_a1b2c3d4e5f60718", text="hello")
                assert await _line(proc, "receive_v1:", seen) == (
                    "receive_v1: 'hello' in a p2p chat"
                )
                echo = (await _line(proc, "replied ", seen)).split()[1]
                await sim.read("alice", peer="cli_a1b2c3d4e5f60718")
                assert await _line(proc, "message_read_v1:", seen) == (
                    "message_read_v1: alice read 1 message(s)"
                )
                readers = await _line(proc, "read_users ", seen)
                assert readers.startswith(f"read_users {echo}: [('alice', '")
        finally:
            proc.kill()
            await proc.wait()


async def test_tim_sdk_example_runs(tmp_path: Path) -> None:
    """examples/tim_sdk.mjs, Tencent's Chat SDK in Node with only proxyServer set, shows alice
    '1 read, 1 unread' and then '2 read, 0 unread'."""
    from tests.sdk.conftest import ROOT, node_or_fail

    node = node_or_fail()
    async with running_server(tmp_path / "im.sqlite3") as srv:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(EXAMPLES / "tim_sdk.mjs"),
            cwd=ROOT,
            env={**os.environ, "IM_BASE_URL": srv.base_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(60):
            out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    lines = [line for line in text.splitlines() if not line.startswith(" Chat ")]
    assert "alice <- MESSAGE_READ_RECEIPT_RECEIVED: 1 read, 1 unread" in lines, text
    assert "alice: still unread: [carol]" in lines
    assert "alice <- MESSAGE_READ_RECEIPT_RECEIVED: 2 read, 0 unread" in lines
    assert lines[-1] == "alice: still unread: []"


async def test_config_example_delivers_to_the_example_receiver(tmp_path: Path) -> None:
    """examples/config.toml's callbacks and webhook reach examples/receiver.py (the README
    starts both; here on a free port instead of 9000), which answers each as the vendor asks."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = (EXAMPLES / "config.toml").read_text()
    assert "127.0.0.1:9000" in text
    (tmp_path / "config.toml").write_text(text.replace("127.0.0.1:9000", f"127.0.0.1:{port}"))
    settings = settings_mod.load(str(tmp_path / "config.toml"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "receiver.py"), "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    seen: list[str] = []
    try:
        await _line(proc, "receiver on", seen)
        async with (
            running_server(
                tmp_path / "im.sqlite3", apps=settings.apps, feishu_apps=settings.feishu.apps
            ) as srv,
            SimClient(srv.base_url) as sim,
        ):
            await _line(proc, "Feishu url_verification answered", seen)
            await sim.send("alice", to_user="cli_a1b2c3d4e5f60718", text="hi bot")
            await _line(proc, "Feishu event im.message.receive_v1", seen)
            await sim.send("alice", to_user="bob", text="hi bob")
            await _line(proc, "TIM callback C2C.CallbackAfterSendMsg", seen)
    finally:
        proc.terminate()
        await proc.wait()


def test_walkthrough_without_a_server_prints_one_line() -> None:
    """examples/walkthrough.py with nothing listening says so in one line, not a traceback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "walkthrough.py"), f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES.parent)},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cannot reach the server at 127.0.0.1:{port}")

"""``python -m server serve``: start-up refusals are one line, and the banner tells the truth."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.cli import _RedactSecrets

ROOT = Path(__file__).resolve().parent.parent


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``serve`` expecting it to refuse: it must exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "server", "serve", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


class Server:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        self.proc = proc
        self.lines = lines

    def port(self) -> int:
        line = next(x for x in self.lines if x.startswith("TIM WebSocket:"))
        return int(line.split(":")[3].split("/")[0])


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Server]:
    """A server on --port 0 with its database in tmp_path, up and ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", "0", "--db", "one.sqlite3",
         "--log-level", "debug"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "Application startup complete" in line:
            break
    server = Server(proc, lines)
    try:
        yield server
    finally:
        proc.terminate()
        proc.wait(30)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_port_zero_banner_names_the_real_port(running: Server) -> None:
    """With --port 0 the banner names the port actually bound, and the server answers there."""
    port = running.port()
    assert port != 0
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


def test_a_second_server_on_the_same_database_refuses_to_start(
    running: Server, tmp_path: Path
) -> None:
    """A second ``serve`` on a database another server holds exits with one line naming the
    other process."""
    line = one_line(serve("--port", "0", "--db", "one.sqlite3", cwd=tmp_path))
    assert "in use by another server" in line and f"pid {running.proc.pid}" in line, line


def test_debug_log_has_no_sqlite_statement_dumps(running: Server) -> None:
    """--log-level debug does not turn on aiosqlite's dump of every statement (it logged each
    PRAGMA and SELECT of start-up before)."""
    assert any("server.store" in x for x in running.lines), running.lines
    assert not any("aiosqlite" in x for x in running.lines), running.lines


def test_a_port_in_use_is_one_line_before_any_migration(tmp_path: Path) -> None:
    """A port already in use is refused in one line, before the database is made."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(serve("--port", str(port), "--db", "new.sqlite3", cwd=tmp_path))
    assert f"127.0.0.1:{port}" in line and "in use" in line, line
    assert not (tmp_path / "new.sqlite3").exists()


@pytest.mark.parametrize(
    ("db", "words"),
    [
        (".", "is a directory"),
        ("/proc/1/nowhere/im.sqlite3", "cannot be used"),
        ("garbage.sqlite3", "cannot be opened: file is not a database"),
    ],
)
def test_an_unusable_database_path_is_one_line(tmp_path: Path, db: str, words: str) -> None:
    """A directory, a path whose parent cannot be made, or a file that is not SQLite is one
    line, not a traceback."""
    (tmp_path / "garbage.sqlite3").write_text("not a database")
    line = one_line(serve("--port", "0", "--db", db, cwd=tmp_path))
    assert words in line, line


def test_every_unknown_config_key_is_reported_at_once(tmp_path: Path) -> None:
    """All misspelt keys of a config file are named in one error, each with where it is."""
    (tmp_path / "c.toml").write_text(
        '[server]\nprot = 9000\n[[apps]]\nsdkappid = 1400000009\nsecret_key = "'
        + "a" * 64
        + '"\nsecrt = 1\n'
    )
    line = one_line(serve("--config", "c.toml", cwd=tmp_path))
    assert "server.prot" in line and "apps[0].secrt" in line, line


def test_a_feishu_app_id_of_another_shape_is_warned_about(tmp_path: Path) -> None:
    """An app id that is not cli_ + 16 hex digits starts, with a warning that Feishu's Node SDK
    refuses it."""
    (tmp_path / "c.toml").write_text('[[feishu.apps]]\napp_id = "cli_demo_bot"\napp_secret = "s"\n')
    with socket.socket() as taken:  # a port in use: it stops right after the warning
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = serve("--config", "c.toml", "--port", str(taken.getsockname()[1]), cwd=tmp_path)
    assert "warning: feishu app id 'cli_demo_bot' is not shaped like Feishu's" in result.stderr


def test_version() -> None:
    """--version prints the package version."""
    result = subprocess.run(
        [sys.executable, "-m", "server", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("imreceipts "), result


def test_credentials_in_logged_urls_are_shortened() -> None:
    """The long connection's access_key and ticket are logged by their first 6 characters."""
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws/v2?device_id=d1&access_key=abcdef123456789&ticket=a.b.c.d.e.f.g.h"),
        None,
    )  # fmt: skip
    _RedactSecrets().filter(record)
    text = record.getMessage()
    assert "access_key=abcdef…" in text and "123456789" not in text, text
    assert "ticket=a.b.c.…" in text and "device_id=d1" in text, text

"""The server under test: a ``python -m server serve`` subprocess, or one already running.

Reads the server's resident memory and CPU time from /proc, so figures are the server's own,
whatever the load generator costs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def healthz(base_url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as resp:
        result: dict[str, Any] = msgspec.json.decode(resp.read())
        return result


class ServerProcess:
    """Start ``python -m server serve`` on a free port with a fresh database; stop it on exit.

    The child runs in its own session, so a Ctrl-C in the terminal reaches only the benchmark,
    which then stops the server itself (SIGINT, then SIGKILL after a grace period)."""

    def __init__(self, host: str = "127.0.0.1", *, log_level: str = "warning",
                 config: str | None = None, keep_dir: bool = False) -> None:
        self.host = host
        self.port = free_port(host)
        self.base_url = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}/tim/ws"
        self.keep_dir = keep_dir
        self.dir = Path(tempfile.mkdtemp(prefix="imbench-"))
        self.db = self.dir / "bench.sqlite3"
        self.log_path = self.dir / "server.log"
        self.log_level = log_level
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        cmd = [
            sys.executable, "-m", "server", "serve", "--host", self.host, "--port", str(self.port),
            "--db", str(self.db), "--log-level", self.log_level,
        ]
        if self.config:
            cmd += ["--config", self.config]
        root = Path(__file__).resolve().parent.parent
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode} during start-up:\n"
                    + self.log_tail()
                )
            try:
                if healthz(self.base_url, timeout=1.0).get("ok"):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n" + self.log_tail())
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGINT (uvicorn's graceful shutdown), then SIGKILL. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self.proc = None
        return proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self, limit: int = 20) -> list[str]:
        """WARNING/ERROR lines and tracebacks from the server log (deduplicated, capped)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        seen: dict[str, int] = {}
        for line in text.splitlines():
            if any(w in line for w in (" WARNING ", " ERROR ", " CRITICAL ", "Traceback")):
                key = line.split(": ", 1)[-1][:200]
                seen[key] = seen.get(key, 0) + 1
        return [f"{n}x {k}" if n > 1 else k for k, n in list(seen.items())[:limit]]

    def cleanup(self) -> None:
        self.stop()
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

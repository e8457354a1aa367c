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


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine, all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``, by native thread id."""
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def thread_names(pid: int, py_spy: str | None) -> dict[int, str]:
    """Python thread names by native id, from ``py-spy dump`` when py-spy is installed
    (the OS-level names are all "python"); the main thread is named in any case."""
    names = {pid: "MainThread"}
    if py_spy is None:
        return names
    try:
        out = subprocess.run(
            [py_spy, "dump", "--pid", str(pid), "--json"],
            capture_output=True,
            timeout=20,
            check=True,
        ).stdout
        for t in msgspec.json.decode(out):
            if t.get("os_thread_id"):
                names[int(t["os_thread_id"])] = str(t.get("thread_name") or t["os_thread_id"])
    except (OSError, subprocess.SubprocessError, msgspec.DecodeError):
        pass
    return names


def healthz(base_url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/healthz", timeout=timeout) as resp:
        result: dict[str, Any] = msgspec.json.decode(resp.read())
        return result


class ServerProcess:
    """Start ``python -m server serve`` on a free port with a fresh database; stop it on exit.

    The child runs in its own session, so a Ctrl-C in the terminal reaches only the benchmark,
    which then stops the server itself (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        log_level: str = "warning",
        config: str | None = None,
        keep_dir: bool = False,
    ) -> None:
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
            sys.executable,
            "-m",
            "server",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--log-level",
            self.log_level,
        ]
        if self.config:
            cmd += ["--config", self.config]
        root = Path(__file__).resolve().parent.parent
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
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
        """SIGTERM (uvicorn shuts down gracefully, then re-raises it), then SIGKILL after
        ``grace`` seconds. Returns the exit code (-15 after a clean SIGTERM)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
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

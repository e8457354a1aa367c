"""Sampling the server with py-spy while a scenario runs, and summarising the samples.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``), which
speedscope and flamegraph.pl both open; :func:`summarize` turns them into the top functions by
self time and by inclusive time, per thread.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


class Recorder:
    def __init__(self, pid: int, output: Path, *, rate: int = 100) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.proc: asyncio.subprocess.Process | None = None
        self.error = ""

    async def start(self, duration: float) -> bool:
        exe = py_spy()
        if exe is None:
            self.error = "py-spy is not installed (pip install py-spy)"
            return False
        self.proc = await asyncio.create_subprocess_exec(
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--duration",
            str(max(1, round(duration))),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--threads",
            "--nolineno",
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return True

    async def wait(self, limit: float = 30.0) -> bool:
        if self.proc is None:
            return False
        try:
            _, err = await asyncio.wait_for(self.proc.communicate(), limit)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            self.error = "py-spy did not finish"
            return False
        if self.proc.returncode != 0:
            self.error = err.decode(errors="replace").strip()[-500:]
            return False
        return self.output.exists()


# Leaf frames that are threads blocked in a C-level queue wait, which py-spy's idle detection
# does not recognise: the group-commit writer and aiosqlite's worker waiting for work. /proc
# shows these threads near idle when they sit here, so their samples are not CPU.
WAIT_LEAVES = frozenset(
    {
        "Database._run_writer (server/store/db.py)",
        "_connection_worker_thread (aiosqlite/core.py)",
    }
)

_ROOT = str(Path(__file__).resolve().parent.parent) + "/"  # this checkout, wherever it is
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", _ROOT):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file})"


def summarize(raw: str, top: int = 15) -> dict[str, Any]:
    """Top functions by self and inclusive samples, overall and per thread."""
    total = 0
    waiting = 0
    self_c: Counter[str] = Counter()
    incl_c: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    per_thread_incl: dict[str, Counter[str]] = {}
    for line in raw.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        n = int(count_s)
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread ")), "?")
        thread = thread.split(": ", 1)[-1]
        code = [_short(f) for f in frames if not f.startswith(("thread ", "process "))]
        if code and code[-1] in WAIT_LEAVES:
            waiting += n
            continue
        total += n
        threads[thread] += n
        if code:
            self_c[code[-1]] += n
            mine = per_thread_incl.setdefault(thread, Counter())
            for f in set(code):
                incl_c[f] += n
                mine[f] += n
    # frames on (nearly) every stack of their thread (runpy, Runner.run, Thread.run ...) say
    # nothing about where the time goes: leave them out of the inclusive ranking
    roots = {f for t, c in per_thread_incl.items() for f, v in c.items() if v >= 0.9 * threads[t]}
    for f in roots:
        del incl_c[f]
    own = Counter({f: v for f, v in incl_c.items() if "(server/" in f or "(protocol/" in f})

    def pct(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, 100 * v / total) for k, v in c.most_common(top)] if total else []

    return {
        "samples": total,
        "waiting_samples_dropped": waiting,
        "threads": pct(threads),
        "self": pct(self_c),
        "inclusive": pct(incl_c),
        "inclusive_server_code": pct(own),
    }

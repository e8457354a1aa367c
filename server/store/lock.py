"""One server per database file: an exclusive lock on ``<db>.lock`` beside it.

Two servers on one database would both deliver every callback and event (each runs its own
outbox consumers over the same rows). :func:`hold` takes an ``flock`` on the lock file, which
the kernel releases when the process ends however it ends, so a crashed server never leaves a
stale lock behind; the holder's pid is written into the file to name it in the refusal.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
from pathlib import Path


class DatabaseUnusable(Exception):
    """The database path cannot be used, or another server holds it; the message says which,
    in one line."""


class DatabaseLock:
    """Held from :func:`hold` until :meth:`release` (or the end of the process)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def lock_path(db: str) -> Path:
    return Path(db + ".lock")


def hold(db: str) -> DatabaseLock:
    """Check that ``db`` is usable and take its lock. Raises DatabaseUnusable."""
    target = Path(db)
    if target.is_dir():
        raise DatabaseUnusable(f"database {db} is a directory; give a file path with --db")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(db), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseUnusable(
            f"database {db} cannot be used: {exc.strerror} ({exc.filename})"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise DatabaseUnusable(
                f"database {db} is in use by another server"
                + (f" (pid {holder})" if holder else "")
                + "; stop it, or give this one another --db"
            ) from None
        raise DatabaseUnusable(f"database {db} cannot be locked: {exc.strerror}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    lock = DatabaseLock(lock_path(db), fd)
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        lock.release()
        raise DatabaseUnusable(f"database {db} cannot be opened: {exc}") from None
    return lock

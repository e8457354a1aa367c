"""What the bad-input property tests share: a server on its own thread, a snapshot of the whole
database, and Hypothesis strategies for bodies that are almost right.

The tests are synchronous (httpx and ``websockets.sync``), so Hypothesis drives them with no
event loop of its own; the server runs on a loop in a thread of its own, started once per module.

A body is drawn in one of three ways:

- shaped like the request type (found with ``msgspec.inspect``), with known accounts, groups and
  ids in its strings, and a few of its values replaced by something hostile;
- any JSON at all (:func:`hostile` values nested in lists and objects);
- raw bytes that are not a JSON value one can make with Hypothesis' JSON: a valid body nested
  2,000 levels deep, integers past 2**64, invalid UTF-8, a lone surrogate escape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from msgspec import inspect as mi

from tests.harness import Running, running_server

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""150 examples per property in ``scripts/test``; ``FUZZ_EXAMPLES=5000 scripts/test tests/fuzz``
searches harder."""

# -- the server -----------------------------------------------------------------------------


class ServerThread:
    """:func:`tests.harness.running_server` on an event loop in a thread of its own."""

    def __init__(self, db: Path, **kwargs: Any) -> None:
        self.db = db
        self.kwargs = kwargs
        self.running: Running | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by __enter__ / __exit__
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_server(self.db, **self.kwargs) as running:
            self.running = running
            self._ready.set()
            await self._stop.wait()

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def __enter__(self) -> Running:
        self._thread.start()
        self._ready.wait(60)
        if self.running is None:
            raise RuntimeError(f"server did not start: {self.error!r}")
        return self.running

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self.error is not None:
            raise self.error


def snapshot(db: Path) -> str:
    """A digest of every row of every table (committed rows; the server commits before it
    answers)."""
    digest = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            )
        ]
        for table in tables:
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
            digest.update(f"{table}:{len(rows)}\n".encode())
            for row in rows:
                digest.update(row.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


# -- values ---------------------------------------------------------------------------------

ACCOUNTS = ("admin", "alice", "bob", "carol")
GROUPS = ("g1", "@TGS#1", "nosuchgroup")

NASTY_STRINGS = (
    "",
    " ",
    "²",  # str.isdigit() is True, int() refuses it
    "١٤٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: str.isdigit() is True and int() reads 1400000000
    "99999999999999999999",
    "9223372036854775808",
    "9999999999999999999-1-1",
    "9999999999999999999_1_1",
    "1-1-1",
    "1_1_1",
    "-1",
    "0",
    "om_" + "f" * 40,
    "oc_" + "0" * 32,
    "ou_" + "a" * 32,
    "c2c_alice",
    "group_g1",
    "x" * 5000,
    "\x00",
    "é" * 70,
    "😀" * 40,
    '{"text":"hi"}',
    "{}",
    "[]",
    "null",
)
NASTY_INTS = (
    -1,
    0,
    1,
    2**31,
    2**32,
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    -(2**63),
)


def hostile() -> st.SearchStrategy[Any]:
    """Any JSON value, biased towards the values that have broken servers."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(NASTY_INTS),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _plain_string(name: str, extra: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from((*ACCOUNTS, *GROUPS, *extra, name, "hello"))


def shaped(t: mi.Type, extra: tuple[str, ...], name: str = "") -> st.SearchStrategy[Any]:
    """A value of the type ``t`` (as ``msgspec.inspect`` describes it), most of the time; now and
    then a hostile value in its place."""
    good = _shaped(t, extra, name)
    return st.one_of(good, good, good, good, good, good, hostile())


def _shaped(t: mi.Type, extra: tuple[str, ...], name: str) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.StructType):
        fields = {f.encode_name: shaped(f.type, extra, f.name) for f in t.fields}
        required = {f.encode_name for f in t.fields if f.required}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        ).map(lambda d, tag=t: {tag.tag_field: tag.tag, **d} if tag.tag_field else d)
    if isinstance(t, mi.IntType):
        lo = t.ge if t.ge is not None else -(2**63)
        hi = t.le if t.le is not None else 2**63
        return st.one_of(st.integers(lo, hi), st.sampled_from((lo, hi, 0, 1)))
    if isinstance(t, mi.StrType):
        return _plain_string(name, extra)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
        return st.lists(shaped(t.item_type, extra, name), max_size=3)
    if isinstance(t, mi.TupleType):
        return st.tuples(*(shaped(x, extra, name) for x in t.item_types)).map(list)
    if isinstance(t, mi.DictType):
        return st.dictionaries(_plain_string(name, extra), shaped(t.value_type, extra), max_size=3)
    if isinstance(t, mi.UnionType):
        return st.one_of(*(_shaped(x, extra, name) for x in t.types))
    if isinstance(t, mi.NoneType):
        return st.none()
    return hostile()  # Any, Raw, ...


def body_of(type_: Any, extra: tuple[str, ...] = ()) -> st.SearchStrategy[bytes]:
    """Request bodies for ``type_``: nearly right, any JSON, or raw hostile bytes."""
    near = shaped(mi.type_info(type_), extra).map(msgspec.json.encode)
    anything = hostile().map(msgspec.json.encode)
    return st.one_of(near, near, anything, raw_hostile(near))


def raw_hostile(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Bytes no JSON encoder makes: deep nesting (around a valid body too), integers past what
    64 bits hold, invalid UTF-8, lone surrogates, truncation."""
    deep = st.integers(1000, 3000).map(lambda n: b"[" * n + b"]" * n)
    deep_field = st.tuples(valid, st.integers(1000, 3000)).map(
        lambda bn: (
            bn[0][:-1] + b', "x": ' + b"[" * bn[1] + b"]" * bn[1] + b"}"
            if bn[0].endswith(b"}") and len(bn[0]) > 2
            else b'{"x":' + b"[" * bn[1] + b"]" * bn[1] + b"}"
        )
    )
    deep_object = st.integers(1000, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
    fixed = st.sampled_from(
        (
            b"",
            b"{",
            b"nul",
            b"\xff\xfe{}",
            b'{"a": "\xc3\x28"}',
            b'{"a": "\\ud800"}',
            b'{"a": 1e400}',
            b'{"a": 99999999999999999999999999999}',
            b'{"a": -99999999999999999999999999999}',
            b"[]",
            b"null",
            b"0",
            b'"x"',
        )
    )
    truncated = valid.flatmap(lambda b: st.integers(0, max(len(b) - 1, 0)).map(lambda n: b[:n]))
    return st.one_of(deep, deep_field, deep_object, fixed, truncated)


def struct_types(module: Any) -> Iterator[type[msgspec.Struct]]:
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            yield value

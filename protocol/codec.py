"""JSON decoding for everything that arrives from outside, with one failure type.

msgspec raises ``RecursionError`` (not ``msgspec.DecodeError``) for a document nested deeper
than the interpreter's recursion limit allows, so ``[[[[...]]]]`` 2,000 levels deep would escape
every ``except msgspec.DecodeError`` and become an internal error. :class:`Decoder` and
:func:`decode` turn it into a ``msgspec.DecodeError`` that says what happened, so callers have
exactly two errors to answer: ``msgspec.DecodeError`` (not JSON, or too deep) and its subclass
``msgspec.ValidationError`` (JSON of the wrong shape).
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar, overload

import msgspec

T = TypeVar("T")

TOO_DEEP = "JSON is nested too deeply"

MAX_SQLITE_INT = 2**63 - 1
_ASCII_NUMBER = re.compile(r"[0-9]{1,19}")


def parse_uint(text: str, max_value: int = MAX_SQLITE_INT) -> int | None:
    """``text`` as an int when it is ASCII digits worth at most ``max_value`` (SQLite's largest
    integer by default), else None. Not ``str.isdigit()``/``int()``: those also take ``²``,
    Arabic-Indic digits, ``" 1"`` and ``"1_0"``."""
    if _ASCII_NUMBER.fullmatch(text) is None:
        return None
    n = int(text)
    return n if n <= max_value else None


class Decoder(Generic[T]):
    """A ``msgspec.json.Decoder`` for ``type_`` whose ``decode`` raises only
    ``msgspec.DecodeError`` / ``msgspec.ValidationError``."""

    __slots__ = ("_decoder",)

    @overload
    def __init__(self: Decoder[T], type_: type[T]) -> None: ...
    @overload
    def __init__(self: Decoder[Any], type_: Any) -> None: ...
    def __init__(self, type_: Any) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)

    def decode(self, data: bytes | bytearray | memoryview | str) -> T:
        try:
            return self._decoder.decode(data)
        except RecursionError:
            raise msgspec.DecodeError(TOO_DEEP) from None


@overload
def decode(data: bytes | bytearray | memoryview | str, type_: type[T]) -> T: ...
@overload
def decode(data: bytes | bytearray | memoryview | str, type_: Any = ...) -> Any: ...
def decode(data: bytes | bytearray | memoryview | str, type_: Any = Any) -> Any:
    """``msgspec.json.decode(data, type=type_)``, with too-deep nesting a ``DecodeError``."""
    try:
        return msgspec.json.decode(data, type=type_)
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None

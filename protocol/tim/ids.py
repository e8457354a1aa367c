"""TIM message identifiers: the V2TIM ``msgID`` and the REST C2C ``MsgKey``.

``msgID`` looks like a real V2TIM id (``<id>-<time>-<random>``): the server's message number, the
send time in seconds and the message random. ``MsgKey`` is TIM's documented
``"{MsgSeq}_{MsgRandom}_{MsgTime}"`` (reference/tim.md rule 24).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# 18 digits at most for numbers that become SQLite integers (at most 2**63 - 1, 19 digits).
_MSG_ID = re.compile(r"([1-9][0-9]{0,17})-([0-9]{1,12})-([0-9]{1,10})")
_MSG_KEY = re.compile(r"([0-9]{1,18})_([0-9]{1,10})_([0-9]{1,12})")


class MsgIdParts(NamedTuple):
    id: int
    time: int
    random: int


class MsgKeyParts(NamedTuple):
    seq: int
    random: int
    time: int


def format_msg_id(msg_id: int, time_s: int, random: int) -> str:
    return f"{msg_id}-{time_s}-{random}"


def parse_msg_id(text: str) -> MsgIdParts | None:
    """The parts of a msgID, or None if ``text`` is not one."""
    m = _MSG_ID.fullmatch(text)
    return MsgIdParts(int(m[1]), int(m[2]), int(m[3])) if m else None


def format_msg_key(seq: int, random: int, time_s: int) -> str:
    return f"{seq}_{random}_{time_s}"


def parse_msg_key(text: str) -> MsgKeyParts | None:
    m = _MSG_KEY.fullmatch(text)
    return MsgKeyParts(int(m[1]), int(m[2]), int(m[3])) if m else None

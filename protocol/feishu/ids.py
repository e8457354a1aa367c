"""Feishu identifiers as this server mints them, and their parsers.

- ``open_id`` (``ou_`` + 32 hex) differs per app; ``union_id`` (``on_`` + 32 hex) per workspace;
  ``tenant_key`` (16 hex) per workspace. They are hashes, so the server keeps a reverse map.
- ``chat_id`` (``oc_``), ``message_id`` (``om_``) and reaction ids encode the server's number
  after a 24-hex check: any id this server minted parses back (whatever the tenant, so a foreign
  id is recognised as foreign), and a made-up one does not.
- A user's ``user_id`` is its TIM userID; its ``email`` is ``<user_id>@<EMAIL_DOMAIN>``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

EMAIL_DOMAIN = "example.com"


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def open_id(app_id: str, user_id: str) -> str:
    return "ou_" + _hex(f"open:{app_id}:{user_id}", 32)


def union_id(workspace: int, user_id: str) -> str:
    return "on_" + _hex(f"union:{workspace}:{user_id}", 32)


def tenant_key(workspace: int) -> str:
    return _hex(f"tenant:{workspace}", 16)


def email(user_id: str) -> str:
    return f"{user_id}@{EMAIL_DOMAIN}"


def user_of_email(address: str) -> str | None:
    local, at, domain = address.rpartition("@")
    return local if at and domain == EMAIL_DOMAIN and local else None


MAX_NUMBER: Final = 2**63 - 1
"""SQLite's largest integer: no id or position this server makes is larger."""


def _mint(prefix: str, kind: str, number: int) -> str:
    return f"{prefix}{_hex(f'{kind}:{number}', 24)}{number:x}"


def _parse(prefix: str, kind: str, text: str) -> int | None:
    if not text.startswith(prefix) or len(text) < len(prefix) + 25 or len(text) > len(prefix) + 40:
        return None
    check, digits = text[len(prefix) : len(prefix) + 24], text[len(prefix) + 24 :]
    try:
        number = int(digits, 16)
    except ValueError:
        return None
    if number > MAX_NUMBER:  # no row has it, and SQLite could not even look it up
        return None
    return number if _mint(prefix, kind, number) == text and check else None


def chat_id(conv_id: int) -> str:
    return _mint("oc_", "chat", conv_id)


def parse_chat_id(text: str) -> int | None:
    return _parse("oc_", "chat", text)


def message_id(msg_id: int) -> str:
    return _mint("om_", "msg", msg_id)


def parse_message_id(text: str) -> int | None:
    return _parse("om_", "msg", text)


def reaction_id(number: int) -> str:
    return _mint("rc_", "reaction", number)


def parse_reaction_id(text: str) -> int | None:
    return _parse("rc_", "reaction", text)


def event_id(event: int, app_id: str, instance: str) -> str:
    """``header.event_id`` of outbox event ``event`` as app ``app_id`` receives it from the
    server database ``instance``: the same for every redelivery, different for every app and
    every database (32 hex, like Feishu's)."""
    return _hex(f"event:{instance}:{app_id}:{event}", 32)


_NUMBERED: Final = re.compile(r"\b(message|conversation) ([0-9]{1,19})\b")


def with_feishu_ids(text: str) -> str:
    """``text`` (a server message) with internal numbers written as the ids a Feishu caller
    knows: ``message 17`` as ``message om_…``, ``conversation 4`` as ``chat oc_…``."""

    def as_id(m: re.Match[str]) -> str:
        n = int(m.group(2))
        return f"message {message_id(n)}" if m.group(1) == "message" else f"chat {chat_id(n)}"

    return _NUMBERED.sub(as_id, text)

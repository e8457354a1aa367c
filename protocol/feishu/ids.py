"""Feishu identifiers as this server mints them, and their parsers.

- ``open_id`` (``ou_`` + 32 hex) differs per app; ``union_id`` (``on_`` + 32 hex) per workspace;
  ``tenant_key`` (16 hex) per workspace. They are hashes, so the server keeps a reverse map.
- ``chat_id`` (``oc_``), ``message_id`` (``om_``) and reaction ids (``rc_``) are 32 hex digits
  keyed by the database (:class:`FeishuIds`): they parse back in the database that minted them,
  and nowhere else.
- A user's ``user_id`` is its TIM userID; its ``email`` is ``<user_id>@<EMAIL_DOMAIN>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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

_HEX32: Final = re.compile(r"[0-9a-f]{32}")
# the second half of an id's block: what kind of id it is (and the check that it is one)
_MESSAGE: Final = b"message\0"
_CHAT: Final = b"chat\0\0\0\0"
_REACTION: Final = b"reaction"
_NUMBERED: Final = re.compile(r"\b(message|conversation) ([0-9]{1,19})\b")


class FeishuIds:
    """The ``om_``/``oc_``/``rc_`` ids of one database's messages, chats and reactions.

    Each is the prefix and 32 hex digits, like Feishu's: one AES block (a keyed permutation of
    128 bits) holding the row number (64 bits) and the kind of id (64 bits, the check), keyed by
    the database's random ``instance``. So ids look random, differ between databases (two fresh
    databases' first messages have different ids: a receiver deduplicating by message id across
    test runs drops nothing), parse back to their number here, and an id that was made up,
    minted by another database or is of another kind parses to None (a forgery must guess 64
    bits). AES-ECB on a single block is exactly a keyed permutation, and with ``cryptography``
    (already here for Feishu's webhook encryption) it costs about 0.5 us an id.
    """

    __slots__ = ("_decrypt", "_encrypt", "_lock")

    def __init__(self, instance: str) -> None:
        key = hashlib.blake2b(f"feishu-ids:{instance}".encode(), digest_size=32).digest()
        cipher = Cipher(algorithms.AES(key), modes.ECB())  # one block at a time: a PRP
        self._encrypt = cipher.encryptor()
        self._decrypt = cipher.decryptor()
        self._lock = threading.Lock()  # a cipher context is not safe across threads

    def _mint(self, prefix: str, kind: bytes, number: int) -> str:
        with self._lock:
            block = self._encrypt.update(number.to_bytes(8) + kind)
        return prefix + block.hex()

    def _parse(self, prefix: str, kind: bytes, text: str) -> int | None:
        digits = text[len(prefix) :]
        if not text.startswith(prefix) or not _HEX32.fullmatch(digits):
            return None
        with self._lock:
            block = self._decrypt.update(bytes.fromhex(digits))
        if not hmac.compare_digest(block[8:], kind):
            return None
        number = int.from_bytes(block[:8])
        return number if 0 < number <= MAX_NUMBER else None

    def chat_id(self, conv_id: int) -> str:
        return self._mint("oc_", _CHAT, conv_id)

    def parse_chat_id(self, text: str) -> int | None:
        return self._parse("oc_", _CHAT, text)

    def message_id(self, msg_id: int) -> str:
        return self._mint("om_", _MESSAGE, msg_id)

    def parse_message_id(self, text: str) -> int | None:
        return self._parse("om_", _MESSAGE, text)

    def reaction_id(self, number: int) -> str:
        return self._mint("rc_", _REACTION, number)

    def parse_reaction_id(self, text: str) -> int | None:
        return self._parse("rc_", _REACTION, text)

    def with_feishu_ids(self, text: str) -> str:
        """``text`` (a server message) with internal numbers written as the ids a Feishu caller
        knows: ``message 17`` as ``message om_…``, ``conversation 4`` as ``chat oc_…``."""

        def as_id(m: re.Match[str]) -> str:
            n = int(m.group(2))
            if m.group(1) == "message":
                return f"message {self.message_id(n)}"
            return f"chat {self.chat_id(n)}"

        return _NUMBERED.sub(as_id, text)


def event_id(event: int, app_id: str, instance: str) -> str:
    """``header.event_id`` of outbox event ``event`` as app ``app_id`` receives it from the
    server database ``instance``: the same for every redelivery, different for every app and
    every database (32 hex, like Feishu's)."""
    return _hex(f"event:{instance}:{app_id}:{event}", 32)

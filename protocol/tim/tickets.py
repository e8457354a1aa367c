"""The session tickets of Tencent's Chat SDK: the A2Key a login hands out, and the TinyId.

After ``wslogin`` the SDK sends ``a2`` (and ``tinyid``) in the head of every frame instead of the
UserSig, on any socket: after a reconnect, frames carrying the A2Key arrive before the re-login,
and the re-login itself carries only the A2Key. So an A2Key must be checkable on its own, even
by a server that restarted meanwhile. It is a signed ticket::

    "a2." + base64url(json [sdkappid, user, issued_s, expires_s]) + "." + base64url(mac)

with ``mac`` the first 16 bytes of HMAC-SHA256 under the app's secret key, over a domain tag and
the payload. It expires when the UserSig it was issued against does.

The TinyId is the first part of every message id the SDK makes (``<TinyId>-<time>-<random>``),
so it must be the same for a user wherever and whenever asked: it is derived from the app and
the user id (2**57 plus 46 bits of a hash), which gives ids shaped like Tencent's 1441151...

Pure: no I/O, no clock (the caller passes ``now``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Final

import msgspec

from protocol import codec

_PREFIX: Final = "a2."
_TAG: Final = b"imreceipts.a2.v1|"
_MAC_BYTES: Final = 16
MAX_A2_LENGTH: Final = 512

TINY_BASE: Final = 2**57
_TINY_BITS: Final = 46


def tiny_id(sdkappid: int, user_id: str) -> str:
    """The stable TinyId of ``user_id`` in app ``sdkappid`` (a decimal string)."""
    digest = hashlib.blake2b(f"{sdkappid}:{user_id}".encode(), digest_size=8).digest()
    return str(TINY_BASE + int.from_bytes(digest, "big") % (1 << _TINY_BITS))


class TicketError(Exception):
    """An A2Key that is not one this server issued (``expired`` False) or no longer valid."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class A2:
    sdkappid: int
    user_id: str
    issued_s: int
    expires_s: int


_Int = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
_payload_decoder = codec.Decoder(tuple[_Int, str, _Int, _Int])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64URL for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _mac(key: str, payload: str) -> bytes:
    return hmac.new(key.encode(), _TAG + payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def issue_a2(sdkappid: int, user_id: str, key: str, *, issued_s: int, expires_s: int) -> str:
    """An A2Key for ``user_id``, valid through second ``expires_s``."""
    payload = _b64(msgspec.json.encode([sdkappid, user_id, issued_s, expires_s]))
    return f"{_PREFIX}{payload}.{_b64(_mac(key, payload))}"


def peek_a2(text: str) -> A2:
    """What an A2Key claims, unchecked (to find the app whose key checks it).

    Raises TicketError when ``text`` is not shaped like an A2Key of this server."""
    if len(text) > MAX_A2_LENGTH or not text.startswith(_PREFIX) or text.count(".") != 2:
        raise TicketError("the a2 is not an A2Key issued by this server")
    payload = text[len(_PREFIX) :].split(".", 1)[0]
    try:
        sdkappid, user, issued, expires = _payload_decoder.decode(_unb64(payload))
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise TicketError("the a2 is not an A2Key issued by this server") from None
    return A2(sdkappid, user, issued, expires)


def verify_a2(text: str, key: str, *, now_s: int) -> A2:
    """The session an A2Key names, if ``key`` signed it and it has not expired.

    Raises TicketError (``expired`` True once past its UserSig's expiry)."""
    claims = peek_a2(text)
    payload, mac = text[len(_PREFIX) :].split(".", 1)
    try:
        given = _unb64(mac)
    except (ValueError, binascii.Error):
        raise TicketError("the a2 is not an A2Key issued by this server") from None
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise TicketError("the a2 was not issued by this server for this app")
    if now_s > claims.expires_s:
        raise TicketError(
            f"the A2Key of {claims.user_id!r} expired at {claims.expires_s} (with its UserSig)",
            expired=True,
        )
    return claims

"""UserSig codec: generate, decode and verify Tencent Cloud IM UserSigs (tls-sig-api-v2).

This module owns the UserSig wire format and nothing else. A UserSig is::

    base64url_variant(zlib(json({"TLS.ver": "2.0", "TLS.identifier": ..., "TLS.sdkappid": ...,
                                 "TLS.expire": ..., "TLS.time": ..., ["TLS.userbuf": ...,]
                                 "TLS.sig": base64std(HMAC-SHA256(key, content))})))

where ``content`` is the lines ``TLS.identifier:{id}``, ``TLS.sdkappid:{n}``, ``TLS.time:{t}``,
``TLS.expire:{e}`` and, only when a userbuf is present, ``TLS.userbuf:{base64std}``, each ended
by ``\\n``. The base64url *variant* is standard base64 with ``+``→``*``, ``/``→``-``, ``=``→``_``.

:func:`gen_usersig` reproduces Tencent's Python generator byte for byte. :func:`decode_usersig` and
:func:`verify_usersig` parse the JSON (they never compare bytes), so sigs from the Go generator
(compact JSON, other key order, zlib stored blocks) and the Java one verify as well.

Pure: no I/O, no clock. The caller passes ``now`` (seconds) in; see ``reference/tim.md`` §6 and
rules 28-29 of §7 (reasons map to TIM error codes 70001/70003/70009/70013/70014 in the dialect).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import zlib
from dataclasses import dataclass
from typing import Annotated, Final

import msgspec

from protocol import codec

__all__ = [
    "BAD_SIGNATURE",
    "EXPIRED",
    "IDENTIFIER_MISMATCH",
    "MALFORMED",
    "SDKAPPID_MISMATCH",
    "UserSigDoc",
    "UserSigError",
    "decode_usersig",
    "gen_usersig",
    "verify_usersig",
]

EXPIRED: Final = "expired"
MALFORMED: Final = "malformed"
BAD_SIGNATURE: Final = "bad_signature"
IDENTIFIER_MISMATCH: Final = "identifier_mismatch"
SDKAPPID_MISMATCH: Final = "sdkappid_mismatch"

# A real UserSig is 150-400 characters (more with a userbuf); anything far larger is an attack
# or garbage. The decompressed cap stops zlib bombs: inflation stops one byte past the cap.
MAX_USERSIG_CHARS: Final = 8 * 1024
MAX_JSON_BYTES: Final = 16 * 1024

# Go's generator declares time/expire int64 (sdkappid uint64, but real ones are ~1.4e9, and
# msgspec bounds must fit an int64), so every number is a JSON integer in [0, 2**63 - 1].
_INT64_MAX: Final = 2**63 - 1

# The variant alphabet, strictly: no standard "+", "/" or "=" and at most two "_" pads at the end.
_VARIANT_RE: Final = re.compile(r"[A-Za-z0-9*\-]*_{0,2}")
_VARIANT_TO_STD: Final = str.maketrans("*-_", "+/=")
_STD_TO_VARIANT: Final = str.maketrans("+/=", "*-_")


class UserSigError(Exception):
    """Raised when a UserSig is refused.

    ``reason`` is one of :data:`EXPIRED`, :data:`MALFORMED`, :data:`BAD_SIGNATURE`,
    :data:`IDENTIFIER_MISMATCH`, :data:`SDKAPPID_MISMATCH`; ``str(e)`` names the offending value.
    """

    reason: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UserSigDoc:
    """The fields of a decoded UserSig (``TLS.*``), as found; ``userbuf`` is base64-decoded."""

    sdkappid: int
    identifier: str
    time: int
    expire: int
    userbuf: bytes | None
    sig: str

    @property
    def expires_at(self) -> int:
        """Last second (inclusive) at which the sig is valid: ``time + expire``."""
        return self.time + self.expire


_NonNegInt64 = Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)]


class _Wire(msgspec.Struct, frozen=True):
    """The JSON document inside a UserSig. ``TLS.ver`` and unknown keys are ignored (as Go does).

    Integers must be JSON integers: bools, floats and digit strings are rejected. A JSON ``null``
    userbuf counts as absent (Go decodes it to a nil slice, which it does not sign).
    """

    identifier: str = msgspec.field(name="TLS.identifier")
    sdkappid: _NonNegInt64 = msgspec.field(name="TLS.sdkappid")
    time: _NonNegInt64 = msgspec.field(name="TLS.time")
    expire: _NonNegInt64 = msgspec.field(name="TLS.expire")
    sig: str = msgspec.field(name="TLS.sig")
    userbuf: str | None = msgspec.field(name="TLS.userbuf", default=None)


_WIRE_DECODER: Final = codec.Decoder(_Wire)


def _b64decode_canonical(text: str) -> bytes:
    """Decode standard, padded base64 that is in canonical form; raise ValueError otherwise.

    Canonical means re-encoding gives the same text back, so there is exactly one spelling of
    each value (no stray bits in the last character), and the signed text is unambiguous.
    """
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("base64 is not canonical")
    return raw


def _sign(
    key: str, identifier: str, sdkappid: int, time: int, expire: int, userbuf_b64: str | None
) -> str:
    """Return ``base64std(HMAC-SHA256(key, content))`` exactly as the official generators do."""
    content = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{time}\n"
        f"TLS.expire:{expire}\n"
    )
    if userbuf_b64 is not None:
        content += f"TLS.userbuf:{userbuf_b64}\n"
    digest = hmac.new(key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _check_range(name: str, value: int, upper: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise ValueError(f"{name} must be an integer in [0, {upper}], got {value!r}")


def gen_usersig(
    sdkappid: int,
    key: str,
    identifier: str,
    *,
    expire: int = 180 * 86400,
    now: int,
    userbuf: bytes | None = None,
) -> str:
    """Generate a UserSig for ``identifier`` issued at ``now`` (seconds), valid for ``expire`` s.

    The result is byte-for-byte what Tencent's Python ``tls-sig-api-v2`` produces for the same
    inputs at the same second (``json.dumps`` spacing and key order, default zlib level).
    ``userbuf`` (PrivateMapKey payload) adds ``TLS.userbuf`` to the document and the signed text.

    Raises ValueError if ``sdkappid``, ``expire`` or ``now`` is not a non-negative integer in the
    range :func:`decode_usersig` accepts, or if ``identifier`` or ``key`` cannot be encoded as
    UTF-8 (lone surrogates). It never raises :class:`UserSigError`.
    """
    _check_range("sdkappid", sdkappid, _INT64_MAX)
    _check_range("expire", expire, _INT64_MAX)
    _check_range("now", now, _INT64_MAX)
    userbuf_b64 = None if userbuf is None else base64.b64encode(userbuf).decode("ascii")
    # Same keys, same insertion order as TLSSigAPIv2.__gen_sig, so json.dumps gives the same text.
    doc: dict[str, str | int] = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": now,
    }
    if userbuf_b64 is not None:
        doc["TLS.userbuf"] = userbuf_b64
    doc["TLS.sig"] = _sign(key, identifier, sdkappid, now, expire, userbuf_b64)
    compressed = zlib.compress(json.dumps(doc).encode("utf-8"))
    return base64.b64encode(compressed).decode("ascii").translate(_STD_TO_VARIANT)


def _malformed(what: str) -> UserSigError:
    return UserSigError(MALFORMED, f"UserSig is malformed: {what}")


def _inflate(data: bytes) -> bytes:
    """Inflate one complete zlib stream of at most MAX_JSON_BYTES, with nothing after it."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_JSON_BYTES + 1)
    except zlib.error as exc:
        raise _malformed(f"not a zlib stream ({exc})") from None
    if len(out) > MAX_JSON_BYTES:
        raise _malformed(f"inflates to more than {MAX_JSON_BYTES} bytes")
    if not inflater.eof:
        raise _malformed("zlib stream is truncated")
    if inflater.unused_data:
        raise _malformed(f"{len(inflater.unused_data)} bytes after the zlib stream")
    return out


def decode_usersig(usersig: str) -> UserSigDoc:
    """Decode a UserSig (base64url variant -> zlib -> JSON) WITHOUT checking its signature.

    The base64url variant is accepted strictly: only ``A-Z a-z 0-9 * -`` plus up to two ``_``
    pads, canonical, at most :data:`MAX_USERSIG_CHARS` characters. The zlib stream must be
    complete, alone and inflate to at most :data:`MAX_JSON_BYTES` bytes of UTF-8 JSON. The JSON
    must be an object with ``TLS.identifier`` (string), ``TLS.sdkappid``, ``TLS.time``,
    ``TLS.expire`` (non-negative JSON integers; bools, floats and digit strings are refused) and
    ``TLS.sig`` (string); ``TLS.userbuf``, if present and not null, must be canonical standard
    base64. Key order, spacing and unknown keys (such as ``TLS.ver``) do not matter.

    Raises UserSigError(MALFORMED) for anything else; it raises nothing but UserSigError.
    """
    if not isinstance(usersig, str):
        raise _malformed(f"expected a string, got {type(usersig).__name__}")
    if not usersig:
        raise _malformed("empty string")
    if len(usersig) > MAX_USERSIG_CHARS:
        raise _malformed(f"{len(usersig)} characters, more than {MAX_USERSIG_CHARS}")
    if _VARIANT_RE.fullmatch(usersig) is None:
        raise _malformed("not in the base64url variant alphabet (A-Z a-z 0-9 * - and _ pads)")
    try:
        compressed = _b64decode_canonical(usersig.translate(_VARIANT_TO_STD))
    except (ValueError, binascii.Error) as exc:
        raise _malformed(f"bad base64url variant ({exc})") from None
    raw = _inflate(compressed)
    try:
        wire = _WIRE_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError) as exc:
        # ValueError: msgspec raises UnicodeDecodeError for invalid UTF-8 inside a string.
        raise _malformed(f"bad JSON document ({exc})") from None
    userbuf: bytes | None = None
    if wire.userbuf is not None:
        try:
            userbuf = _b64decode_canonical(wire.userbuf)
        except (ValueError, binascii.Error) as exc:
            raise _malformed(f"TLS.userbuf is not canonical standard base64 ({exc})") from None
    return UserSigDoc(
        sdkappid=wire.sdkappid,
        identifier=wire.identifier,
        time=wire.time,
        expire=wire.expire,
        userbuf=userbuf,
        sig=wire.sig,
    )


def verify_usersig(
    usersig: str, *, sdkappid: int, key: str, identifier: str, now: int
) -> UserSigDoc:
    """Verify ``usersig`` for ``identifier`` in app ``sdkappid`` at ``now`` and return its fields.

    Checks, in this order (the first failure wins):

    1. :func:`decode_usersig` -> UserSigError(MALFORMED);
    2. ``TLS.sdkappid == sdkappid`` -> UserSigError(SDKAPPID_MISMATCH);
    3. ``TLS.identifier == identifier`` -> UserSigError(IDENTIFIER_MISMATCH);
    4. ``now <= TLS.time + TLS.expire`` (valid through that second inclusive)
       -> UserSigError(EXPIRED);
    5. HMAC-SHA256 of the signed text under ``key``, compared in constant time with ``TLS.sig``
       -> UserSigError(BAD_SIGNATURE).

    A sig carrying a ``TLS.userbuf`` verifies when its signature covers the userbuf line. Any
    ``usersig`` value raises nothing but UserSigError; ``key`` must be encodable as UTF-8.
    """
    doc = decode_usersig(usersig)
    if doc.sdkappid != sdkappid:
        raise UserSigError(
            SDKAPPID_MISMATCH, f"UserSig TLS.sdkappid {doc.sdkappid} is not {sdkappid}"
        )
    if doc.identifier != identifier:
        raise UserSigError(
            IDENTIFIER_MISMATCH,
            f"UserSig TLS.identifier {doc.identifier!r} is not {identifier!r}",
        )
    if now > doc.expires_at:
        raise UserSigError(
            EXPIRED,
            f"UserSig for {doc.identifier!r} expired at {doc.expires_at} "
            f"(TLS.time {doc.time} + TLS.expire {doc.expire}); now is {now}",
        )
    userbuf_b64 = None if doc.userbuf is None else base64.b64encode(doc.userbuf).decode("ascii")
    expected = _sign(key, doc.identifier, doc.sdkappid, doc.time, doc.expire, userbuf_b64)
    # Compare bytes: compare_digest refuses non-ASCII str, and TLS.sig is attacker-chosen text.
    found = doc.sig.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(expected.encode("ascii"), found):
        raise UserSigError(
            BAD_SIGNATURE,
            f"UserSig TLS.sig for {doc.identifier!r} does not match the key of app {sdkappid}",
        )
    return doc

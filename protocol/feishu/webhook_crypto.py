"""Encryption and signature of Feishu event webhooks (feishu.md §4.2-4.3).

This module owns the two pieces of cryptography an app configured with an *Encrypt Key* expects
on every event POST:

* the body ``{"encrypt": "<base64>"}``, where the base64 text is
  ``IV(16) || AES-256-CBC(key=SHA-256(encrypt_key), PKCS#7(plaintext))``
  (:func:`encrypt_event`, :func:`decrypt_event`);
* the headers ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and ``X-Lark-Signature``,
  where the signature is the lowercase hex of a plain SHA-256 (not an HMAC) of
  ``(timestamp + nonce + encrypt_key).encode() + raw_body`` (:func:`event_signature`,
  :func:`signed_headers`, :func:`verify_signature`).

Header names are spelled exactly as Feishu sends them: the Python SDK looks them up in a
case-sensitive dict. Randomness (IV, nonce) is a parameter so tests can fix it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from typing import Final

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "DecryptError",
    "decrypt_event",
    "encrypt_event",
    "event_signature",
    "new_nonce",
    "signed_headers",
    "verify_signature",
]

HEADER_TIMESTAMP: Final = "X-Lark-Request-Timestamp"
HEADER_NONCE: Final = "X-Lark-Request-Nonce"
HEADER_SIGNATURE: Final = "X-Lark-Signature"

_BLOCK: Final = 16  # AES block size and IV length, in bytes


class DecryptError(ValueError):
    """An ``encrypt`` value that is not base64 of IV + AES-CBC ciphertext with PKCS#7 padding."""


def _aes_key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def encrypt_event(plaintext: str | bytes, encrypt_key: str, *, iv: bytes | None = None) -> str:
    """Encrypt an event body the way Feishu does, for the ``encrypt`` member of the POST body.

    Returns ``base64(IV || AES-256-CBC(SHA-256(encrypt_key), PKCS#7(plaintext)))``; a ``str``
    plaintext is encoded as UTF-8. ``iv`` defaults to 16 bytes from ``os.urandom``. Raises
    ``ValueError`` if ``encrypt_key`` is empty (the SDK treats an empty key as "no encryption"
    and could never decrypt the result) or ``iv`` is not 16 bytes long.
    """
    if not encrypt_key:
        raise ValueError("encrypt_key is empty: send the event in plaintext instead")
    if iv is None:
        iv = os.urandom(_BLOCK)
    if len(iv) != _BLOCK:
        raise ValueError(f"iv must be {_BLOCK} bytes, got {len(iv)}")
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    padder = padding.PKCS7(_BLOCK * 8).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_aes_key(encrypt_key)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(iv + ciphertext).decode("ascii")


def decrypt_event(ciphertext_b64: str, encrypt_key: str) -> bytes:
    """Decrypt the ``encrypt`` member of an event body and return the plaintext bytes.

    The check is as strict as the Python SDK's, and stricter on base64: raises
    :class:`DecryptError` if ``encrypt_key`` is empty, the text is not standard base64 (stray
    characters included), the decoded length is below 32 bytes or not a multiple of 16, or
    the PKCS#7 padding is invalid. A wrong key almost always shows up as invalid padding.
    """
    if not encrypt_key:
        raise DecryptError("encrypt_key is empty")
    try:
        raw = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
        raise DecryptError("ciphertext is not valid base64") from exc
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise DecryptError(
            f"ciphertext is {len(raw)} bytes; "
            f"expected a multiple of {_BLOCK}, at least {2 * _BLOCK}"
        )
    iv, body = raw[:_BLOCK], raw[_BLOCK:]
    decryptor = Cipher(algorithms.AES(_aes_key(encrypt_key)), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptError("invalid PKCS#7 padding (wrong encrypt_key?)") from exc


def event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Return ``X-Lark-Signature`` for a POST: hex SHA-256 of ``ts + nonce + key`` then the body.

    ``body`` is the exact HTTP body sent (the ``{"encrypt": ...}`` JSON when encrypted). This is
    a plain digest, not an HMAC. Raises nothing.
    """
    digest = hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8"))
    digest.update(body)
    return digest.hexdigest()


def verify_signature(
    timestamp: str, nonce: str, encrypt_key: str, body: bytes, signature: str
) -> bool:
    """Return whether ``signature`` matches :func:`event_signature`, compared in constant time."""
    expected = event_signature(timestamp, nonce, encrypt_key, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "surrogatepass"))


def new_nonce() -> str:
    """Return a fresh random ``X-Lark-Request-Nonce``: 32 hex digits from ``secrets``."""
    return secrets.token_hex(16)


def signed_headers(
    body: bytes, encrypt_key: str, *, timestamp: int, nonce: str | None = None
) -> dict[str, str]:
    """Return the three signature headers for a webhook POST of ``body``, in Feishu's casing.

    ``timestamp`` is Unix seconds; ``nonce`` defaults to :func:`new_nonce`. The result is
    ``{"X-Lark-Request-Timestamp": ..., "X-Lark-Request-Nonce": ..., "X-Lark-Signature": ...}``.
    Send them only when the app has an Encrypt Key (the SDK checks them only then). Raises nothing.
    """
    if nonce is None:
        nonce = new_nonce()
    ts = str(timestamp)
    return {
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: event_signature(ts, nonce, encrypt_key, body),
    }

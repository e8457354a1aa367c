"""Webhook encryption and signature, checked against lark-oapi's decryptor and dispatcher."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import lark_oapi as lark
import pytest
from Crypto.Cipher import AES  # pycryptodome, an SDK dependency: an independent AES-CBC
from hypothesis import given, settings
from hypothesis import strategies as st
from lark_oapi.core import const as sdk_const
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils.decryptor import AESCipher

from protocol.feishu.webhook_crypto import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    DecryptError,
    decrypt_event,
    encrypt_event,
    event_signature,
    new_nonce,
    signed_headers,
    verify_signature,
)

ENCRYPT_KEY = "kEy-\u5bc6\u94a5"
TOKEN = "v_token"
TS = 1_700_000_000
NONCE = "n0nce"
IV = bytes(range(16))

keys = st.text(min_size=1, max_size=40)


def pycryptodome_encrypt(plaintext: bytes, encrypt_key: str, iv: bytes) -> str:
    """The feishu.md §4.2 recipe, written with pycryptodome instead of `cryptography`."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    pad = 16 - len(plaintext) % 16
    padded = plaintext + bytes([pad]) * pad
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(padded)).decode()


def read_event(token: str | None = TOKEN) -> bytes:
    """A schema-2.0 im.message.message_read_v1 envelope (feishu.md §5.2), as UTF-8 JSON."""
    header: dict[str, str] = {
        "event_id": "ev_1",
        "create_time": "1700000001000",
        "event_type": "im.message.message_read_v1",
        "tenant_key": "tk",
        "app_id": "cli_test",
    }
    if token is not None:
        header["token"] = token
    return json.dumps(
        {
            "schema": "2.0",
            "header": header,
            "event": {
                "reader": {
                    "reader_id": {"open_id": "ou_2", "union_id": "on_2", "user_id": "u2"},
                    "read_time": "1700000001000",
                    "tenant_key": "tk",
                },
                "message_id_list": ["om_1", "om_\u00e9"],
            },
        },
        ensure_ascii=False,
    ).encode()


def challenge(token: str = TOKEN) -> bytes:
    return json.dumps({"challenge": "ch-123", "token": token, "type": "url_verification"}).encode()


def dispatch(
    body: bytes, headers: dict[str, str], *, encrypt_key: str, token: str
) -> tuple[int, Any, list[Any]]:
    """Give ``body`` to a real SDK EventDispatcherHandler; return status, JSON reply, events."""
    seen: list[Any] = []
    handler = (
        lark.EventDispatcherHandler.builder(encrypt_key, token)
        .register_p2_im_message_message_read_v1(seen.append)
        .build()
    )
    req = RawRequest()
    req.uri = "/webhook/event"
    req.body = body
    req.headers = headers
    resp = handler.do(req)
    return resp.status_code, json.loads(resp.content), seen


def encrypted_body(plaintext: bytes, encrypt_key: str = ENCRYPT_KEY) -> bytes:
    return json.dumps({"encrypt": encrypt_event(plaintext, encrypt_key)}).encode()


# --- encryption ------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.text(), keys)
def test_our_ciphertext_decrypts_with_the_sdk(plaintext: str, key: str) -> None:
    """Any unicode plaintext we encrypt under any key is recovered by the SDK's AESCipher."""
    ciphertext = encrypt_event(plaintext, key)
    assert AESCipher(key).decrypt_str(ciphertext) == plaintext
    assert decrypt_event(ciphertext, key) == plaintext.encode()


@settings(deadline=None)
@given(st.binary(max_size=300), keys, st.binary(min_size=16, max_size=16))
def test_independent_ciphertext_decrypts_with_ours(plaintext: bytes, key: str, iv: bytes) -> None:
    """Ciphertext from the documented recipe (pycryptodome) decrypts with ours and equals ours."""
    ciphertext = pycryptodome_encrypt(plaintext, key, iv)
    assert decrypt_event(ciphertext, key) == plaintext
    assert encrypt_event(plaintext, key, iv=iv) == ciphertext


def test_ciphertext_is_iv_then_whole_blocks() -> None:
    """The ciphertext is the IV then PKCS#7-padded blocks (a whole extra block when aligned)."""
    raw = base64.b64decode(encrypt_event(b"x" * 16, ENCRYPT_KEY, iv=IV))
    assert raw[:16] == IV
    assert len(raw) == 16 + 32
    assert encrypt_event("same", ENCRYPT_KEY) != encrypt_event("same", ENCRYPT_KEY)


@pytest.mark.parametrize(("key", "iv"), [("", None), ("k", b"short"), ("k", bytes(17))])
def test_encrypt_rejects_empty_key_and_bad_iv(key: str, iv: bytes | None) -> None:
    """An empty encrypt_key (the SDK never decrypts) or an IV not 16 bytes raises ValueError."""
    with pytest.raises(ValueError):
        encrypt_event("{}", key, iv=iv)


# --- decryption rejects bad input --------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _badly_padded(last_block: bytes) -> str:
    """A one-block ciphertext under key "k" whose plaintext block is ``last_block`` verbatim."""
    return _b64(IV + AES.new(hashlib.sha256(b"k").digest(), AES.MODE_CBC, IV).encrypt(last_block))


@pytest.mark.parametrize(
    ("ciphertext", "key", "reason"),
    [
        ("", ENCRYPT_KEY, "expected a multiple"),
        ("not base64!", ENCRYPT_KEY, "base64"),
        ("\u00e9\u00e9\u00e9\u00e9", ENCRYPT_KEY, "base64"),
        ("QUJD", ENCRYPT_KEY, "expected a multiple"),
        (_b64(bytes(16)), ENCRYPT_KEY, "expected a multiple"),
        (_b64(bytes(40)), ENCRYPT_KEY, "expected a multiple"),
        (_b64(IV) + "\n" + _b64(bytes(16)), ENCRYPT_KEY, "base64"),
        (pycryptodome_encrypt(b"{}", ENCRYPT_KEY, IV), "", "empty"),
        (_badly_padded(b"a" * 15 + b"\x02"), "k", "padding"),
        (_badly_padded(b"a" * 15 + b"\x00"), "k", "padding"),
        (_badly_padded(b"a" * 15 + b"\x11"), "k", "padding"),
    ],
)
def test_decrypt_rejects_garbage_short_input_and_bad_padding(
    ciphertext: str, key: str, reason: str
) -> None:
    """Non-base64, short or misaligned input, an empty key and bad padding raise DecryptError."""
    with pytest.raises(DecryptError, match=reason):
        decrypt_event(ciphertext, key)


def test_decrypt_with_the_wrong_key_fails() -> None:
    """A ciphertext decrypted under another key is rejected (its padding does not check out)."""
    ciphertext = encrypt_event(read_event(), ENCRYPT_KEY, iv=IV)
    with pytest.raises(DecryptError):
        decrypt_event(ciphertext, "another key")


@given(st.text(max_size=120) | st.binary(min_size=32, max_size=96).map(_b64), keys)
def test_any_string_decrypts_or_raises_decrypt_error(ciphertext: str, key: str) -> None:
    """Any text, random base64 of whole blocks too, decrypts to bytes or raises DecryptError."""
    try:
        plaintext = decrypt_event(ciphertext, key)
    except DecryptError:
        return
    assert isinstance(plaintext, bytes)


# --- signature -------------------------------------------------------------------------------


def test_signature_is_plain_sha256_of_ts_nonce_key_body() -> None:
    """The signature is the hex SHA-256 of timestamp+nonce+key then the raw body, not an HMAC."""
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"n0nce" + ENCRYPT_KEY.encode() + body).hexdigest()
    assert event_signature("1700000000", NONCE, ENCRYPT_KEY, body) == expected
    assert verify_signature("1700000000", NONCE, ENCRYPT_KEY, body, expected)
    assert not verify_signature("1700000000", NONCE, ENCRYPT_KEY, body + b" ", expected)
    assert not verify_signature("1700000000", NONCE, ENCRYPT_KEY, body, "\ud800")


def test_signed_headers_use_feishu_casing() -> None:
    """signed_headers returns exactly the three X-Lark-* headers, in Feishu's casing."""
    body = b"{}"
    headers = signed_headers(body, ENCRYPT_KEY, timestamp=TS, nonce=NONCE)
    assert headers == {
        "X-Lark-Request-Timestamp": "1700000000",
        "X-Lark-Request-Nonce": "n0nce",
        "X-Lark-Signature": event_signature("1700000000", "n0nce", ENCRYPT_KEY, body),
    }
    fresh = signed_headers(body, ENCRYPT_KEY, timestamp=TS)
    assert fresh[HEADER_NONCE] != signed_headers(body, ENCRYPT_KEY, timestamp=TS)[HEADER_NONCE]


def test_new_nonce_is_random_hex() -> None:
    """new_nonce returns 32 lowercase hex digits, different on each call."""
    nonce = new_nonce()
    assert len(nonce) == 32 and int(nonce, 16) >= 0
    assert nonce != new_nonce()


# --- the real SDK dispatcher --------------------------------------------------------------------


def test_sdk_dispatcher_accepts_encrypted_signed_event() -> None:
    """An encrypted, signed message_read_v1 event gets 200 and reaches the SDK handler intact."""
    body = encrypted_body(read_event())
    status, reply, seen = dispatch(
        body,
        signed_headers(body, ENCRYPT_KEY, timestamp=TS),
        encrypt_key=ENCRYPT_KEY,
        token=TOKEN,
    )
    assert (status, reply) == (200, {"msg": "success"})
    [event] = seen
    assert event.header.event_type == "im.message.message_read_v1"
    assert event.event.reader.reader_id.open_id == "ou_2"
    assert event.event.reader.read_time == "1700000001000"
    assert event.event.message_id_list == ["om_1", "om_\u00e9"]


@pytest.mark.parametrize("tamper", ["signature", "body", "lowercase names", "missing"])
def test_sdk_dispatcher_rejects_bad_signatures(tamper: str) -> None:
    """A wrong signature, a body changed after signing, lowercase or missing headers give 500."""
    body = encrypted_body(read_event())
    headers = signed_headers(body, ENCRYPT_KEY, timestamp=TS, nonce=NONCE)
    if tamper == "signature":
        headers[HEADER_SIGNATURE] = event_signature(str(TS), NONCE, "wrong key", body)
    elif tamper == "body":
        body = encrypted_body(read_event())  # a fresh IV: same event, different bytes
    elif tamper == "lowercase names":
        headers = {name.lower(): value for name, value in headers.items()}
    else:
        headers = {}
    status, _, seen = dispatch(body, headers, encrypt_key=ENCRYPT_KEY, token=TOKEN)
    assert status == 500
    assert seen == []


def test_sdk_dispatcher_rejects_event_encrypted_under_another_key() -> None:
    """An event encrypted (and signed) under another key is refused with 500."""
    body = encrypted_body(read_event(), "another key")
    status, _, seen = dispatch(
        body,
        signed_headers(body, ENCRYPT_KEY, timestamp=TS, nonce=NONCE),
        encrypt_key=ENCRYPT_KEY,
        token=TOKEN,
    )
    assert status == 500
    assert seen == []


@pytest.mark.parametrize(("token", "event_token"), [(TOKEN, TOKEN), ("", None)])
def test_sdk_dispatcher_accepts_plaintext_events(token: str, event_token: str | None) -> None:
    """With no encrypt key, unsigned plaintext is accepted (a configured token must match)."""
    status, reply, seen = dispatch(read_event(event_token), {}, encrypt_key="", token=token)
    assert (status, reply) == (200, {"msg": "success"})
    assert [e.event.reader.reader_id.user_id for e in seen] == ["u2"]


def test_sdk_dispatcher_rejects_plaintext_event_with_wrong_token() -> None:
    """In plaintext mode an event carrying the wrong verification token gives 500."""
    status, _, seen = dispatch(read_event("bad"), {}, encrypt_key="", token=TOKEN)
    assert status == 500
    assert seen == []


@pytest.mark.parametrize("encrypted", [False, True])
def test_sdk_dispatcher_echoes_url_verification_challenge(encrypted: bool) -> None:
    """An unsigned url_verification, plain or encrypted, is answered with its challenge."""
    if encrypted:
        body, key = encrypted_body(challenge()), ENCRYPT_KEY
    else:
        body, key = challenge(), ""
    status, reply, _ = dispatch(body, {}, encrypt_key=key, token=TOKEN)
    assert (status, reply) == (200, {"challenge": "ch-123"})


def test_sdk_dispatcher_refuses_challenge_with_wrong_token() -> None:
    """A challenge whose token differs from the configured verification token gives 500."""
    status, reply, _ = dispatch(challenge("bad"), {}, encrypt_key="", token=TOKEN)
    assert (status, reply) == (500, {"msg": "invalid verification_token"})


def test_signed_headers_names_are_what_the_sdk_reads() -> None:
    """Our header-name constants are the SDK's own lookup keys."""
    assert (HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE) == (
        sdk_const.LARK_REQUEST_TIMESTAMP,
        sdk_const.LARK_REQUEST_NONCE,
        sdk_const.LARK_REQUEST_SIGNATURE,
    )

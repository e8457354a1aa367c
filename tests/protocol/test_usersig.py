"""UserSig codec: parity with Tencent's official generator, every refusal reason, fuzzing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from TLSSigAPIv2 import TLSSigAPIv2

from protocol.tim.usersig import (
    BAD_SIGNATURE,
    EXPIRED,
    IDENTIFIER_MISMATCH,
    MALFORMED,
    SDKAPPID_MISMATCH,
    UserSigDoc,
    UserSigError,
    decode_usersig,
    gen_usersig,
    verify_usersig,
)

SDKAPPID = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
T0 = 1_700_000_000
DAY = 86400

VARIANT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_"


def official(monkeypatch: pytest.MonkeyPatch, now: int) -> TLSSigAPIv2:
    """The official generator with its clock frozen at ``now``."""
    monkeypatch.setattr("TLSSigAPIv2.time.time", lambda: float(now) + 0.75)
    return TLSSigAPIv2(SDKAPPID, KEY)


def pack(raw: bytes) -> str:
    """Base64url-variant encode raw bytes (no zlib)."""
    return base64.b64encode(raw).decode().translate(str.maketrans("+/=", "*-_"))


def encode(doc: dict[str, Any], *, level: int = -1, compact: bool = False) -> str:
    """Pack a JSON document the way a generator does (zlib + base64url variant)."""
    text = json.dumps(doc, separators=(",", ":") if compact else None).encode()
    compressor = zlib.compressobj(level=level)
    return pack(compressor.compress(text) + compressor.flush())


def unpack(usersig: str) -> dict[str, Any]:
    """The JSON document inside a UserSig, parsed with the stdlib only."""
    raw = base64.b64decode(usersig.translate(str.maketrans("*-_", "+/=")))
    doc: dict[str, Any] = json.loads(zlib.decompress(raw))
    return doc


def resign(doc: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    """Return ``doc`` with a correct TLS.sig for its current fields (our own reference HMAC)."""
    content = (
        f"TLS.identifier:{doc['TLS.identifier']}\nTLS.sdkappid:{doc['TLS.sdkappid']}\n"
        f"TLS.time:{doc['TLS.time']}\nTLS.expire:{doc['TLS.expire']}\n"
    )
    if "TLS.userbuf" in doc:
        content += f"TLS.userbuf:{doc['TLS.userbuf']}\n"
    mac = hmac.new(key.encode(), content.encode(), hashlib.sha256).digest()
    return {**doc, "TLS.sig": base64.b64encode(mac).decode()}


def reason_of(usersig: str, **kwargs: Any) -> str:
    """The refusal reason of ``verify_usersig`` (defaults: sample app, user "alice", at T0)."""
    args: dict[str, Any] = {"sdkappid": SDKAPPID, "key": KEY, "identifier": "alice", "now": T0}
    args.update(kwargs)
    with pytest.raises(UserSigError) as info:
        verify_usersig(usersig, **args)
    return info.value.reason


# --- parity with the official generator -------------------------------------------------------


def test_official_sig_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sig from Tencent's Python generator verifies and decodes to the fields it was made with."""
    sig = official(monkeypatch, T0).gen_sig("alice", 7 * DAY)
    doc = verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0 + 1)
    assert (doc.sdkappid, doc.identifier, doc.time, doc.expire) == (SDKAPPID, "alice", T0, 7 * DAY)
    assert doc.userbuf is None
    assert doc.expires_at == T0 + 7 * DAY
    assert doc.sig == unpack(sig)["TLS.sig"]


def test_official_sig_with_userbuf_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sig from the official gen_sig_with_userbuf verifies and exposes the decoded userbuf."""
    sig = official(monkeypatch, T0).gen_sig_with_userbuf("alice", DAY, b"\x00room\xff")
    doc = verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0)
    assert doc.userbuf == b"\x00room\xff"


@pytest.mark.parametrize("userbuf", [None, b"", b"abc", bytes(range(256))])
@pytest.mark.parametrize("identifier", ["alice", "user_01-x", "é中", "a<b>&\"'\\"])
def test_gen_matches_official_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, identifier: str, userbuf: bytes | None
) -> None:
    """gen_usersig(now=t) returns exactly the official generator's string at the same second."""
    api = official(monkeypatch, T0)
    if userbuf is None:
        theirs = api.gen_sig(identifier, 30 * DAY)
    else:
        theirs = api.gen_sig_with_userbuf(identifier, 30 * DAY, userbuf)
    ours = gen_usersig(SDKAPPID, KEY, identifier, expire=30 * DAY, now=T0, userbuf=userbuf)
    assert ours == theirs


def test_gen_default_expire_matches_official(monkeypatch: pytest.MonkeyPatch) -> None:
    """gen_usersig's default expire is the official 180 days."""
    theirs = official(monkeypatch, T0).gen_sig("alice")
    assert gen_usersig(SDKAPPID, KEY, "alice", now=T0) == theirs
    assert decode_usersig(theirs).expire == 180 * DAY


def test_go_style_sig_verifies() -> None:
    """A Go-style sig (compact JSON, other key order, stored zlib blocks, newline) verifies."""
    signed = resign(
        {"TLS.identifier": "alice", "TLS.sdkappid": SDKAPPID, "TLS.expire": DAY, "TLS.time": T0}
    )
    doc = {
        "TLS.sig": signed["TLS.sig"],
        "TLS.time": T0,
        "TLS.expire": DAY,
        "TLS.sdkappid": SDKAPPID,
        "TLS.identifier": "alice",
        "TLS.ver": "2.0",
    }
    text = json.dumps(doc, separators=(",", ":")).encode() + b"\n"
    compressor = zlib.compressobj(level=0)
    packed = compressor.compress(text) + compressor.flush()
    assert text in packed  # stored blocks really hold the JSON uncompressed
    sig = base64.b64encode(packed).decode().translate(str.maketrans("+/=", "*-_"))
    assert verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0).time == T0


def test_go_style_sig_with_userbuf_verifies() -> None:
    """A compact, reordered, uncompressed sig with TLS.userbuf verifies and keeps the userbuf."""
    doc = resign(
        {
            "TLS.userbuf": "AAEC",
            "TLS.identifier": "alice",
            "TLS.time": T0,
            "TLS.expire": DAY,
            "TLS.sdkappid": SDKAPPID,
        }
    )
    sig = encode(doc, level=0, compact=True)
    assert (
        verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0).userbuf
        == b"\x00\x01\x02"
    )


# --- each refusal reason ----------------------------------------------------------------------


def test_expiry_boundary_is_inclusive() -> None:
    """A sig is valid at exactly time + expire and refused as EXPIRED one second later."""
    sig = gen_usersig(SDKAPPID, KEY, "alice", expire=DAY, now=T0)
    doc = verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0 + DAY)
    assert doc.expires_at == T0 + DAY
    assert reason_of(sig, now=T0 + DAY + 1) == EXPIRED


def test_expired_error_names_the_expiry() -> None:
    """The EXPIRED message names the expiry second and the current time."""
    sig = gen_usersig(SDKAPPID, KEY, "alice", expire=10, now=T0)
    with pytest.raises(UserSigError, match=f"expired at {T0 + 10}.*now is {T0 + 11}"):
        verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0 + 11)


def test_wrong_key_is_bad_signature() -> None:
    """A sig made with another key is refused as BAD_SIGNATURE."""
    sig = gen_usersig(SDKAPPID, "another-key", "alice", now=T0)
    assert reason_of(sig) == BAD_SIGNATURE


def test_other_identifier_is_identifier_mismatch() -> None:
    """A valid sig presented for another user is refused as IDENTIFIER_MISMATCH, naming both."""
    sig = gen_usersig(SDKAPPID, KEY, "bob", now=T0)
    assert reason_of(sig) == IDENTIFIER_MISMATCH
    with pytest.raises(UserSigError, match="'bob' is not 'alice'"):
        verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0)


def test_other_sdkappid_is_sdkappid_mismatch() -> None:
    """A valid sig of another app is refused as SDKAPPID_MISMATCH, naming both ids."""
    sig = gen_usersig(SDKAPPID + 1, KEY, "alice", now=T0)
    assert reason_of(sig) == SDKAPPID_MISMATCH
    with pytest.raises(UserSigError, match=f"{SDKAPPID + 1} is not {SDKAPPID}"):
        verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0)


def test_checks_run_in_documented_order() -> None:
    """With every check failing, sdkappid wins, then identifier, then expiry, then signature."""
    sig = gen_usersig(SDKAPPID + 1, "wrong", "bob", expire=1, now=T0 - 100)
    assert reason_of(sig) == SDKAPPID_MISMATCH
    assert reason_of(sig, sdkappid=SDKAPPID + 1) == IDENTIFIER_MISMATCH
    assert reason_of(sig, sdkappid=SDKAPPID + 1, identifier="bob") == EXPIRED
    assert reason_of(sig, sdkappid=SDKAPPID + 1, identifier="bob", now=T0 - 99) == BAD_SIGNATURE


def test_tampered_sig_field_is_bad_signature() -> None:
    """A well-formed sig whose TLS.sig or a signed field (e.g. expire) changed is BAD_SIGNATURE."""
    doc = unpack(gen_usersig(SDKAPPID, KEY, "alice", now=T0))
    flipped = "B" if doc["TLS.sig"][0] == "A" else "A"
    assert reason_of(encode({**doc, "TLS.sig": flipped + doc["TLS.sig"][1:]})) == BAD_SIGNATURE
    assert reason_of(encode({**doc, "TLS.sig": "not base64 at all é"})) == BAD_SIGNATURE
    assert reason_of(encode({**doc, "TLS.expire": doc["TLS.expire"] + 1})) == BAD_SIGNATURE
    assert reason_of(encode({**doc, "TLS.userbuf": "AAAA"})) == BAD_SIGNATURE


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a usersig",
        pack(zlib.compress(b'{"hello": "world"}')),  # JSON object without TLS fields
        pack(zlib.compress(b"[1, 2, 3]")),  # JSON, but not an object
        pack(zlib.compress(b"hello world")),  # not JSON
        pack(zlib.compress(b'{"TLS.identifier": "\xff"}')),  # not UTF-8
        pack(b"\x00\x01\x02"),  # not zlib
        pack(zlib.compress(b'{"hello": "world"}')[:-3]),  # truncated zlib stream
        pack(zlib.compress(b"{}"))[:-1],  # length not a multiple of 4
        "A" * 10_000,  # longer than any real UserSig
    ],
)
def test_garbage_is_malformed(garbage: str) -> None:
    """Anything that is not a well-formed UserSig is refused as MALFORMED by decode and verify."""
    with pytest.raises(UserSigError) as info:
        decode_usersig(garbage)
    assert info.value.reason == MALFORMED
    assert reason_of(garbage) == MALFORMED


def test_standard_base64_alphabet_is_malformed() -> None:
    """A valid sig re-spelled in the standard base64 alphabet (+ / =) is MALFORMED."""
    sig = gen_usersig(SDKAPPID, KEY, "alice", now=T0)
    standard = sig.translate(str.maketrans("*-_", "+/="))
    assert standard != sig
    with pytest.raises(UserSigError, match="alphabet"):
        decode_usersig(standard)


def test_non_string_input_is_malformed() -> None:
    """A non-string usersig (e.g. None or bytes from a loosely typed caller) is MALFORMED."""
    for value in (None, b"eJw_", 42):
        with pytest.raises(UserSigError) as info:
            decode_usersig(value)  # type: ignore[arg-type]
        assert info.value.reason == MALFORMED


GOOD: dict[str, Any] = resign(
    {
        "TLS.ver": "2.0",
        "TLS.identifier": "alice",
        "TLS.sdkappid": SDKAPPID,
        "TLS.expire": DAY,
        "TLS.time": T0,
    }
)


@pytest.mark.parametrize(
    "change",
    [
        {"TLS.sdkappid": True},
        {"TLS.sdkappid": float(SDKAPPID)},
        {"TLS.sdkappid": str(SDKAPPID)},
        {"TLS.time": -1},
        {"TLS.expire": -5},
        {"TLS.expire": 2**63},
        {"TLS.time": None},
        {"TLS.identifier": 7},
        {"TLS.sig": 1},
        {"TLS.userbuf": "AAE"},  # unpadded
        {"TLS.userbuf": "AAF="},  # stray bits: not canonical
        {"TLS.userbuf": 5},
    ],
)
def test_ill_typed_fields_are_malformed(change: dict[str, Any]) -> None:
    """Bools, floats, digit strings, negative or oversized numbers and wrong types are MALFORMED."""
    assert reason_of(encode({**GOOD, **change})) == MALFORMED


@pytest.mark.parametrize(
    "field", ["TLS.identifier", "TLS.sdkappid", "TLS.time", "TLS.expire", "TLS.sig"]
)
def test_missing_field_is_malformed(field: str) -> None:
    """A document missing any required TLS field is MALFORMED."""
    doc = {k: v for k, v in GOOD.items() if k != field}
    assert reason_of(encode(doc)) == MALFORMED


def test_reference_document_verifies() -> None:
    """The document the malformed cases start from verifies, so each case tests one change."""
    assert (
        verify_usersig(
            encode(GOOD), sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0
        ).identifier
        == "alice"
    )


def test_json_null_userbuf_counts_as_absent() -> None:
    """A JSON null TLS.userbuf is treated as no userbuf (as Go decodes it), so the sig verifies."""
    sig = encode({**GOOD, "TLS.userbuf": None})
    assert (
        verify_usersig(sig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0).userbuf is None
    )


def test_zlib_bomb_is_malformed() -> None:
    """A small sig that inflates past the 16 KiB cap is MALFORMED without inflating it all."""
    bomb = encode({**GOOD, "pad": " " * 1_000_000}, level=9)
    assert len(bomb) < 8 * 1024
    assert reason_of(bomb) == MALFORMED


def test_trailing_bytes_after_zlib_are_malformed() -> None:
    """Bytes after the end of the zlib stream make the sig MALFORMED."""
    raw = base64.b64decode(encode(GOOD).translate(str.maketrans("*-_", "+/="))) + b"xyz"
    assert reason_of(pack(raw)) == MALFORMED


def test_deeply_nested_json_is_malformed() -> None:
    """Deeply nested JSON inside an otherwise small sig is MALFORMED, not a RecursionError."""
    text = b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert reason_of(pack(zlib.compress(text))) == MALFORMED


def test_gen_rejects_out_of_range_numbers() -> None:
    """gen_usersig raises ValueError for negative or boolean numbers, not a sig we would refuse."""
    with pytest.raises(ValueError, match="expire"):
        gen_usersig(SDKAPPID, KEY, "alice", expire=-1, now=T0)
    with pytest.raises(ValueError, match="sdkappid"):
        gen_usersig(True, KEY, "alice", now=T0)


# --- property tests ---------------------------------------------------------------------------

VALID = gen_usersig(SDKAPPID, KEY, "alice", expire=DAY, now=T0, userbuf=b"buf")


def verifies_or_refuses(usersig: Any) -> None:
    """Call verify_usersig and accept only a UserSigDoc or a UserSigError."""
    try:
        doc = verify_usersig(usersig, sdkappid=SDKAPPID, key=KEY, identifier="alice", now=T0)
    except UserSigError as exc:
        assert exc.reason in {
            EXPIRED,
            MALFORMED,
            BAD_SIGNATURE,
            IDENTIFIER_MISMATCH,
            SDKAPPID_MISMATCH,
        }
        assert str(exc)
    else:
        assert isinstance(doc, UserSigDoc)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_verifies_or_raises_usersig_error(text: str) -> None:
    """Arbitrary text either verifies or raises UserSigError; nothing else escapes."""
    verifies_or_refuses(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=VARIANT_ALPHABET, max_size=400))
@example("eJw_")
def test_variant_alphabet_text_verifies_or_raises_usersig_error(text: str) -> None:
    """Text over the base64url-variant alphabet either verifies or raises UserSigError."""
    verifies_or_refuses(text)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_valid_sig_verifies_or_raises_usersig_error(data: st.DataObject) -> None:
    """A valid sig with characters replaced, inserted or deleted verifies or raises UserSigError."""
    chars = list(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars) - 1))
        c = data.draw(st.sampled_from(VARIANT_ALPHABET + "+/= é"))
        op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if op == "replace":
            chars[i] = c
        elif op == "insert":
            chars.insert(i, c)
        elif len(chars) > 1:
            del chars[i]
    verifies_or_refuses("".join(chars))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 9))
def test_any_zlib_payload_verifies_or_raises_usersig_error(payload: bytes, level: int) -> None:
    """Any well-packed zlib payload (JSON or not) either verifies or raises UserSigError."""
    verifies_or_refuses(pack(zlib.compress(payload, level)))


@settings(max_examples=100, deadline=None)
@given(
    identifier=st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=32
    ),
    sdkappid=st.integers(0, 2**63 - 1),
    expire=st.integers(0, 2**40),
    now=st.integers(0, 2**40),
    userbuf=st.none() | st.binary(max_size=64),
    key=st.text(min_size=1, max_size=64),
)
def test_gen_then_verify_round_trips(
    identifier: str, sdkappid: int, expire: int, now: int, userbuf: bytes | None, key: str
) -> None:
    """For any identifier, app, times and userbuf, gen_usersig then verify_usersig returns them."""
    sig = gen_usersig(sdkappid, key, identifier, expire=expire, now=now, userbuf=userbuf)
    doc = verify_usersig(sig, sdkappid=sdkappid, key=key, identifier=identifier, now=now + expire)
    assert (doc.sdkappid, doc.identifier, doc.time, doc.expire, doc.userbuf) == (
        sdkappid,
        identifier,
        now,
        expire,
        userbuf,
    )
    assert doc == decode_usersig(sig)

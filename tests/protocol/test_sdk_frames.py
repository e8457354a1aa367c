"""The codec of Tencent's Chat SDK frames and its session tickets (protocol/tim/sdk.py,
protocol/tim/tickets.py): any input either decodes or is refused with the documented
exceptions, and what the server writes reads back."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.tim import sdk as S
from protocol.tim import sdk_push as P
from protocol.tim import tickets
from server.tim.sdk_commands import COMMANDS

REFUSALS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
heads = st.fixed_dictionaries(
    {"servcmd": st.sampled_from(sorted(COMMANDS)) | st.text(max_size=10)},
    optional={
        "seq": st.integers(min_value=-5, max_value=2**60) | st.text(max_size=3),
        "a2": st.text(max_size=20),
        "tinyid": st.text(max_size=20),
        "sdkappid": st.integers(min_value=-5, max_value=2**40),
    },
)


@settings(max_examples=300)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_decode_or_are_refused(data: bytes | str) -> None:
    """Arbitrary bytes or text are a frame or raise only the codec's refusals; the address of
    the error answer can always be read."""
    try:
        frame = S.decode_frame(data)
    except REFUSALS:
        pass
    else:
        assert isinstance(frame.head.servcmd, str) and frame.head.servcmd
    cmd, seq = S.peek_address(data)
    assert isinstance(cmd, str) and isinstance(seq, int) and seq >= 0


@settings(max_examples=300)
@given(heads, json_values)
def test_any_json_frame_decodes_or_is_refused_and_so_does_its_body(
    head: dict[str, Any], body: Any
) -> None:
    """A JSON frame with any head and body decodes or is refused; its body, against the
    type of its servcmd, decodes or is refused too, never with another error."""
    raw = json.dumps({"head": head, "body": body})
    try:
        frame = S.decode_frame(raw)
    except REFUSALS:
        return
    assert S.peek_address(raw) == (frame.head.servcmd, frame.head.seq)
    command = COMMANDS.get(frame.head.servcmd)
    if command is None:
        return
    try:
        S.decode_body(frame, command.body)
    except REFUSALS:
        pass


def test_deep_nesting_is_refused_and_still_addressed() -> None:
    """A body nested thousands deep is refused (no crash), and its servcmd and seq are found."""
    raw = (
        '{"head": {"servcmd": "openim.sendmsg", "seq": 9}, "body": '
        + "[" * 20000
        + "]" * 20000
        + "}"
    )
    with pytest.raises(REFUSALS):
        frame = S.decode_frame(raw)
        S.decode_body(frame, S.SendMsg)
    assert S.peek_address(raw) == ("openim.sendmsg", 9)


@given(st.text(max_size=40), st.integers(min_value=0, max_value=2**53))
def test_replies_echo_servcmd_and_seq(servcmd: str, seq: int) -> None:
    """An answer or an error reads back with the servcmd and seq it was given."""
    reply = json.loads(S.encode_error(servcmd, seq, 10004, "why"))
    assert reply == {
        "head": {"servcmd": servcmd, "seq": seq},
        "body": {"ActionStatus": "FAIL", "ErrorCode": 10004, "ErrorInfo": "why"},
    }


def test_pushes_carry_an_event_array_under_msg_push() -> None:
    """A push is im_open_push.msg_push with the items in EventArray."""
    event = P.C2CReceiptEvent(16, UserId="bob", PeerReadTime=5, C2cMsgInfo=[])
    push = json.loads(P.encode_push(3, [event]))
    assert push == {
        "head": {"servcmd": "im_open_push.msg_push", "seq": 3},
        "body": {
            "EventArray": [{"Event": 16, "UserId": "bob", "PeerReadTime": 5, "C2cMsgInfo": []}]
        },
    }


@given(
    st.integers(min_value=1, max_value=2**32 - 1),
    st.text(min_size=1, max_size=32),
    st.integers(min_value=0, max_value=2**40),
)
def test_an_a2key_verifies_with_its_key_until_it_expires(app: int, user: str, issued: int) -> None:
    """An A2Key reads back what it was issued for, with the key that signed it, until its
    expiry (inclusive); with another key, or a second later, it is refused."""
    a2 = tickets.issue_a2(app, user, "k" * 64, issued_s=issued, expires_s=issued + 100)
    claims = tickets.verify_a2(a2, "k" * 64, now_s=issued + 100)
    assert (claims.sdkappid, claims.user_id) == (app, user)
    with pytest.raises(tickets.TicketError) as expired:
        tickets.verify_a2(a2, "k" * 64, now_s=issued + 101)
    assert expired.value.expired
    with pytest.raises(tickets.TicketError) as forged:
        tickets.verify_a2(a2, "x" * 64, now_s=issued)
    assert not forged.value.expired


@settings(max_examples=300)
@given(st.text(max_size=120), st.integers(min_value=0, max_value=200))
def test_any_text_or_tampered_a2key_is_refused(text: str, position: int) -> None:
    """Any text is refused with TicketError alone; so is a genuine A2Key with a character
    changed anywhere."""
    for candidate in (text, f"a2.{text}", f"a2.{text}.{text}"):
        with pytest.raises(tickets.TicketError):
            tickets.verify_a2(candidate, "k" * 64, now_s=0)
    a2 = tickets.issue_a2(1400000000, "alice", "k" * 64, issued_s=0, expires_s=10)
    i = position % len(a2)
    changed = a2[:i] + ("A" if a2[i] != "A" else "B") + a2[i + 1 :]
    with pytest.raises(tickets.TicketError):
        tickets.verify_a2(changed, "k" * 64, now_s=0)


@given(st.integers(min_value=1, max_value=2**32 - 1), st.text(min_size=1, max_size=32))
def test_tinyids_are_stable_and_shaped_like_tencents(app: int, user: str) -> None:
    """A TinyId depends on app and user only and looks like Tencent's (2**57 and up, 18
    digits)."""
    t = tickets.tiny_id(app, user)
    assert t == tickets.tiny_id(app, user)
    assert 2**57 <= int(t) < 2**57 + 2**46 and len(t) == 18

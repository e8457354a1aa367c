"""The pbbp2 long-connection frame codec, checked against lark-oapi's own protobuf and client."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import lark_oapi as lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark_oapi.core.json import JSON
from lark_oapi.ws.client import Client as SdkWsClient
from lark_oapi.ws.client import _new_ping_frame
from lark_oapi.ws.model import Response as SdkResponse
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as PbFrame

from protocol.feishu.frames import (
    HEADER_BIZ_RT,
    MAX_FRAGMENT,
    MAX_WS_MESSAGE,
    METHOD_CONTROL,
    METHOD_DATA,
    Frame,
    FrameError,
    Header,
    ack_biz_rt,
    ack_code,
    decode_frame,
    encode_frame,
    event_frames,
    ping_frame,
    pong_frame,
    split_payload,
)

SDK_PING_SERVICE_7 = bytes.fromhex(
    "08 00 10 00 18 07 20 00 2a 0c 0a 04 74 79 70 65 12 04 70 69 6e 67"
)

_settings = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -------------------------------------------------------------------------------

uint64 = st.integers(0, (1 << 64) - 1)
int32 = st.integers(-(1 << 31), (1 << 31) - 1)
short_text = st.text(max_size=24)  # hypothesis' default alphabet has no lone surrogates
big_payloads = st.builds(
    lambda size, seed: random.Random(seed).randbytes(size),
    st.sampled_from([127, 128, 16_383, 16_384, 300_000, MAX_FRAGMENT]),
    st.integers(0, 1 << 32),
)
payloads = st.binary(max_size=64) | big_payloads
frames = st.builds(
    Frame,
    seq_id=uint64,
    log_id=uint64,
    service=int32,
    method=int32,
    headers=st.lists(st.tuples(short_text, short_text), max_size=6).map(tuple),
    payload_encoding=st.none() | short_text,
    payload_type=st.none() | short_text,
    payload=st.none() | payloads,
    log_id_new=st.none() | short_text,
)
small_frames = frames.filter(lambda f: f.payload is None or len(f.payload) < 100)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A valid encoding with a few bytes flipped, cut, inserted or deleted."""
    data = bytearray(encode_frame(draw(small_frames)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and at < len(data):
            del data[at]
    return bytes(data)


# --- SDK conversions ----------------------------------------------------------------------------


def to_pb(frame: Frame) -> Any:
    pb = PbFrame(SeqID=frame.seq_id, LogID=frame.log_id, service=frame.service, method=frame.method)
    for key, value in frame.headers:
        pb.headers.add(key=key, value=value)
    if frame.payload_encoding is not None:
        pb.payload_encoding = frame.payload_encoding
    if frame.payload_type is not None:
        pb.payload_type = frame.payload_type
    if frame.payload is not None:
        pb.payload = frame.payload
    if frame.log_id_new is not None:
        pb.LogIDNew = frame.log_id_new
    return pb


def from_pb(pb: Any) -> Frame:
    def opt(name: str) -> Any:
        return getattr(pb, name) if pb.HasField(name) else None

    return Frame(
        seq_id=pb.SeqID,
        log_id=pb.LogID,
        service=pb.service,
        method=pb.method,
        headers=tuple((h.key, h.value) for h in pb.headers),
        payload_encoding=opt("payload_encoding"),
        payload_type=opt("payload_type"),
        payload=opt("payload"),
        log_id_new=opt("LogIDNew"),
    )


def read_event(reader_open_id: str = "ou_2", message_ids: tuple[str, ...] = ("om_1",)) -> bytes:
    """A schema-2.0 im.message.message_read_v1 envelope (feishu.md §5.2), as UTF-8 JSON."""
    return json.dumps(
        {
            "schema": "2.0",
            "header": {
                "event_id": "ev_1",
                "create_time": "1700000001000",
                "event_type": "im.message.message_read_v1",
                "tenant_key": "tk",
                "app_id": "cli_test",
            },
            "event": {
                "reader": {
                    "reader_id": {"open_id": reader_open_id, "union_id": "on_2", "user_id": "u2"},
                    "read_time": "1700000001000",
                    "tenant_key": "tk",
                },
                "message_id_list": list(message_ids),
            },
        },
        ensure_ascii=False,
    ).encode()


class _RecordingConnection:
    """Stands in for the SDK's websocket: records what the client sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


def run_sdk_client(messages: list[bytes], seen: list[Any]) -> tuple[list[Frame], Any]:
    """Feed binary WS messages to a real lark-oapi ws.Client; return its decoded replies."""
    handler = (
        lark.EventDispatcherHandler.builder("", "")
        .register_p2_im_message_message_read_v1(seen.append)
        .build()
    )

    async def main() -> tuple[list[Frame], Any]:
        # Built inside the loop: the client's cache schedules a task on the current loop.
        client = SdkWsClient(
            "cli_test", "secret", event_handler=handler, log_level=lark.LogLevel.ERROR
        )
        conn = _RecordingConnection()
        client._conn = conn
        for message in messages:
            await client._handle_message(message)
        return [decode_frame(data) for data in conn.sent], client

    return asyncio.run(main())


# --- byte-level compatibility -------------------------------------------------------------------


def test_sdk_ping_bytes_decode_and_reencode() -> None:
    """The SDK's ping bytes for service 7 decode to a CONTROL ping and re-encode identically."""
    frame = decode_frame(SDK_PING_SERVICE_7)
    assert frame == Frame(
        seq_id=0, log_id=0, service=7, method=METHOD_CONTROL, headers=(("type", "ping"),)
    )
    assert frame.headers == (Header("type", "ping"),)
    assert frame.payload is None
    assert encode_frame(frame) == SDK_PING_SERVICE_7
    assert (
        encode_frame(ping_frame(7)) == SDK_PING_SERVICE_7 == _new_ping_frame(7).SerializeToString()
    )


def test_zero_required_fields_are_written() -> None:
    """Fields 1-4 are written even when 0, so the SDK can re-serialise the frame for its ack."""
    data = encode_frame(Frame(seq_id=0, log_id=0, service=0, method=0))
    assert data == bytes.fromhex("08 00 10 00 18 00 20 00")
    assert PbFrame.FromString(data).IsInitialized()


def test_negative_int32_is_a_ten_byte_varint() -> None:
    """A negative int32 is written as protobuf does (10-byte two's complement) and decodes back."""
    frame = Frame(seq_id=1, log_id=2, service=-1, method=-(1 << 31))
    data = encode_frame(frame)
    assert data[4:15] == b"\x18" + b"\xff" * 9 + b"\x01"
    assert data == to_pb(frame).SerializeToString()
    assert decode_frame(data) == frame


@_settings
@given(frames)
def test_our_encoding_is_the_sdk_encoding(frame: Frame) -> None:
    """Any frame we encode equals the SDK's serialisation byte for byte and parses back the same."""
    data = encode_frame(frame)
    assert data == to_pb(frame).SerializeToString()
    assert from_pb(PbFrame.FromString(data)) == frame


@_settings
@given(frames)
def test_sdk_serialisation_decodes_with_ours(frame: Frame) -> None:
    """Bytes the SDK serialises decode with ours to the same field values, presence included."""
    assert decode_frame(to_pb(frame).SerializeToString()) == frame


def test_sdk_style_ack_decodes_with_code_200() -> None:
    """An event frame re-serialised as the SDK acks it (biz_rt, code 200) decodes with that code."""
    [push] = event_frames(
        seq_id=41,
        log_id=42,
        service=7,
        message_id="msg_1",
        trace_id="tr_1",
        payload=read_event(),
        timestamp_ms=1_700_000_000_000,
    )
    pb = PbFrame.FromString(encode_frame(push))
    header = pb.headers.add()
    header.key, header.value = HEADER_BIZ_RT, "-3"
    pb.payload = JSON.marshal(SdkResponse(code=200)).encode()
    ack = decode_frame(pb.SerializeToString())
    assert ack.payload == b'{"code": 200}'
    assert ack_code(ack) == 200
    assert ack_biz_rt(ack) == -3
    assert (ack.seq_id, ack.log_id, ack.service, ack.method) == (41, 42, 7, METHOD_DATA)
    assert ack.headers == (*push.headers, (HEADER_BIZ_RT, "-3"))


def test_sdk_client_handles_and_acks_an_event_frame() -> None:
    """The real SDK client dispatches our event frame to its handler and acks it with code 200."""
    seen: list[Any] = []
    [push] = event_frames(
        seq_id=5,
        log_id=6,
        service=7,
        message_id="msg_1",
        trace_id="tr_1",
        payload=read_event("ou_reader", ("om_a", "om_b")),
        timestamp_ms=1_700_000_000_000,
    )
    [ack], _ = run_sdk_client([encode_frame(push)], seen)
    [event] = seen
    assert event.event.reader.reader_id.open_id == "ou_reader"
    assert event.event.message_id_list == ["om_a", "om_b"]
    assert ack_code(ack) == 200
    assert ack_biz_rt(ack) is not None
    assert (ack.seq_id, ack.log_id, ack.header("message_id")) == (5, 6, "msg_1")


def test_sdk_client_reassembles_fragments_and_acks_the_last_only() -> None:
    """Three fragments cut inside characters are joined by the SDK, handled once and acked once."""
    open_id = "ou_" + "\u00e9" * 200
    payload = read_event(open_id)
    run = payload.index("\u00e9".encode())

    def cuts_a_character(size: int) -> bool:
        return any(run < k * size < run + 400 and (k * size - run) % 2 for k in (1, 2))

    size = next(
        s
        for s in range(-(-len(payload) // 3), len(payload))
        if -(-len(payload) // s) == 3 and cuts_a_character(s)
    )
    pushes = event_frames(
        seq_id=9,
        log_id=10,
        service=7,
        message_id="msg_big",
        trace_id="tr",
        payload=payload,
        timestamp_ms=1,
        max_fragment=size,
    )
    assert len(pushes) == 3
    seen: list[Any] = []
    acks, _ = run_sdk_client([encode_frame(p) for p in pushes], seen)
    [event] = seen
    assert event.event.reader.reader_id.open_id == open_id
    [ack] = acks
    assert ack_code(ack) == 200
    assert ack.header("seq") == "2"
    assert ack.header("sum") == "3"


def test_sdk_client_acks_500_when_no_handler_matches() -> None:
    """An event type without a registered processor is acked with code 500 and no biz_rt header."""
    payload = read_event().replace(b"im.message.message_read_v1", b"im.message.receive_v1")
    [push] = event_frames(
        seq_id=1,
        log_id=1,
        service=7,
        message_id="m",
        trace_id="t",
        payload=payload,
        timestamp_ms=1,
    )
    [ack], _ = run_sdk_client([encode_frame(push)], [])
    assert ack_code(ack) == 500
    assert ack.header(HEADER_BIZ_RT) is None


def test_sdk_client_applies_pong_client_config() -> None:
    """A pong with a ClientConfig reconfigures the SDK client; a bare pong is accepted silently."""
    config = b'{"ReconnectCount":-1,"ReconnectInterval":5,"ReconnectNonce":0,"PingInterval":3}'
    sent, client = run_sdk_client(
        [encode_frame(pong_frame(7, None)), encode_frame(pong_frame(7, config))], []
    )
    assert sent == []
    assert client._ping_interval == 3
    assert client._reconnect_interval == 5


# --- acks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"code": 200}', 200),
        (b'{"code":500}', 500),
        (b'{"code":200,"headers":null,"data":null}', 200),
        (b'{"code":200,"data":"eyJ4IjoxfQ=="}', 200),
        (None, None),
        (b"", None),
        (b"not json", None),
        (b"[200]", None),
        (b'{"msg":"x"}', None),
        (b'{"code":"200"}', None),
        (b'{"code":true}', None),
        (b"\xff\xfe", None),
        (b"[" * 10_000 + b"]" * 10_000, None),
    ],
)
def test_ack_code_reads_an_integer_code_or_none(payload: bytes | None, code: int | None) -> None:
    """ack_code returns the payload's integer JSON code, else None, and never raises."""
    assert ack_code(Frame(seq_id=1, log_id=1, service=1, method=1, payload=payload)) == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        ("0", 0),
        ("-7", -7),
        ("+3", 3),
        ("", None),
        ("1.5", None),
        ("x", None),
        ("9" * 5000, None),
    ],
)
def test_ack_biz_rt_tolerates_any_integer_string(value: str, expected: int | None) -> None:
    """biz_rt is read as any decimal integer, negative included (Node), and None when unparsable."""
    frame = Frame(seq_id=1, log_id=1, service=1, method=1, headers=((HEADER_BIZ_RT, value),))
    assert ack_biz_rt(frame) == expected
    assert ack_biz_rt(Frame(seq_id=1, log_id=1, service=1, method=1)) is None


# --- fragmentation ---------------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=2000), st.integers(1, 300))
def test_split_payload_respects_max_and_restores_bytes(payload: bytes, max_fragment: int) -> None:
    """Fragments are non-empty, at most max_fragment bytes, and concatenate back to the payload."""
    fragments = split_payload(payload, max_fragment)
    assert b"".join(fragments) == payload
    assert all(0 < len(f) <= max_fragment for f in fragments)
    assert len(fragments) == -(-len(payload) // max_fragment)
    if len(payload) <= max_fragment:
        assert fragments == [payload]


@pytest.mark.parametrize(("payload", "max_fragment"), [(b"", 10), (b"x", 0), (b"x", -1)])
def test_split_payload_rejects_empty_payload_and_bad_max(payload: bytes, max_fragment: int) -> None:
    """An empty payload (it would never complete) and a max below 1 raise ValueError."""
    with pytest.raises(ValueError):
        split_payload(payload, max_fragment)


@given(st.binary(min_size=1, max_size=500), st.integers(1, 64))
def test_event_frames_number_fragments_under_one_message_id(
    payload: bytes, max_fragment: int
) -> None:
    """event_frames emits one DATA frame per fragment, headers type..timestamp with sum and seq."""
    pushes = event_frames(
        seq_id=3,
        log_id=4,
        service=7,
        message_id="mid",
        trace_id="tid",
        payload=payload,
        timestamp_ms=1_700_000_000_123,
        max_fragment=max_fragment,
    )
    total = str(len(pushes))
    for index, push in enumerate(pushes):
        assert push.headers == (
            ("type", "event"),
            ("message_id", "mid"),
            ("sum", total),
            ("seq", str(index)),
            ("trace_id", "tid"),
            ("timestamp", "1700000000123"),
        )
        assert (push.seq_id, push.log_id, push.service, push.method) == (3, 4, 7, METHOD_DATA)
    assert b"".join(p.payload or b"" for p in pushes) == payload


def test_default_fragments_fit_in_one_websocket_message() -> None:
    """With the default max_fragment every encoded event frame fits the SDK's 1 MiB limit."""
    payload = random.Random(0).randbytes(2 * MAX_WS_MESSAGE + 5)
    pushes = event_frames(
        seq_id=(1 << 64) - 1,
        log_id=(1 << 64) - 1,
        service=-1,
        message_id="m" * 64,
        trace_id="t" * 64,
        payload=payload,
        timestamp_ms=1_700_000_000_000,
    )
    assert len(pushes) == 3
    assert all(len(encode_frame(p)) <= MAX_WS_MESSAGE for p in pushes)


# --- rejection of malformed input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_bytes", "reason"),
    [
        ("", "missing required"),
        ("0800 1000 1807", "missing required"),
        ("0800 1000 1807 2000 2a02 0a00", "without value"),
        ("0800 1000 1807 2000 2a02 1200", "without key"),
        ("0800 1000 1807 2000 2a03 0a01ff 1200", "UTF-8"),
        ("0800 1000 1807 2000 3201 ff", "UTF-8"),
        ("0800 1000 1807 2000 2a05 0a01", "overruns"),
        ("0800 1000 1807 2000 4205 00", "overruns"),
        ("08ff", "truncated varint"),
        ("08" + "ff" * 10 + "01 1000 1800 2000", "longer than 10"),
        ("0a00 1000 1800 2000", "wire type"),
        ("0800 1000 1800 2200", "wire type"),
        ("0800 1000 1800 2000 2800", "wire type"),
        ("0800 1000 1800 2000 0000", "field number 0"),
        ("0800 1000 1800 2000 5b", "wire type"),
        ("0800 1000 1800 2000 5e00", "wire type"),
        ("0800 1000 1800 2000 5901", "truncated fixed"),
    ],
)
def test_decode_rejects_malformed_frames(hex_bytes: str, reason: str) -> None:
    """Truncation, bad varints or wire types, missing fields and bad UTF-8 raise FrameError."""
    with pytest.raises(FrameError, match=reason):
        decode_frame(bytes.fromhex(hex_bytes))


def test_decode_skips_unknown_fields_of_valid_wire_types() -> None:
    """Unknown varint, fixed64, bytes and fixed32 fields are skipped in frames and headers."""
    unknown = bytes.fromhex("5801 610102030405060708 6a03616263 6d01020304")
    header = bytes.fromhex("0a0174 1a00 12017a")
    data = (
        bytes.fromhex("0801 1002 1803 2001")
        + unknown
        + b"\x2a"
        + bytes([len(header)])
        + header
        + bytes.fromhex("0801")  # a repeated scalar keeps its last value, as in protobuf
    )
    assert decode_frame(data) == Frame(
        seq_id=1, log_id=2, service=3, method=1, headers=(("t", "z"),)
    )


@pytest.mark.parametrize(
    "frame",
    [
        Frame(seq_id=-1, log_id=0, service=0, method=0),
        Frame(seq_id=0, log_id=1 << 64, service=0, method=0),
        Frame(seq_id=0, log_id=0, service=1 << 31, method=0),
        Frame(seq_id=0, log_id=0, service=0, method=-(1 << 31) - 1),
        Frame(seq_id=0, log_id=0, service=0, method=0, headers=(("k", "\ud800"),)),
        Frame(seq_id=0, log_id=0, service=0, method=0, log_id_new="\udfff"),
    ],
)
def test_encode_rejects_out_of_range_integers_and_lone_surrogates(frame: Frame) -> None:
    """Integers outside uint64/int32 and strings that are not UTF-8 encodable raise FrameError."""
    with pytest.raises(FrameError):
        encode_frame(frame)


@_settings
@given(st.binary(max_size=200) | mutated_frames())
def test_arbitrary_bytes_decode_or_raise_frame_error(data: bytes) -> None:
    """Any bytes decode to a frame that re-encodes stably or raise FrameError, nothing else."""
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    assert decode_frame(encode_frame(frame)) == frame


def test_header_returns_first_value_or_none() -> None:
    """Frame.header returns the first value for a repeated key and None when the key is absent."""
    headers = (("a", "1"), ("b", "2"), ("a", "3"))
    frame = Frame(seq_id=0, log_id=0, service=0, method=0, headers=headers)
    assert frame.header("a") == "1"
    assert frame.header("c") is None

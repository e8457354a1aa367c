"""The ``pbbp2`` frame codec of Feishu's long-connection (WebSocket) event mode.

This module owns the binary frames exchanged on the long connection (feishu.md §3.5-3.9):

* :class:`Frame` and :class:`Header`, the proto2 messages ``pbbp2.Frame`` and ``pbbp2.Header``;
* :func:`encode_frame` and :func:`decode_frame`, a hand-written protobuf codec that matches the
  SDKs' generated code byte for byte on the fields they know;
* :func:`split_payload`, the fragmentation of large event payloads (``sum``/``seq`` headers);
* builders for the frames the server sends (:func:`pong_frame`, :func:`event_frames`) and
  readers for the client's ack (:func:`ack_code`, :func:`ack_biz_rt`).

Wire layout (proto2)::

    Header { required string key = 1; required string value = 2; }
    Frame  { required uint64 SeqID = 1; required uint64 LogID = 2;
             required int32 service = 3; required int32 method = 4;
             repeated Header headers = 5;
             optional string payload_encoding = 6; optional string payload_type = 7;
             optional bytes payload = 8; optional string LogIDNew = 9; }

The encoder always writes fields 1-4, even when they are 0: they are proto2 ``required``, and the
Python SDK acks by re-serialising the frame it received, which fails when one is missing.
Integers follow protobuf: a negative int32 is a 10-byte two's complement varint, a decoded
uint64 keeps its low 64 bits and a decoded int32 its low 32 bits, sign-extended.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

import msgspec

from protocol import codec

__all__ = [
    "HEADER_BIZ_RT",
    "HEADER_MESSAGE_ID",
    "HEADER_SEQ",
    "HEADER_SUM",
    "HEADER_TIMESTAMP",
    "HEADER_TRACE_ID",
    "HEADER_TYPE",
    "MAX_FRAGMENT",
    "MAX_WS_MESSAGE",
    "METHOD_CONTROL",
    "METHOD_DATA",
    "TYPE_CARD",
    "TYPE_EVENT",
    "TYPE_PING",
    "TYPE_PONG",
    "Frame",
    "FrameError",
    "Header",
    "ack_biz_rt",
    "ack_code",
    "decode_frame",
    "encode_frame",
    "event_frames",
    "ping_frame",
    "pong_frame",
    "split_payload",
]

METHOD_CONTROL: Final = 0
"""``Frame.method`` of ping and pong frames."""
METHOD_DATA: Final = 1
"""``Frame.method`` of event (and card) frames and of their acks."""

HEADER_TYPE: Final = "type"
HEADER_MESSAGE_ID: Final = "message_id"
HEADER_SUM: Final = "sum"
HEADER_SEQ: Final = "seq"
HEADER_TRACE_ID: Final = "trace_id"
HEADER_TIMESTAMP: Final = "timestamp"
HEADER_BIZ_RT: Final = "biz_rt"

TYPE_PING: Final = "ping"
TYPE_PONG: Final = "pong"
TYPE_EVENT: Final = "event"
TYPE_CARD: Final = "card"

MAX_WS_MESSAGE: Final = 1 << 20
"""The largest WebSocket message the Python SDK accepts (``websockets`` default ``max_size``)."""
MAX_FRAGMENT: Final = MAX_WS_MESSAGE - 4096
"""Default payload bytes per event frame: 4 KiB stay free for the other fields and headers."""

_UINT64_MASK: Final = (1 << 64) - 1
_INT32_MIN: Final = -(1 << 31)
_INT32_MAX: Final = (1 << 31) - 1
_INT32_MASK: Final = (1 << 32) - 1
_INT32_SIGN: Final = 1 << 31

_VARINT: Final = 0
_FIXED64: Final = 1
_LEN: Final = 2
_FIXED32: Final = 5

_REQUIRED_FIELDS: Final = {1: "SeqID", 2: "LogID", 3: "service", 4: "method"}
_STRING_FIELDS: Final = {6: "payload_encoding", 7: "payload_type", 9: "LogIDNew"}
_INTEGER = re.compile(r"[+-]?[0-9]+")


class FrameError(ValueError):
    """A frame that cannot be encoded or decoded; the message names the offending field."""


class Header(NamedTuple):
    """One ``pbbp2.Header``: a key/value pair, usable wherever a ``(key, value)`` tuple is."""

    key: str
    value: str


class Frame(msgspec.Struct, frozen=True):
    """One ``pbbp2.Frame``; ``None`` marks an absent optional field (proto2 presence)."""

    seq_id: int
    log_id: int
    service: int
    method: int
    headers: tuple[tuple[str, str], ...] = ()
    payload_encoding: str | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    log_id_new: str | None = None

    def header(self, key: str) -> str | None:
        """Return the value of the first header named ``key``, or ``None`` if there is none."""
        for k, v in self.headers:
            if k == key:
                return v
        return None


# --- encoding ---------------------------------------------------------------------------------


def _put_varint(out: bytearray, n: int) -> None:
    n &= _UINT64_MASK  # negative int32 -> 64-bit two's complement, as protobuf writes it
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_len(out: bytearray, field: int, data: bytes) -> None:
    _put_varint(out, (field << 3) | _LEN)
    _put_varint(out, len(data))
    out += data


def _utf8(value: str, name: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FrameError(f"{name} is not encodable as UTF-8: {value!r}") from exc


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise FrameError(f"{name}={value} is outside [{low}, {high}]")


def encode_frame(frame: Frame) -> bytes:
    """Serialise ``frame`` as protobuf ``pbbp2.Frame`` bytes, fields in number order.

    Fields 1-4 are always written, and every header carries both ``key`` and ``value``.
    Optional fields are written when they are not ``None`` (an empty string or payload is
    written as present). Raises :class:`FrameError` when ``seq_id``/``log_id`` is outside
    uint64, ``service``/``method`` outside int32, or a string is not encodable as UTF-8
    (a lone surrogate).
    """
    _check_range("seq_id", frame.seq_id, 0, _UINT64_MASK)
    _check_range("log_id", frame.log_id, 0, _UINT64_MASK)
    _check_range("service", frame.service, _INT32_MIN, _INT32_MAX)
    _check_range("method", frame.method, _INT32_MIN, _INT32_MAX)
    out = bytearray(b"\x08")
    _put_varint(out, frame.seq_id)
    out.append(0x10)
    _put_varint(out, frame.log_id)
    out.append(0x18)
    _put_varint(out, frame.service)
    out.append(0x20)
    _put_varint(out, frame.method)
    for key, value in frame.headers:
        entry = bytearray()
        _put_len(entry, 1, _utf8(key, "header key"))
        _put_len(entry, 2, _utf8(value, f"header {key!r} value"))
        _put_len(out, 5, bytes(entry))
    if frame.payload_encoding is not None:
        _put_len(out, 6, _utf8(frame.payload_encoding, "payload_encoding"))
    if frame.payload_type is not None:
        _put_len(out, 7, _utf8(frame.payload_type, "payload_type"))
    if frame.payload is not None:
        _put_len(out, 8, frame.payload)
    if frame.log_id_new is not None:
        _put_len(out, 9, _utf8(frame.log_id_new, "log_id_new"))
    return bytes(out)


# --- decoding ---------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise FrameError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _UINT64_MASK, pos
        shift += 7
        if shift >= 64:
            raise FrameError("varint longer than 10 bytes")


def _read_tag(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    tag, pos = _read_varint(buf, pos, end)
    field, wire_type = tag >> 3, tag & 7
    if field == 0:
        raise FrameError("field number 0")
    return field, wire_type, pos


def _read_len(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length, pos = _read_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise FrameError(f"length-delimited field of {length} bytes overruns the frame")
    return buf[pos:stop], stop


def _skip(buf: bytes, pos: int, end: int, field: int, wire_type: int) -> int:
    if wire_type == _VARINT:
        return _read_varint(buf, pos, end)[1]
    if wire_type == _LEN:
        return _read_len(buf, pos, end)[1]
    size = {_FIXED64: 8, _FIXED32: 4}.get(wire_type)
    if size is None:  # 3/4 are the deprecated groups, 6/7 do not exist
        raise FrameError(f"field {field} has unsupported wire type {wire_type}")
    if pos + size > end:
        raise FrameError(f"truncated fixed-width field {field}")
    return pos + size


def _expect(field: int, wire_type: int, expected: int) -> None:
    if wire_type != expected:
        raise FrameError(f"field {field} has wire type {wire_type}, expected {expected}")


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError(f"{name} is not valid UTF-8") from exc


def _int32(n: int) -> int:
    n &= _INT32_MASK
    return (n ^ _INT32_SIGN) - _INT32_SIGN


def _decode_header(buf: bytes) -> Header:
    key: str | None = None
    value: str | None = None
    pos, end = 0, len(buf)
    while pos < end:
        field, wire_type, pos = _read_tag(buf, pos, end)
        if field in (1, 2):
            _expect(field, wire_type, _LEN)
            raw, pos = _read_len(buf, pos, end)
            if field == 1:
                key = _text(raw, "header key")
            else:
                value = _text(raw, "header value")
        else:
            pos = _skip(buf, pos, end, field, wire_type)
    if key is None:
        raise FrameError("header without key")
    if value is None:
        raise FrameError(f"header {key!r} without value")
    return Header(key, value)


def decode_frame(data: bytes) -> Frame:
    """Parse protobuf ``pbbp2.Frame`` bytes into a :class:`Frame`.

    Unknown fields of wire types varint, fixed64, length-delimited and fixed32 are skipped;
    a repeated scalar field keeps its last value, as in protobuf. Raises :class:`FrameError`
    on truncation, a varint longer than 10 bytes, field number 0, a group or invalid wire
    type, a known field with the wrong wire type, a missing required field (SeqID, LogID,
    service, method, or a header's key or value), or a string field that is not valid UTF-8.
    """
    buf = bytes(data)
    pos, end = 0, len(buf)
    ints: dict[int, int] = {}
    headers: list[Header] = []
    strings: dict[int, str] = {}
    payload: bytes | None = None
    while pos < end:
        field, wire_type, pos = _read_tag(buf, pos, end)
        if 1 <= field <= 4:
            _expect(field, wire_type, _VARINT)
            ints[field], pos = _read_varint(buf, pos, end)
        elif 5 <= field <= 9:
            _expect(field, wire_type, _LEN)
            raw, pos = _read_len(buf, pos, end)
            if field == 5:
                headers.append(_decode_header(raw))
            elif field == 8:
                payload = raw
            else:
                strings[field] = _text(raw, _STRING_FIELDS[field])
        else:
            pos = _skip(buf, pos, end, field, wire_type)
    missing = [name for number, name in _REQUIRED_FIELDS.items() if number not in ints]
    if missing:
        raise FrameError(f"missing required field(s): {', '.join(missing)}")
    return Frame(
        seq_id=ints[1],
        log_id=ints[2],
        service=_int32(ints[3]),
        method=_int32(ints[4]),
        headers=tuple(headers),
        payload_encoding=strings.get(6),
        payload_type=strings.get(7),
        payload=payload,
        log_id_new=strings.get(9),
    )


# --- fragmentation and the frames the server sends --------------------------------------------


def split_payload(payload: bytes, max_fragment: int) -> list[bytes]:
    """Cut ``payload`` into fragments of at most ``max_fragment`` bytes, in order.

    Every fragment is non-empty (the SDKs treat an empty slot as missing) and their
    concatenation is ``payload``; a payload that fits is returned as ``[payload]``. Cuts fall
    anywhere, even inside a UTF-8 sequence: the SDKs join raw bytes before decoding. Raises
    ``ValueError`` if ``payload`` is empty or ``max_fragment`` is less than 1.
    """
    if max_fragment < 1:
        raise ValueError(f"max_fragment must be at least 1, got {max_fragment}")
    if not payload:
        raise ValueError("cannot split an empty payload: an empty fragment never completes")
    if len(payload) <= max_fragment:
        return [payload]
    return [payload[i : i + max_fragment] for i in range(0, len(payload), max_fragment)]


def ping_frame(service: int) -> Frame:
    """Build the ping a client sends: CONTROL, ``type=ping``, SeqID and LogID 0, no payload."""
    return Frame(
        seq_id=0,
        log_id=0,
        service=service,
        method=METHOD_CONTROL,
        headers=((HEADER_TYPE, TYPE_PING),),
    )


def pong_frame(service: int, client_config: bytes | None) -> Frame:
    """Build the server's pong: CONTROL, ``type=pong``, SeqID and LogID 0.

    ``client_config`` is the UTF-8 JSON ``ClientConfig`` (all four of ``ReconnectCount``,
    ``ReconnectInterval``, ``ReconnectNonce``, ``PingInterval``), or ``None`` for a bare pong.
    """
    return Frame(
        seq_id=0,
        log_id=0,
        service=service,
        method=METHOD_CONTROL,
        headers=((HEADER_TYPE, TYPE_PONG),),
        payload=client_config,
    )


def event_frames(
    *,
    seq_id: int,
    log_id: int,
    service: int,
    message_id: str,
    trace_id: str,
    payload: bytes,
    timestamp_ms: int,
    max_fragment: int = MAX_FRAGMENT,
) -> list[Frame]:
    """Build the DATA frames that push one event, one frame per fragment of ``payload``.

    Headers, in order: ``type=event``, ``message_id``, ``sum`` (fragment count), ``seq``
    (0-based index), ``trace_id``, ``timestamp`` (ms). All fragments share ``message_id``,
    ``seq_id`` and ``log_id``; the client acks only the fragment that completes the message,
    echoing them. Send them in order within 5 s. Raises ``ValueError`` (from
    :func:`split_payload`) for an empty payload or a ``max_fragment`` below 1.
    """
    fragments = split_payload(payload, max_fragment)
    total = str(len(fragments))
    return [
        Frame(
            seq_id=seq_id,
            log_id=log_id,
            service=service,
            method=METHOD_DATA,
            headers=(
                (HEADER_TYPE, TYPE_EVENT),
                (HEADER_MESSAGE_ID, message_id),
                (HEADER_SUM, total),
                (HEADER_SEQ, str(index)),
                (HEADER_TRACE_ID, trace_id),
                (HEADER_TIMESTAMP, str(timestamp_ms)),
            ),
            payload=fragment,
        )
        for index, fragment in enumerate(fragments)
    ]


# --- the client's ack ------------------------------------------------------------------------


class _AckPayload(msgspec.Struct):
    code: int | None = None


_ACK_DECODER: Final = codec.Decoder(_AckPayload)


def ack_code(frame: Frame) -> int | None:
    """Return the integer ``code`` of an ack's JSON payload (200 handled, 500 failed).

    Returns ``None`` when there is no payload, it is not a JSON object, or ``code`` is absent
    or not an integer. Other members (Go's ``headers``/``data``) are ignored. Never raises.
    """
    if frame.payload is None:
        return None
    try:
        return _ACK_DECODER.decode(frame.payload).code
    except msgspec.DecodeError:
        return None


def ack_biz_rt(frame: Frame) -> int | None:
    """Return the client's handling time from the ``biz_rt`` header, in ms.

    Any decimal integer string is accepted, including negative values (Node sends
    ``start - end``). Returns ``None`` when the header is absent or not an integer.
    """
    value = frame.header(HEADER_BIZ_RT)
    if value is None or _INTEGER.fullmatch(value) is None:
        return None
    try:
        return int(value)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return None

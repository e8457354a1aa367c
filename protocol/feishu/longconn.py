"""The endpoint discovery of Feishu's long-connection mode (feishu.md §3.2-3.4).

Before it opens the WebSocket, ``lark.ws.Client`` posts ``{"AppID", "AppSecret"}`` to
``/callback/ws/endpoint`` and reads ``{"code", "msg", "data": {"URL", "ClientConfig"}}``.
Key names are case-exact. All four ``ClientConfig`` integers must always be sent: the Python SDK
copies each without a default, and a missing one later fails inside its ping or reconnect loop.
A refused WebSocket upgrade is a plain HTTP answer carrying ``handshake-*`` headers.
The same ``ClientConfig`` JSON is the optional payload of a pong frame (``frames.pong_frame``).

Result codes the SDK knows (``lark_oapi/ws/const.py``): 0 OK; 1 (system busy) and 1000040343
(internal error) make it retry; **any other non-zero code is fatal** (``ClientException``, and
``start()`` re-raises it).
"""

from __future__ import annotations

from typing import Final

import msgspec

from protocol import codec

__all__ = [
    "CODE_INTERNAL_ERROR",
    "CODE_OK",
    "CODE_SYSTEM_BUSY",
    "DISCOVERY_PATH",
    "EXCEED_CONN_LIMIT",
    "HANDSHAKE_AUTH_FAILED",
    "HANDSHAKE_FORBIDDEN",
    "HEADER_HANDSHAKE_AUTH_ERRCODE",
    "HEADER_HANDSHAKE_MSG",
    "HEADER_HANDSHAKE_STATUS",
    "RETRYABLE_CODES",
    "ClientConfig",
    "Endpoint",
    "EndpointRequest",
    "decode_endpoint_request",
    "encode_client_config",
]

DISCOVERY_PATH: Final = "/callback/ws/endpoint"

CODE_OK: Final = 0
CODE_SYSTEM_BUSY: Final = 1
CODE_INTERNAL_ERROR: Final = 1000040343
RETRYABLE_CODES: Final = frozenset({CODE_SYSTEM_BUSY, CODE_INTERNAL_ERROR})
"""Non-zero discovery codes after which the SDK tries again; every other one is fatal."""

# A refused WebSocket upgrade (feishu.md §3.10): a non-101 HTTP answer with these headers.
HEADER_HANDSHAKE_STATUS: Final = "handshake-status"
HEADER_HANDSHAKE_MSG: Final = "handshake-msg"
HEADER_HANDSHAKE_AUTH_ERRCODE: Final = "handshake-autherrcode"
HANDSHAKE_FORBIDDEN: Final = 403
"""``handshake-status`` that the SDKs treat as fatal (no reconnect)."""
HANDSHAKE_AUTH_FAILED: Final = 514
"""``handshake-status`` that needs ``handshake-autherrcode``: fatal with
:data:`EXCEED_CONN_LIMIT`, retried with any other code."""
EXCEED_CONN_LIMIT: Final = 1000040350


class EndpointRequest(msgspec.Struct, frozen=True):
    """The discovery body. ``ClientAssertion`` replaces the secret in client-assertion mode."""

    app_id: str = msgspec.field(default="", name="AppID")
    app_secret: str = msgspec.field(default="", name="AppSecret")
    client_assertion: str = msgspec.field(default="", name="ClientAssertion")


class ClientConfig(msgspec.Struct, frozen=True, rename="pascal"):
    """Reconnect and ping settings, all in seconds. ``reconnect_count`` -1 retries forever; 0
    makes the Python SDK give up without a single attempt."""

    reconnect_count: int
    reconnect_interval: int
    reconnect_nonce: int
    ping_interval: int


class Endpoint(msgspec.Struct, frozen=True):
    """``data`` of a successful discovery: the WebSocket URL and the client's settings."""

    url: str = msgspec.field(name="URL")
    client_config: ClientConfig = msgspec.field(name="ClientConfig")


_encoder: Final = msgspec.json.Encoder()
_request_decoder: Final = codec.Decoder(EndpointRequest)


def decode_endpoint_request(body: bytes) -> EndpointRequest:
    """Parse a discovery body (whatever its ``Content-Type``; Go sends none).

    Raises ``msgspec.DecodeError`` (a ``ValueError``) when the body is not a JSON object or a
    field is not a string; unknown members are ignored."""
    return _request_decoder.decode(body)


def encode_client_config(config: ClientConfig) -> bytes:
    """UTF-8 JSON of ``config`` with all four keys, as discovery ``data`` and pong payloads."""
    return _encoder.encode(config)

"""The open-apis answer: ``{"code", "msg", "data"}`` JSON with an ``X-Tt-Logid`` header, always."""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


def log_id() -> str:
    """A Feishu-looking log id (time + random hex)."""
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def feishu_envelope(
    status: int, code: int, msg: str, data: Any = None, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer in Feishu's envelope. ``X-Tt-Logid`` is sent in exactly that casing, which
    the Python SDK's sync ``get_log_id()`` looks up."""
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return feishu_json(status, body, headers)


def feishu_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """Any JSON body (the token endpoints answer flat, without ``data``) with ``X-Tt-Logid``."""
    response = Response(
        _encoder.encode(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )
    # Starlette lowercases header names; uvicorn (h11) writes raw names as given. The SDK's sync
    # get_log_id() and generic client.request() look up "X-Tt-Logid" and "Content-Type" exactly.
    response.raw_headers[:] = [
        (b"Content-Type", value) if name == b"content-type" else (name, value)
        for name, value in response.raw_headers
    ]
    response.raw_headers.append((b"X-Tt-Logid", log_id().encode()))
    return response

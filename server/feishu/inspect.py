"""Inspection endpoints: the events emitted for each app and every delivery attempt.

* ``GET /sim/v1/events?app_id=<app>[&after=<outbox id>][&limit=<n>]``: the Feishu events the
  app receives, oldest first: ``{"outbox_id", "event_id", "event_type", "create_time",
  "payload"}`` where ``payload`` is the plaintext schema-2.0 event (before encryption). They
  are rendered from the stored neutral events as this request runs, by the same renderer the
  delivery uses (membership is asked of the core now). ``next_after`` pages on.
* ``GET /sim/v1/deliveries?app_id=<app>[&limit=<n>]``: the newest delivery attempts of the
  app's channel (its webhook, or its long connection), oldest first: ``{"time", "ok", "status", "detail", "outbox_id", "event_id"}``; the webhook's
  url_verification is the attempt with ``outbox_id`` 0 and ``event_id`` "url_verification".

Both answer in the open-apis envelope ``{"code": 0, "msg": "success", "data": {...}}``; a
missing or malformed parameter is HTTP 400, an unknown app HTTP 404 (``code`` = the status).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from protocol import codec
from server.feishu.envelope import feishu_envelope
from server.feishu.events import RENDERED_TYPES
from server.feishu.webhook import VERIFICATION_EVENT, channel_name
from server.settings import FeishuAppSettings

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect

MAX_LIMIT = 500
SCAN = 2000  # stored events looked at per request, at most (most are not for any bot)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    value = codec.parse_uint(text)
    if value is None:
        raise _BadRequest(400, f"{name}={text!r} is not an integer")
    if not low <= value <= high:
        raise _BadRequest(400, f"{name}={value} is out of range {low}..{high}")
    return value


def _app(dialect: FeishuDialect, request: Request) -> FeishuAppSettings:
    app_id = request.query_params.get("app_id")
    if not app_id:
        raise _BadRequest(400, "app_id is required")
    app = dialect.apps.get(app_id)
    if app is None:
        raise _BadRequest(404, f"app_id {app_id!r} is not a configured app")
    return app


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    core = dialect.core

    async def events(request: Request) -> Response:
        try:
            app = _app(dialect, request)
            after = _int(request, "after", 0, 0, 2**63 - 1)
            limit = _int(request, "limit", 100, 1, MAX_LIMIT)
        except _BadRequest as exc:
            return feishu_envelope(exc.status, exc.status, str(exc))
        items: list[dict[str, Any]] = []
        scanned = 0
        more = True
        while more and len(items) < limit and scanned < SCAN:
            batch = await core.event_log.events(
                app.workspace, types=RENDERED_TYPES, after_id=after, limit=200
            )
            more = len(batch) == 200
            for stored in batch:
                scanned += 1
                after = stored.id
                for body in await dialect.renderer.render(app, stored):
                    header = msgspec.json.decode(body)["header"]
                    items.append(
                        {
                            "outbox_id": stored.id,
                            "event_id": header["event_id"],
                            "event_type": header["event_type"],
                            "create_time": header["create_time"],
                            "payload": msgspec.Raw(body),
                        }
                    )
                if len(items) >= limit:
                    more = more or stored is not batch[-1]
                    break
        data = {"app_id": app.app_id, "items": items, "next_after": after, "has_more": more}
        return feishu_envelope(200, 0, "success", data)

    async def deliveries(request: Request) -> Response:
        try:
            app = _app(dialect, request)
            limit = _int(request, "limit", 100, 1, MAX_LIMIT)
        except _BadRequest as exc:
            return feishu_envelope(exc.status, exc.status, str(exc))
        # the webhook channel, or the long connection's (server/feishu/longconn.py)
        channel = channel_name(app.app_id) if app.event_url else f"feishu-ws:{app.app_id}"
        attempts = await core.event_log.attempts(channel, limit=limit)
        items = [
            {
                "time": a.time_ms,
                "ok": a.ok,
                "status": a.status,
                "detail": a.detail,
                "outbox_id": a.event_id,
                "event_id": (
                    "url_verification"
                    if a.event_id == VERIFICATION_EVENT
                    else dialect.event_id(app, a.event_id)
                ),
            }
            for a in reversed(attempts)
        ]
        gone, events_gone = (
            await core.event_log.pruned_attempts(channel),
            await core.event_log.pruned_events(app.workspace),
        )
        data = {
            "app_id": app.app_id,
            "channel": channel,
            "items": items,
            # what retention deleted so far ([server] retention_days / retention_rows): the
            # channel's attempts, and the workspace's delivered events (the newest time of each)
            "pruned": {
                "attempts": gone.rows,
                "attempts_upto": gone.upto_ms,
                "events": events_gone.rows,
                "events_upto": events_gone.upto_ms,
            },
        }
        return feishu_envelope(200, 0, "success", data)

    return [
        Route("/sim/v1/events", events, methods=["GET"]),
        Route("/sim/v1/deliveries", deliveries, methods=["GET"]),
    ]

"""The TIM REST API: ``POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=&random=&contenttype=json``.

The prelude checks the URL, the admin's UserSig and the body, then one handler translates the
command into a core call. Every answer is HTTP 200 with TIM's envelope
(``ActionStatus``/``ErrorCode``/``ErrorInfo``), failures included.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from protocol import codec
from protocol.tim import errors as E
from protocol.tim import rest as R
from server.core.errors import CoreError
from server.core.service import Core
from server.tim import accounts, groups, messages, reads, receipts
from server.tim.auth import TimApps, TimError
from server.tim.context import Caller
from server.tim.errors import ADMIN_REQUIRED, JSON_ERROR, code_for, shape_code_of

log = logging.getLogger("server.tim.rest")

Handler = Callable[[Caller, Any], Awaitable[R.Envelope]]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("im_open_login_svc", "account_import"): accounts.account_import,
    ("im_open_login_svc", "multiaccount_import"): accounts.multiaccount_import,
    ("group_open_http_svc", "create_group"): groups.create_group,
    ("group_open_http_svc", "add_group_member"): groups.add_group_member,
    ("group_open_http_svc", "delete_group_member"): groups.delete_group_member,
    ("group_open_http_svc", "destroy_group"): groups.destroy_group,
    ("group_open_http_svc", "get_group_member_info"): groups.get_group_member_info,
    ("group_open_http_svc", "send_group_msg"): messages.send_group_msg,
    ("group_open_http_svc", "group_msg_get_simple"): messages.group_msg_get_simple,
    ("group_open_http_svc", "get_group_msg_receipt"): receipts.get_group_msg_receipt,
    ("group_open_http_svc", "get_group_msg_receipt_detail"): receipts.get_group_msg_receipt_detail,
    ("group_open_http_svc", "group_msg_receipt"): receipts.group_msg_receipt,
    ("openim", "sendmsg"): messages.sendmsg,
    ("openim", "admin_getroammsg"): messages.admin_getroammsg,
    ("openim", "c2c_msg_read_receipt"): receipts.c2c_msg_read_receipt,
    ("openim", "admin_set_msg_read"): reads.admin_set_msg_read,
    ("openim", "get_c2c_unread_msg_num"): reads.get_c2c_unread_msg_num,
}
assert set(HANDLERS) == set(R.REQUESTS), "every REST body type needs a handler"
SERVICES = {service for service, _ in HANDLERS}

_encoder = msgspec.json.Encoder()
_decoders = {key: codec.Decoder(t) for key, t in R.REQUESTS.items()}


def envelope(code: int, info: str) -> Response:
    """A failure in TIM's envelope (always HTTP 200)."""
    return _json(R.Envelope(ActionStatus="FAIL", ErrorCode=code, ErrorInfo=info))


def _json(body: R.Envelope) -> Response:
    return Response(_encoder.encode(body), media_type="application/json")


class TimRest:
    def __init__(self, core: Core, apps: TimApps) -> None:
        self.core = core
        self.apps = apps

    async def __call__(self, request: Request) -> Response:
        service = request.path_params.get("service", "")
        command = request.path_params.get("command", "")
        try:
            caller, handler = self._prelude(request, service, command)
            raw = await request.body()
            body = self._decode(service, command, raw)
            result = await handler(caller, body)
        except TimError as exc:
            log.info("%s/%s refused: %s %s", service, command, exc.code, exc.message)
            return envelope(exc.code, exc.message)
        except CoreError as exc:
            code = code_for(exc.reason, service)
            log.info("%s/%s refused: %s %s", service, command, code, exc.message)
            return envelope(code, exc.message)
        return _json(result)

    def _prelude(self, request: Request, service: str, command: str) -> tuple[Caller, Handler]:
        if service not in SERVICES:
            raise TimError(60009, f"unknown service {service!r} in /v4/{service}/{command}")
        handler = HANDLERS.get((service, command))
        if handler is None:
            raise TimError(E.INVALID_COMMAND, f"unknown command {command!r} of service {service!r}")
        if request.method != "POST":
            raise TimError(E.REST_URL_ERROR, f"use POST, not {request.method}")
        q = request.query_params
        sdkappid_text = q.get("sdkappid")
        if not sdkappid_text:
            raise TimError(60012, "the URL needs sdkappid")
        sdkappid = codec.parse_uint(sdkappid_text, max_value=4294967295)
        if sdkappid is None:
            raise TimError(E.REST_URL_ERROR, f"sdkappid {sdkappid_text!r} is not a number")
        identifier, sig = q.get("identifier"), q.get("usersig")
        if not identifier or not sig:
            raise TimError(60004, "the URL needs identifier and usersig")
        contenttype = q.get("contenttype", "json")
        if contenttype != "json":
            raise TimError(
                E.REST_URL_ERROR, f"contenttype {contenttype!r} is not supported; use json"
            )
        app = self.apps.verify(sdkappid, identifier, sig)
        if identifier != app.admin:
            raise TimError(
                ADMIN_REQUIRED.get(service, E.REST_ADMIN_REQUIRED),
                f"identifier {identifier!r} is not the App admin; REST calls need the admin account",
            )
        return Caller(self.core, app, identifier, "RESTAPI"), handler

    def _decode(self, service: str, command: str, raw: bytes) -> Any:
        try:
            return _decoders[(service, command)].decode(raw or b"{}")
        except msgspec.ValidationError as exc:
            raise TimError(
                shape_code_of(service, str(exc)), f"invalid request body: {exc}"
            ) from None
        except msgspec.DecodeError as exc:
            raise TimError(
                JSON_ERROR.get(service, E.REST_JSON_ERROR), f"body is not valid JSON: {exc}"
            ) from None

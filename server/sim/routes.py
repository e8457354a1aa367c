"""``/sim/v1/...`` routes (docs/simulation.md): decode the body once by type, call one handler,
answer its result, or ``{"code", "msg"}`` with HTTP 400/404 (the table is ``errors.py``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from protocol import codec
from protocol import sim as S
from server.core.errors import CoreError
from server.sim import messages, reactions, reads
from server.sim.errors import SimError, for_core
from server.sim.resolve import Sim

if TYPE_CHECKING:
    from server.wiring import Wiring

log = logging.getLogger("server.sim")

_encoder = msgspec.json.Encoder()
_JSON = "application/json"


def _answer(status: int, body: Any) -> Response:
    return Response(_encoder.encode(body), status_code=status, media_type=_JSON)


def _endpoint(
    wiring: Wiring,
    body_type: type[Any],
    handler: Callable[[Sim, Any], Awaitable[msgspec.Struct]],
) -> Callable[[Request], Awaitable[Response]]:
    decoder = codec.Decoder(body_type)

    async def endpoint(request: Request) -> Response:
        try:
            try:
                body = decoder.decode(await request.body())
            except msgspec.DecodeError as exc:  # ValidationError included
                raise SimError(400, S.BAD_REQUEST, f"invalid body: {exc}") from None
            sim = Sim(wiring.core, wiring.feishu.ids)
            try:
                result = await handler(sim, body)
            except CoreError as exc:
                raise for_core(exc, sim.ids) from None
        except SimError as exc:
            log.info("sim %s %s refused: %s", request.method, request.url.path, exc.msg)
            return _answer(exc.status, S.ErrorBody(exc.code, exc.msg))
        return _answer(200, result)

    return endpoint


def routes(wiring: Wiring) -> list[BaseRoute]:
    return [
        Route(
            "/sim/v1/messages",
            _endpoint(wiring, S.SendRequest, messages.send),
            methods=["POST"],
        ),
        Route("/sim/v1/reads", _endpoint(wiring, S.ReadRequest, reads.read), methods=["POST"]),
        Route(
            "/sim/v1/reactions",
            _endpoint(wiring, S.ReactRequest, reactions.react),
            methods=["POST"],
            name="sim_react",
        ),
        Route(
            "/sim/v1/reactions",
            _endpoint(wiring, S.UnreactRequest, reactions.unreact),
            methods=["DELETE"],
            name="sim_unreact",
        ),
    ]

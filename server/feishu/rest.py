"""The open-apis REST routes: auth/v3 tokens, im/v1 messages, read_users, reactions, chats and
chat members.

Every im/v1 call goes through one prelude: the Bearer tenant_access_token names the app (99991661
without one, 99991663 for a bad or expired one), the API's rate limit is counted, path and query
parameters and the JSON body are decoded into the API's types (the family's parameter error on
failure), a disabled bot is refused (230006, chats 232025), then one handler translates the call
into the core and back. Every answer is Feishu's ``{"code", "msg", "data"}`` envelope with an
``X-Tt-Logid`` header (server/feishu/envelope.py); refusals carry their HTTP status (400, 429).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from protocol import codec
from protocol.feishu import errors as E
from protocol.feishu import rest as R
from server.core.errors import CoreError
from server.feishu import chats, messages, reactions, reads
from server.feishu.auth import Kind, RateLimits, Tokens
from server.feishu.context import Bot
from server.feishu.envelope import feishu_envelope, feishu_json
from server.feishu.errors import (
    BOT_DISABLED,
    CHAT,
    DELETE,
    DELETE_REACTION,
    LIST_REACTIONS,
    MESSAGE,
    PARAM_ERROR,
    REACTION,
    READ_USERS,
    REPLY,
    FeishuError,
    code_for,
)

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect

log = logging.getLogger("server.feishu.rest")

Handler = Callable[[Bot, Any, Any], Awaitable[Any]]

IM: Final = "/open-apis/im/v1"


@dataclass(frozen=True, slots=True)
class Api:
    """One im/v1 API: its route, how its input decodes, and who handles it."""

    name: str  # rate-limit key and error-table key, e.g. "message.read_users"
    family: str  # MESSAGE, REACTION or CHAT: the generic codes
    method: str
    path: str
    handler: Handler
    params: type[Any]  # path + query parameters
    body: type[Any] | None = None
    limited: bool = False  # counts against the per-app rate limit
    scopes: tuple[str, ...] = ()  # the app needs one of these (none: not checked)


# From the read_users page ("enable any one of them"). Other APIs' scopes are not checked: only
# user_id fields are (contact:user.employee_id:readonly, in context.py).
READ_USERS_SCOPES: Final = ("im:message", "im:message:readonly", "im:message:basic")

APIS: Final = (
    Api("message.create", MESSAGE, "POST", "/messages", messages.create, R.CreateMessageParams, R.CreateMessageBody),
    Api("message.list", MESSAGE, "GET", "/messages", messages.list_, R.ListMessagesParams),
    Api("message.get", MESSAGE, "GET", "/messages/{message_id}", messages.get, R.GetMessageParams),
    Api(DELETE, MESSAGE, "DELETE", "/messages/{message_id}", messages.delete, R.MessageParams),
    Api(REPLY, MESSAGE, "POST", "/messages/{message_id}/reply", messages.reply, R.MessageParams, R.ReplyMessageBody),
    Api(READ_USERS, MESSAGE, "GET", "/messages/{message_id}/read_users", reads.read_users, R.ReadUsersParams, limited=True, scopes=READ_USERS_SCOPES),
    Api("reaction.create", REACTION, "POST", "/messages/{message_id}/reactions", reactions.create, R.MessageParams, R.CreateReactionBody),
    Api(LIST_REACTIONS, REACTION, "GET", "/messages/{message_id}/reactions", reactions.list_, R.ListReactionsParams),
    Api(DELETE_REACTION, REACTION, "DELETE", "/messages/{message_id}/reactions/{reaction_id}", reactions.delete, R.ReactionParams),
    Api("chat.create", CHAT, "POST", "/chats", chats.create, R.CreateChatParams, R.CreateChatBody),
    Api("chat.list", CHAT, "GET", "/chats", chats.list_, R.ListChatsParams),
    Api("chat.get", CHAT, "GET", "/chats/{chat_id}", chats.get, R.ChatParams),
    Api("chat_members.create", CHAT, "POST", "/chats/{chat_id}/members", chats.add_members, R.MembersParams, R.MembersBody),
    Api("chat_members.get", CHAT, "GET", "/chats/{chat_id}/members", chats.list_members, R.ListMembersParams),
    Api("chat_members.delete", CHAT, "DELETE", "/chats/{chat_id}/members", chats.remove_members, R.MembersParams, R.MembersBody),
)  # fmt: skip

_token_body = codec.Decoder(R.TokenBody)


def _envelope(exc: FeishuError) -> Response:
    return feishu_envelope(exc.status, exc.code, exc.message, headers=exc.headers)


def _success(data: Any) -> Response:
    return feishu_envelope(200, E.OK, "success", {} if data is None else data)


def _decode_error(exc: msgspec.MsgspecError) -> str:
    return f"Your request contains an invalid request parameter: {exc}"


class FeishuRest:
    def __init__(self, dialect: FeishuDialect) -> None:
        self.dialect = dialect
        self.tokens = Tokens(dialect.apps.values(), dialect.clock)
        self.limits = RateLimits(dialect.clock)

    def routes(self) -> list[BaseRoute]:
        auth = "/open-apis/auth/v3"
        out: list[BaseRoute] = [
            Route(f"{auth}/tenant_access_token/internal", self._token("tenant"), methods=["POST"]),
            Route(f"{auth}/app_access_token/internal", self._token("app"), methods=["POST"]),
        ]
        out += [Route(IM + a.path, self._endpoint(a), methods=[a.method]) for a in APIS]
        return out

    def _token(self, kind: Kind) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            # lark-oapi sends these bodies without a Content-Type: JSON whatever it says
            try:
                body = _token_body.decode(await request.body() or b"{}")
                app = self.tokens.app(body.app_id, body.app_secret)
            except msgspec.MsgspecError as exc:
                return feishu_envelope(400, E.AUTH_INVALID_PARAM, f"invalid param: {exc}")
            except FeishuError as exc:
                log.info("%s token refused: %s %s", kind, exc.code, exc.message)
                return _envelope(exc)
            tenant, expire = self.tokens.issue(app, "tenant")
            answer: R.TenantToken | R.AppToken
            if kind == "tenant":
                answer = R.TenantToken(0, "ok", tenant, expire)
            else:
                answer = R.AppToken(0, "ok", self.tokens.issue(app, "app")[0], tenant, expire)
            return feishu_json(200, answer)

        return endpoint

    def _endpoint(self, api: Api) -> Callable[[Request], Awaitable[Response]]:
        decode_body = codec.Decoder(api.body) if api.body is not None else None

        async def endpoint(request: Request) -> Response:
            try:
                app = self.tokens.bearer(request.headers.get("authorization"))
                if api.limited:
                    self.limits.take(app.app_id, api.name)
                try:
                    params = R.decode_params(
                        {**request.query_params, **request.path_params}, api.params
                    )
                    body = None
                    if decode_body is not None:
                        body = decode_body.decode(await request.body() or b"{}")
                except msgspec.MsgspecError as exc:
                    raise FeishuError(PARAM_ERROR[api.family], _decode_error(exc)) from None
                if api.scopes and not any(app.has_scope(x) for x in api.scopes):
                    raise FeishuError(
                        E.SCOPE_MISSING,
                        "Access denied. One of the following scopes is required: "
                        f"[{', '.join(api.scopes)}]; app {app.app_id} has "
                        f"[{', '.join(app.scopes)}]",
                    )
                if not app.bot_enabled:
                    raise FeishuError(
                        BOT_DISABLED[api.family],
                        f"Bot ability is not activated for app {app.app_id}",
                    )
                bot = Bot(
                    app,
                    self.dialect.core,
                    self.dialect.identity,
                    self.dialect.apps,
                    self.dialect.ids,
                )
                data = await api.handler(bot, params, body)
            except FeishuError as exc:
                log.info("%s refused: %s %s", api.name, exc.code, exc.message)
                return _envelope(exc)
            except CoreError as exc:
                status, code = code_for(exc.reason, api.name, api.family)
                message = self.dialect.ids.with_feishu_ids(exc.message)  # om_/oc_, not row numbers
                log.info("%s refused: %s %s", api.name, code, message)
                return feishu_envelope(status, code, message)
            return _success(data)

        return endpoint


def routes(dialect: FeishuDialect) -> list[BaseRoute]:
    return FeishuRest(dialect).routes()

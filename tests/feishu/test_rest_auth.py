"""open-apis authentication with the official SDK: token endpoints, the SDK's token cache,
Bearer checks, stateless tokens across restarts, the rate limit, and the JSON envelope."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import lark_oapi as lark
import pytest
from lark_oapi.api.im.v1 import GetMessageRequest
from lark_oapi.core.exception import ObtainAccessTokenException
from lark_oapi.core.token.manager import TokenManager

from protocol.feishu import errors as E
from server.core.clock import FakeClock
from server.feishu.auth import LIFETIME_S, WINDOW_S, RateLimits, Tokens
from server.feishu.errors import FeishuError
from tests.feishu.rest_support import Env, app, feishu_server

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"


async def post_token(env: Env, path: str, body: bytes) -> httpx.Response:
    """POST a token request as the SDK does: no Content-Type."""
    async with httpx.AsyncClient() as http:
        return await http.post(env.srv.base_url + path, content=body)


async def test_token_endpoints_answer_what_the_sdk_parses(tmp_path: Path) -> None:
    """Both token endpoints parse a body sent without Content-Type and answer code 0, a token
    and an int expire above 600; the app variant also carries a tenant token."""
    async with feishu_server(tmp_path) as env:
        secret = f'{{"app_id": "{env.bot.app_id}", "app_secret": "{env.bot.app_secret}"}}'
        tenant = await post_token(env, TOKEN_PATH, secret.encode())
        assert tenant.status_code == 200 and tenant.headers["x-tt-logid"]
        body = tenant.json()
        assert body["code"] == 0 and body["tenant_access_token"].startswith("t-")
        assert isinstance(body["expire"], int) and 600 < body["expire"] <= LIFETIME_S
        app_token = await post_token(
            env, "/open-apis/auth/v3/app_access_token/internal", secret.encode()
        )
        both = app_token.json()
        assert both["code"] == 0 and both["app_access_token"].startswith("a-")
        assert both["tenant_access_token"] == body["tenant_access_token"]


async def test_sdk_fetches_one_token_and_caches_it(tmp_path: Path) -> None:
    """The SDK's first call fetches a tenant token, later calls reuse the cached one, and a
    second fetch within the 30-minute window gets the same token."""
    async with feishu_server(tmp_path) as env:
        first = await env.send("alice")
        assert first.success(), first.msg
        cached = TokenManager.cache.get(f"self_tenant_token:{env.bot.app_id}")
        assert cached is not None and cached.startswith("t-")
        assert (await env.send("bob")).success()
        assert TokenManager.cache.get(f"self_tenant_token:{env.bot.app_id}") == cached
        env.forget_token(env.bot)
        assert (await env.send("carol")).success()
        assert TokenManager.cache.get(f"self_tenant_token:{env.bot.app_id}") == cached


async def test_wrong_secret_and_unknown_app_raise_in_the_sdk(tmp_path: Path) -> None:
    """A wrong app_secret answers 10014 and an unknown app_id 10003; the SDK raises
    ObtainAccessTokenException with that code and sends nothing else."""
    async with feishu_server(tmp_path) as env:
        for app_id, secret, code in [
            (env.bot.app_id, "wrong", E.AUTH_APP_SECRET_INVALID),
            ("cli_nobody_here", "x", E.AUTH_INVALID_PARAM),
        ]:
            client = (
                lark.Client.builder()
                .app_id(app_id)
                .app_secret(secret)
                .domain(env.srv.base_url)
                .log_level(lark.LogLevel.CRITICAL)
                .build()
            )
            request = GetMessageRequest.builder().message_id("om_x").build()
            with pytest.raises(ObtainAccessTokenException) as err:
                await env.call(client.im.v1.message.get, request)
            assert err.value.code == code
        bad = await post_token(env, TOKEN_PATH, b'{"app_id": 5}')
        assert bad.status_code == 400 and bad.json()["code"] == E.AUTH_INVALID_PARAM


async def test_missing_and_invalid_tokens_are_refused(tmp_path: Path) -> None:
    """A call without Authorization answers HTTP 400 code 99991661; a forged or unknown token
    99991663, which the SDK returns as it is (it never refreshes on it)."""
    async with feishu_server(tmp_path) as env:
        url = env.srv.base_url + "/open-apis/im/v1/chats"
        async with httpx.AsyncClient() as http:
            missing = await http.get(url)
            assert missing.status_code == 400
            assert missing.json()["code"] == E.TOKEN_MISSING and missing.headers["x-tt-logid"]
            for token in ("t-nonsense", "t-g" + "0" * 40, "Bearer"):
                forged = await http.get(url, headers={"Authorization": f"Bearer {token}"})
                assert (forged.status_code, forged.json()["code"]) == (400, E.TOKEN_INVALID)
        TokenManager.cache.set(
            f"self_tenant_token:{env.bot.app_id}", "t-stale", int(time.time()) + 3600
        )
        resp = await env.send("alice")
        assert resp.code == E.TOKEN_INVALID and not resp.success()
        assert resp.get_log_id()


async def test_tokens_outlive_a_restart_and_expire_after_two_hours(tmp_path: Path) -> None:
    """A token issued before a restart is still accepted after it (tokens are stateless), and
    refused with 99991663 once the server's clock passes its lifetime."""
    clock = FakeClock()
    bot = app()
    async with feishu_server(tmp_path, bot, clock=clock) as env:
        assert (await env.send("alice")).success()
        token = TokenManager.cache.get(f"self_tenant_token:{bot.app_id}")
    async with feishu_server(tmp_path, bot, clock=clock, users=()) as env:
        assert (await env.send("bob")).success()
        assert TokenManager.cache.get(f"self_tenant_token:{bot.app_id}") == token
        clock.advance(seconds=LIFETIME_S)
        assert (await env.send("bob")).code == E.TOKEN_INVALID
        env.forget_token(bot)
        assert (await env.send("bob")).success()


async def test_an_unknown_route_is_a_json_envelope_with_a_log_id(tmp_path: Path) -> None:
    """An unknown open-apis path answers a JSON envelope (code 404) that the SDK's generic
    request parses, with a log id readable by get_log_id()."""
    async with feishu_server(tmp_path) as env:
        request = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri("/open-apis/im/v1/no_such_api")
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        resp = await env.call(env.client().request, request)
        assert resp.code == 404 and resp.msg
        assert resp.raw.status_code == 404 and resp.get_log_id()


def test_tokens_are_reissued_within_a_window_and_bound_to_the_secret() -> None:
    """The same token is issued within one 30-minute window with expire > 600, a new one in
    the next; a token checks only against its app's current secret and kind."""
    clock = FakeClock(start_ms=1_700_000_000_000 - 1_700_000_000_000 % (WINDOW_S * 1000))
    bot = app()
    tokens = Tokens([bot], clock)
    first, expire = tokens.issue(bot, "tenant")
    assert expire == LIFETIME_S
    clock.advance(seconds=WINDOW_S - 1)
    again, expire = tokens.issue(bot, "tenant")
    assert again == first and expire == LIFETIME_S - WINDOW_S + 1 > 600
    clock.advance(seconds=1)
    assert tokens.issue(bot, "tenant")[0] != first
    assert tokens.check(first) == bot and tokens.check(first, "app") is None
    rotated = Tokens([app(), bot.__class__(app_id=bot.app_id, app_secret="new")], clock)
    assert rotated.check(first) is None


def test_rate_limit_allows_50_a_second_and_1000_a_minute() -> None:
    """The 51st call in one clock second is refused with 99991400, HTTP 429 and the ogw headers;
    calling at 50 a second then runs into the minute's bucket (1000, refilled at 1000/min);
    other apps and APIs count separately."""
    clock = FakeClock()
    limits = RateLimits(clock)
    for _ in range(50):
        limits.take("a", "x")
    with pytest.raises(FeishuError) as err:
        limits.take("a", "x")
    assert (err.value.status, err.value.code) == (429, E.RATE_LIMITED)
    assert err.value.headers == {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": "1"}
    limits.take("b", "x")
    limits.take("a", "y")
    accepted, refused = 50, None
    for _ in range(60):
        clock.advance(seconds=1)
        try:
            for _ in range(50):
                limits.take("a", "x")
                accepted += 1
        except FeishuError as exc:
            refused = exc
            break
    assert refused is not None and refused.headers is not None
    assert refused.headers["x-ogw-ratelimit-limit"] == "1000"
    seconds = clock.now_ms() // 1000 - 1_700_000_000
    assert accepted == 1000 + seconds * 1000 // 60

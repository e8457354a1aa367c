"""Forged values that once reached SQLite as numbers it cannot hold (HTTP 500): page tokens,
ids and times past 2**63 - 1 get the same documented code as any other invalid value."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.feishu import ids
from protocol.feishu import rest as R
from tests.feishu.rest_support import feishu_server

HUGE = 2**70


def token_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


HUGE_ID = 2**64 - 1  # the largest number an id's 64 bits can carry; past SQLite's


def forged(feishu_ids: ids.FeishuIds, prefix: str, kind: bytes, number: int) -> str:
    """An id with a valid check part for ``number``, as ids.py would mint it."""
    return feishu_ids._mint(prefix, kind, number)


@given(st.integers(min_value=0, max_value=2**80))
def test_positions_beyond_sqlite_are_refused(n: int) -> None:
    """A page token's position parses only up to SQLite's largest integer."""
    assert R.parse_position(str(n)) == (n if n <= 2**63 - 1 else None)


@pytest.mark.parametrize("text", ["", "-1", "1.5", "²", " 1", "1" * 20, "0x10"])
def test_positions_are_ascii_digits(text: str) -> None:
    """Only plain ASCII digits make a position (Unicode digits once crashed int())."""
    assert R.parse_position(text) is None


def test_huge_ids_do_not_parse() -> None:
    """An id whose number SQLite could not hold is no id of this server."""
    feishu_ids = ids.FeishuIds("unit")
    assert feishu_ids.parse_message_id(forged(feishu_ids, "om_", ids._MESSAGE, HUGE_ID)) is None
    assert feishu_ids.parse_chat_id(forged(feishu_ids, "oc_", ids._CHAT, 2**63)) is None
    assert feishu_ids.parse_message_id(feishu_ids.message_id(2**63 - 1)) == 2**63 - 1


async def test_forged_values_get_their_documented_code_not_500(tmp_path: Path) -> None:
    """Page tokens, ids and times past 2**63 - 1 are answered 400 with the code any invalid
    value of that parameter gets, in the JSON envelope."""
    async with feishu_server(tmp_path) as env:
        message_id = await env.sent_id("alice")
        base = env.srv.base_url
        async with httpx.AsyncClient(base_url=base) as http:
            got = await http.post(
                "/open-apis/auth/v3/tenant_access_token/internal",
                json={"app_id": env.bot.app_id, "app_secret": env.bot.app_secret},
            )
            auth = {"Authorization": f"Bearer {got.json()['tenant_access_token']}"}
            chat_id = (
                await http.get(f"/open-apis/im/v1/messages/{message_id}", headers=auth)
            ).json()["data"]["items"][0]["chat_id"]

            async def code(method: str, path: str, **params: str) -> tuple[int, int]:
                resp = await http.request(method, path, params=params, headers=auth)
                assert resp.headers["content-type"].startswith("application/json")
                assert b"X-Tt-Logid" in [k for k, _ in resp.headers.raw]  # exact casing
                return resp.status_code, resp.json()["code"]

            huge = token_of(str(HUGE))
            cases = [
                (
                    "GET",
                    f"/open-apis/im/v1/messages/{message_id}/read_users",
                    {"user_id_type": "user_id", "page_token": token_of(f"{HUGE}:alice")},
                    {"user_id_type": "user_id", "page_token": "nope"},
                ),
                (
                    "GET",
                    "/open-apis/im/v1/messages",
                    {"container_id_type": "chat", "container_id": chat_id, "page_token": huge},
                    {"container_id_type": "chat", "container_id": chat_id, "page_token": "nope"},
                ),
                (
                    "GET",
                    "/open-apis/im/v1/messages",
                    {"container_id_type": "chat", "container_id": chat_id, "start_time": str(HUGE)},
                    {"container_id_type": "chat", "container_id": chat_id, "start_time": "x"},
                ),
                (
                    "GET",
                    f"/open-apis/im/v1/messages/{message_id}/reactions",
                    {"page_token": huge},
                    {"page_token": "nope"},
                ),
                ("GET", "/open-apis/im/v1/chats", {"page_token": huge}, {"page_token": "nope"}),
                (
                    "GET",
                    f"/open-apis/im/v1/messages/{forged(env.srv.ids, 'om_', ids._MESSAGE, HUGE_ID)}",
                    {},
                    None,
                ),
                (
                    "GET",
                    f"/open-apis/im/v1/chats/{forged(env.srv.ids, 'oc_', ids._CHAT, HUGE_ID)}",
                    {},
                    None,
                ),
            ]
            for method, path, params, plain_bad in cases:
                status, got_code = await code(method, path, **params)
                assert status == 400, (path, params, status, got_code)
                if plain_bad is not None:
                    assert (status, got_code) == await code(method, path, **plain_bad), path
            status, got_code = await code(
                "GET",
                f"/open-apis/im/v1/messages/{forged(env.srv.ids, 'om_', ids._MESSAGE, HUGE_ID)}",
            )
            assert (status, got_code) == await code("GET", "/open-apis/im/v1/messages/om_nope")

"""Property: any body sent to any HTTP route gets the route family's own envelope, a refusal
is never an internal error, and a refusal changes nothing in the database."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import sim as S
from protocol.feishu import rest as FR
from protocol.tim import errors as E
from protocol.tim import rest as R
from protocol.tim.usersig import gen_usersig
from server.feishu.rest import APIS, IM
from server.settings import DEFAULT_ADMIN as ADMIN
from tests.fuzz.conftest import APP_ID, APP_SECRET, World
from tests.fuzz.support import FUZZ, NASTY_STRINGS, body_of, snapshot
from tests.harness import KEY, SDKAPPID


@pytest.fixture(scope="module")
def http(world: World) -> Any:
    with httpx.Client(base_url=world.srv.base_url, timeout=30) as client:
        yield client


def _refused_cleanly(world: World, before: str, refused: bool, what: str) -> None:
    if refused:
        assert snapshot(world.db) == before, f"{what}: a refusal changed the database"


# -- TIM REST -------------------------------------------------------------------------------

TIM_COMMANDS = sorted(R.REQUESTS)


@st.composite
def tim_requests(draw: st.DrawFn, world: World) -> tuple[str, str, bytes]:
    service, command = draw(st.sampled_from(TIM_COMMANDS))
    body = draw(body_of(R.REQUESTS[(service, command)], world.ids))
    return service, command, body


@FUZZ
@given(data=st.data())
def test_tim_rest_refuses_any_body_with_a_documented_code(
    world: World, http: httpx.Client, data: st.DataObject
) -> None:
    """Every TIM REST command answers any body in TIM's envelope with a code other than the
    internal error, and a refusal changes nothing."""
    service, command, body = data.draw(tim_requests(world))
    sig = gen_usersig(SDKAPPID, KEY, ADMIN, now=int(time.time()))
    before = snapshot(world.db)
    resp = http.post(
        f"/v4/{service}/{command}",
        params={"sdkappid": SDKAPPID, "identifier": ADMIN, "usersig": sig,
                "random": 1, "contenttype": "json"},
        content=body,
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["ActionStatus"] in ("OK", "FAIL"), answer
    assert answer["ErrorCode"] != E.INTERNAL, (command, body[:300], answer)
    assert (answer["ActionStatus"] == "OK") == (answer["ErrorCode"] == 0), answer
    _refused_cleanly(world, before, answer["ErrorCode"] != 0, command)


@FUZZ
@given(
    sdkappid=st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=12)),
    identifier=st.one_of(st.sampled_from(NASTY_STRINGS), st.just(ADMIN)),
)
def test_tim_rest_refuses_any_query(
    world: World, http: httpx.Client, sdkappid: str, identifier: str
) -> None:
    """A TIM REST URL with any sdkappid or identifier is refused with TIM's URL codes; only
    ASCII digits are a number (Arabic-Indic digits are not SDKAppID 1400000000)."""
    sig = gen_usersig(SDKAPPID, KEY, ADMIN, now=int(time.time()))
    resp = http.post(
        "/v4/openim/get_c2c_unread_msg_num",
        params={"sdkappid": sdkappid, "identifier": identifier, "usersig": sig},
        content=b'{"To_Account": "bob"}',
    )
    answer = resp.json()
    assert resp.status_code == 200 and answer["ErrorCode"] != E.INTERNAL, answer
    if sdkappid != str(SDKAPPID):
        assert answer["ActionStatus"] == "FAIL", (sdkappid, answer)


# -- Feishu open-apis -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant_token(http: httpx.Client) -> str:
    resp = http.post(
        "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": APP_ID, "app_secret": APP_SECRET},
    )
    return str(resp.json()["tenant_access_token"])


def _feishu_answer(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code < 500, resp.text
    answer: dict[str, Any] = resp.json()
    assert isinstance(answer.get("code"), int) and isinstance(answer.get("msg"), str), answer
    return answer


@st.composite
def feishu_requests(draw: st.DrawFn, world: World) -> tuple[Any, str, dict[str, str], bytes]:
    api = draw(st.sampled_from(APIS))
    names = [part[1:-1] for part in api.path.split("/") if part.startswith("{")]
    ids = st.one_of(st.sampled_from(world.ids), st.sampled_from(NASTY_STRINGS), st.text(max_size=8))
    path = api.path
    for name in names:
        value = draw(ids.filter(bool))
        path = path.replace("{" + name + "}", quote(value, safe=""))
    query_fields = [f.encode_name for f in msgspec.structs.fields(api.params)]
    query = draw(
        st.dictionaries(
            st.sampled_from([*query_fields, "page_size", "x"]),
            st.one_of(
                ids, st.sampled_from(("-1", "0", "50", "2147483648", "99999999999999999999"))
            ),
            max_size=4,
        )
    )
    body = draw(body_of(api.body, world.ids)) if api.body is not None else b""
    return api, IM + path, query, body


@FUZZ
@given(data=st.data())
def test_feishu_routes_refuse_any_request_with_a_documented_code(
    world: World, http: httpx.Client, tenant_token: str, data: st.DataObject
) -> None:
    """Every Feishu open-apis route answers any path id, query and body in Feishu's envelope,
    never with a server error, and a refusal changes nothing."""
    api, path, query, body = data.draw(feishu_requests(world))
    before = snapshot(world.db)
    resp = http.request(
        api.method,
        path,
        params=query,
        content=body,
        headers={"Authorization": f"Bearer {tenant_token}", "Content-Type": "application/json"},
    )
    answer = _feishu_answer(resp)
    _refused_cleanly(world, before, answer["code"] != 0, api.name)


@FUZZ
@given(data=st.data())
def test_feishu_token_and_discovery_refuse_any_body(
    world: World, http: httpx.Client, data: st.DataObject
) -> None:
    """The token endpoints answer any body in Feishu's envelope, and long-connection discovery
    answers HTTP 200 whatever it is sent."""
    path = data.draw(
        st.sampled_from(
            (
                "/open-apis/auth/v3/tenant_access_token/internal",
                "/open-apis/auth/v3/app_access_token/internal",
                "/callback/ws/endpoint",
            )
        )
    )
    kind = FR.TokenBody if "auth" in path else dict[str, str]
    body = data.draw(body_of(kind, (APP_ID, APP_SECRET)))
    resp = http.post(path, content=body)
    answer = _feishu_answer(resp)
    if path == "/callback/ws/endpoint":
        assert resp.status_code == 200, answer


# -- /sim/v1 --------------------------------------------------------------------------------

SIM_ROUTES = (
    ("POST", "/sim/v1/messages", S.SendRequest),
    ("POST", "/sim/v1/reads", S.ReadRequest),
    ("POST", "/sim/v1/reactions", S.ReactRequest),
    ("DELETE", "/sim/v1/reactions", S.UnreactRequest),
)


@FUZZ
@given(data=st.data())
def test_sim_routes_refuse_any_body_with_a_sim_code(
    world: World, http: httpx.Client, data: st.DataObject
) -> None:
    """Every /sim/v1 route answers any body with its own error body (never HTTP 500), and a
    refusal changes nothing."""
    method, path, kind = data.draw(st.sampled_from(SIM_ROUTES))
    body = data.draw(body_of(kind, (*world.ids, APP_ID)))
    before = snapshot(world.db)
    resp = http.request(method, path, content=body)
    assert resp.status_code < 500, resp.text
    answer = resp.json()
    if resp.status_code >= 400:
        assert isinstance(answer["code"], int) and isinstance(answer["msg"], str), answer
    _refused_cleanly(world, before, resp.status_code >= 400, path)

"""The REST prelude: URL, method, admin UserSig (minted by Tencent's tls-sig-api-v2) and the
envelope every answer comes in, checked over raw HTTP."""

from __future__ import annotations

import base64
import zlib

import httpx
import pytest

from protocol.tim.usersig import gen_usersig
from tests.harness import KEY, SDKAPPID, Running
from tests.tim.conftest import (
    ADMIN,
    OTHER_KEY,
    assert_fail,
    now_s,
    post_json,
    rest_url,
    tencent_sig,
)


def _variant(data: bytes) -> str:
    """TIM's base64url variant of ``data``."""
    return base64.b64encode(data).decode().translate(str.maketrans("+/=", "*-_"))


IMPORT = ("im_open_login_svc", "account_import")
IMPORT_BODY = {"UserID": "alice"}


async def test_official_usersig_is_accepted(srv: Running, http: httpx.AsyncClient) -> None:
    """An admin UserSig minted by Tencent's TLSSigAPIv2 with the app's key opens the REST API."""
    result = await post_json(http, rest_url(srv, *IMPORT), IMPORT_BODY)
    assert result == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


async def test_official_usersig_with_short_expiry_is_accepted(
    srv: Running, http: httpx.AsyncClient
) -> None:
    """A freshly minted official UserSig is valid for its whole lifetime, even a 60-second one."""
    sig = tencent_sig(ADMIN, expire=60)
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=sig), IMPORT_BODY)
    assert result["ActionStatus"] == "OK"


async def test_expired_usersig_is_70001(srv: Running, http: httpx.AsyncClient) -> None:
    """A UserSig whose TLS.time + TLS.expire lies in the past is refused with 70001."""
    sig = gen_usersig(SDKAPPID, KEY, ADMIN, expire=1, now=now_s() - 3600)
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=sig), IMPORT_BODY)
    assert_fail(result, 70001)
    assert "expired" in result["ErrorInfo"]


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",  # not the base64url variant
        _variant(zlib.compress(b'{"hello": "world"}')),  # zlib JSON, but not a UserSig document
        _variant(zlib.compress(b'{"TLS.ver": "2.0", "TLS.identifier": "x"}')[:-5]),  # truncated
        "x" * 9000,  # far longer than any UserSig
    ],
)
async def test_garbage_usersig_is_70003(
    srv: Running, http: httpx.AsyncClient, garbage: str
) -> None:
    """A usersig that does not decode to a UserSig document is refused with 70003."""
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=garbage), IMPORT_BODY)
    assert_fail(result, 70003)


async def test_wrong_key_is_70009(srv: Running, http: httpx.AsyncClient) -> None:
    """An official UserSig signed with another key fails signature verification (70009)."""
    sig = tencent_sig(ADMIN, key=OTHER_KEY)
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=sig), IMPORT_BODY)
    assert_fail(result, 70009)


async def test_identifier_mismatch_is_70013(srv: Running, http: httpx.AsyncClient) -> None:
    """A UserSig minted for another user than the URL's identifier is refused with 70013."""
    sig = tencent_sig("alice")
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=sig), IMPORT_BODY)
    assert_fail(result, 70013)


async def test_sdkappid_mismatch_is_70014(srv: Running, http: httpx.AsyncClient) -> None:
    """A UserSig minted for SDKAppID 1400000001 is refused with 70014 on app 1400000000's URL."""
    sig = tencent_sig(ADMIN, sdkappid=1400000001)
    result = await post_json(http, rest_url(srv, *IMPORT, usersig=sig), IMPORT_BODY)
    assert_fail(result, 70014)


async def test_unknown_sdkappid_is_70020(srv: Running, http: httpx.AsyncClient) -> None:
    """A URL naming an SDKAppID this server does not host is refused with 70020."""
    sig = tencent_sig(ADMIN, sdkappid=1400000099)
    result = await post_json(
        http, rest_url(srv, *IMPORT, sdkappid=1400000099, usersig=sig), IMPORT_BODY
    )
    assert_fail(result, 70020)
    assert "1400000099" in result["ErrorInfo"]


@pytest.mark.parametrize(
    ("service", "command", "body", "code"),
    [
        (
            "openim",
            "sendmsg",
            {
                "To_Account": "alice",
                "MsgRandom": 1,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}],
            },
            90009,
        ),
        ("group_open_http_svc", "create_group", {"Type": "Public", "Name": "g"}, 10007),
        ("im_open_login_svc", "account_import", {"UserID": "bob"}, 60010),
    ],
)
async def test_non_admin_identifier_is_refused_per_service(
    srv: Running,
    http: httpx.AsyncClient,
    service: str,
    command: str,
    body: dict[str, object],
    code: int,
) -> None:
    """A valid UserSig of an ordinary user is refused with that service's admin-required code."""
    await post_json(http, rest_url(srv, *IMPORT), IMPORT_BODY)
    url = rest_url(srv, service, command, identifier="alice", usersig=tencent_sig("alice"))
    result = await post_json(http, url, body)
    assert_fail(result, code)
    assert "admin" in result["ErrorInfo"]


async def test_missing_sdkappid_is_60012(srv: Running, http: httpx.AsyncClient) -> None:
    """A URL without sdkappid is refused with 60012."""
    result = await post_json(http, rest_url(srv, *IMPORT, drop=("sdkappid",)), IMPORT_BODY)
    assert_fail(result, 60012)


@pytest.mark.parametrize("missing", ["usersig", "identifier"])
async def test_missing_usersig_or_identifier_is_60004(
    srv: Running, http: httpx.AsyncClient, missing: str
) -> None:
    """A URL without usersig (or identifier) is refused with 60004."""
    result = await post_json(http, rest_url(srv, *IMPORT, drop=(missing,)), IMPORT_BODY)
    assert_fail(result, 60004)


@pytest.mark.parametrize(
    "query", [{"sdkappid": "abc"}, {"contenttype": "xml"}], ids=["sdkappid", "contenttype"]
)
async def test_malformed_url_parameter_is_60002(
    srv: Running, http: httpx.AsyncClient, query: dict[str, str]
) -> None:
    """A non-numeric sdkappid or a contenttype other than json is a URL error (60002)."""
    result = await post_json(http, rest_url(srv, *IMPORT, **query), IMPORT_BODY)
    assert_fail(result, 60002)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_than_post_are_60002(
    srv: Running, http: httpx.AsyncClient, method: str
) -> None:
    """A REST command called with another method than POST is refused with 60002."""
    result = await post_json(http, rest_url(srv, *IMPORT), IMPORT_BODY, method=method)
    assert_fail(result, 60002)
    assert method in result["ErrorInfo"]


async def test_unknown_service_is_60009(srv: Running, http: httpx.AsyncClient) -> None:
    """A URL naming a service that does not exist is refused with 60009 naming it."""
    result = await post_json(http, rest_url(srv, "no_such_svc", "account_import"), IMPORT_BODY)
    assert_fail(result, 60009)
    assert "no_such_svc" in result["ErrorInfo"]


async def test_unknown_command_is_10003(srv: Running, http: httpx.AsyncClient) -> None:
    """A URL naming an unknown command of a known service is refused with 10003 naming it."""
    result = await post_json(http, rest_url(srv, "openim", "no_such_command"), {})
    assert_fail(result, 10003)
    assert "no_such_command" in result["ErrorInfo"]


@pytest.mark.parametrize(
    ("service", "command", "code"),
    [
        ("group_open_http_svc", "create_group", 10011),
        ("openim", "sendmsg", 90001),
        ("im_open_login_svc", "account_import", 60003),
    ],
)
async def test_body_that_is_not_json_gets_the_services_json_error(
    srv: Running, http: httpx.AsyncClient, service: str, command: str, code: int
) -> None:
    """A body that is not JSON is refused with the service's own JSON-parse error code."""
    result = await post_json(http, rest_url(srv, service, command), b"{not json")
    assert_fail(result, code)


async def test_admin_auth_failure_does_not_run_the_command(
    srv: Running, http: httpx.AsyncClient
) -> None:
    """A refused call has no effect: the account it tried to import does not exist afterwards."""
    bad = rest_url(srv, *IMPORT, usersig=tencent_sig(ADMIN, key=OTHER_KEY))
    assert_fail(await post_json(http, bad, {"UserID": "mallory"}), 70009)
    check = rest_url(srv, "openim", "get_c2c_unread_msg_num")
    assert_fail(await post_json(http, check, {"To_Account": "mallory"}), 90003)


async def test_unrouted_v4_path_is_a_tim_envelope(srv: Running, http: httpx.AsyncClient) -> None:
    """A /v4 path that matches no route still answers HTTP 200 with TIM's FAIL envelope."""
    resp = await http.post(f"{srv.base_url}/v4/openim", content=b"{}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert_fail(resp.json(), 60002)


async def test_404_outside_v4_is_json(srv: Running, http: httpx.AsyncClient) -> None:
    """A path outside /v4 answers 404 with a JSON body naming the path, not an HTML page."""
    resp = await http.get(f"{srv.base_url}/no/such/page")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == 404 and "/no/such/page" in body["msg"]

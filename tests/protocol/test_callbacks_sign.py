"""TIM callback Sign and URL query (reference/tim.md section 5.1, rule 26)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.tim.callbacks import callback_url, sign


def test_sign_matches_the_official_vector() -> None:
    """sign("xxxxyyyy", 1669872112) is the value in Tencent's webhook authentication example."""
    assert sign("xxxxyyyy", 1669872112) == (
        "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
    )


@given(st.text(min_size=1), st.integers(min_value=0, max_value=2**40))
def test_sign_is_sha256_of_token_and_time(token: str, request_time: int) -> None:
    """Sign is the lower-case hex sha256 of the token followed by the decimal RequestTime."""
    expected = hashlib.sha256((token + str(request_time)).encode()).hexdigest()
    assert sign(token, request_time) == expected


def test_url_has_tim_query_and_no_sign_without_token() -> None:
    """Without a token the URL carries SdkAppid, CallbackCommand, contenttype, ClientIP and OptPlatform only."""
    url = callback_url(
        "http://backend.example/cb",
        sdkappid=1400000000,
        command="Group.CallbackAfterReadReceipt",
        platform="Web",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "backend.example", "/cb")
    assert parse_qs(parts.query) == {
        "SdkAppid": ["1400000000"],
        "CallbackCommand": ["Group.CallbackAfterReadReceipt"],
        "contenttype": ["json"],
        "ClientIP": ["127.0.0.1"],
        "OptPlatform": ["Web"],
    }


def test_url_with_token_has_request_time_and_sign_and_keeps_existing_query() -> None:
    """With a token the URL adds RequestTime and its Sign, after any query the configured URL had."""
    url = callback_url(
        "https://backend.example/cb?tenant=7",
        sdkappid=1,
        command="C2C.CallbackAfterMsgReport",
        token="xxxxyyyy",
        request_time=1669872112,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["tenant"] == ["7"]
    assert query["RequestTime"] == ["1669872112"]
    assert query["Sign"] == ["17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"]


def test_url_with_token_needs_a_request_time() -> None:
    """A token without a RequestTime is refused (a Sign needs both)."""
    with pytest.raises(ValueError, match="request_time"):
        callback_url("http://x/", sdkappid=1, command="C2C.CallbackAfterMsgReport", token="t")

"""The open-apis shapes and tables without a server: parameter decoding, page tokens, tokens
and the error table."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.feishu import rest as R
from server.core.clock import FakeClock
from server.core.errors import Reason
from server.feishu.auth import Tokens
from server.feishu.errors import CHAT, MESSAGE, REACTION, TABLE, code_for
from server.settings import FeishuAppSettings


def test_query_strings_convert_to_typed_params() -> None:
    """Query values arrive as strings: numbers and Python's "True"/"False" convert, any case."""
    got = R.decode_params(
        {"message_id": "om_x", "user_id_type": "user_id", "with_sender_name": "True"},
        R.GetMessageParams,
    )
    assert got == R.GetMessageParams("om_x", "user_id", True)
    page = R.decode_params(
        {"message_id": "m", "user_id_type": "open_id", "page_size": "100"}, R.ReadUsersParams
    )
    assert page.page_size == 100
    assert (
        R.decode_params({"set_bot_manager": "FALSE"}, R.CreateChatParams).set_bot_manager is False
    )


@pytest.mark.parametrize("size", ["0", "101", "x", "-1"])
def test_read_users_page_size_is_1_to_100(size: str) -> None:
    """page_size outside 1..100 (or not a number) is refused at decode."""
    with pytest.raises(msgspec.ValidationError):
        R.decode_params(
            {"message_id": "m", "user_id_type": "open_id", "page_size": size}, R.ReadUsersParams
        )


@given(st.text())
def test_page_tokens_round_trip(position: str) -> None:
    """Any position survives a page token."""
    assert R.parse_page_token(R.page_token(position)) == position


@given(st.text())
def test_any_page_token_parses_or_is_rejected_cleanly(token: str) -> None:
    """Whatever a client sends as page_token yields a position or None, never an exception."""
    result = R.parse_page_token(token)
    assert result is None or isinstance(result, str)


@given(st.text(max_size=60))
def test_any_bearer_token_is_checked_cleanly(token: str) -> None:
    """Any Bearer value is a live token of an app or None, never an exception."""
    tokens = Tokens([FeishuAppSettings(app_id="cli_a", app_secret="s")], FakeClock())
    assert tokens.check(token) is None
    assert tokens.check("t-g" + token) is None


def test_every_reason_has_a_feishu_code_in_every_family() -> None:
    """The Feishu dialect's one error table covers every neutral reason, for every API family."""
    assert set(TABLE) == set(Reason)
    for reason in Reason:
        for family in (MESSAGE, REACTION, CHAT):
            status, code = code_for(reason, "any", family)
            assert status in (400, 429) and code > 0

"""protocol/feishu/ids.py: Feishu-shaped ids, unique per database."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from clients.sim import SimClient
from protocol.feishu.ids import MAX_NUMBER, FeishuIds
from tests.harness import running_server

SHAPE = re.compile(r"(om|oc|rc)_[0-9a-f]{32}")


@given(st.integers(1, MAX_NUMBER), st.text(max_size=8))
def test_ids_are_32_hex_and_parse_back_only_where_minted(number: int, instance: str) -> None:
    """Every id is its prefix and 32 hex digits, parses back to its number in the database that
    minted it, and to nothing in another database or as another kind."""
    here, there = FeishuIds(instance), FeishuIds(instance + "x")
    for mint, parse, parse_there, other_kind in (
        (here.message_id, here.parse_message_id, there.parse_message_id, here.parse_chat_id),
        (here.chat_id, here.parse_chat_id, there.parse_chat_id, here.parse_message_id),
        (here.reaction_id, here.parse_reaction_id, there.parse_reaction_id, here.parse_chat_id),
    ):
        text = mint(number)
        assert SHAPE.fullmatch(text), text
        assert parse(text) == number
        assert parse_there(text) is None and other_kind(text) is None


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    """Made-up text is no id (a forgery would need to guess a 64-bit check), and never raises."""
    ids = FeishuIds("db")
    assert ids.parse_message_id(text) is None
    assert ids.parse_message_id("om_" + text) is None
    assert ids.parse_chat_id("oc_" + text) is None


def test_upper_case_or_padded_hex_is_no_id() -> None:
    """Only the exact lower-case form parses (int(..., 16) alone would accept '0x', '_', ' ')."""
    ids = FeishuIds("db")
    good = ids.message_id(7)
    assert ids.parse_message_id(good.upper().replace("OM_", "om_")) is None
    assert ids.parse_message_id(good[:-2] + "_" + good[-1]) is None
    assert ids.parse_message_id(good + " ") is None


async def test_two_fresh_databases_give_their_first_messages_different_ids(
    tmp_path: Path,
) -> None:
    """The first message of two fresh databases has two different om_ ids (a receiver that
    deduplicates by message id across test runs drops nothing), each shaped like Feishu's."""
    seen = []
    for name in ("one", "two"):
        async with running_server(tmp_path / f"{name}.sqlite3") as srv, srv.admin() as admin:
            await admin.import_accounts("alice", "bob")
            async with SimClient(srv.base_url) as sim:
                sent = await sim.send("alice", to_user="bob", text="first")
            assert SHAPE.fullmatch(sent.message_id) and SHAPE.fullmatch(sent.chat_id)
            seen.append((sent.message_id, sent.chat_id))
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1], seen

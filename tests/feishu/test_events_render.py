"""Rendering details of Feishu events: message content with mentions, and the envelope codec."""

from __future__ import annotations

import json
from pathlib import Path

import lark_oapi as lark
import msgspec
from hypothesis import given
from hypothesis import strategies as st
from lark_oapi.api.im.v1 import P2ImMessageReactionCreatedV1

from protocol.feishu import ids
from protocol.feishu.events import (
    Emoji,
    EventEnvelope,
    EventHeader,
    MessageReactionV1,
    UserId,
    encode,
)
from server.core.directory import NewAccount
from server.core.model import Element, GroupType
from server.feishu.events import Mentioned, message_content
from server.settings import SCOPE_GROUP_MSG, FeishuAppSettings
from tests.harness import SDKAPPID, running_server

BOB = Mentioned("@_user_1", frozenset({"bob", ids.open_id("cli_x", "bob")}), "Bob")
CAROL = Mentioned("@_user_2", frozenset({"carol"}), "Carol")


def text_of(content: str) -> str:
    value = json.loads(content)["text"]
    assert isinstance(value, str)
    return value


def test_plain_text_is_a_text_message() -> None:
    """Text elements are joined into one text message whose content is a JSON string."""
    body = [Element("text", text="hello "), Element("text", text="world")]
    assert message_content(body, []) == ("text", '{"text":"hello world"}')


def test_mentions_written_by_name_become_keys() -> None:
    """``@Name`` (or ``@user_id``) in the text is replaced by the mention's key, in order."""
    body = [Element("text", text="@Bob and @carol, look")]
    _, content = message_content(body, [BOB, CAROL])
    assert text_of(content) == "@_user_1 and @_user_2, look"


def test_feishu_at_tags_become_keys() -> None:
    """A Feishu ``<at user_id="ou_...">`` tag naming a mentioned account becomes its key;
    ``<at user_id="all">`` becomes ``@_all``."""
    open_id = ids.open_id("cli_x", "bob")
    body = [Element("text", text=f'<at user_id="{open_id}">Bob</at> hi <at user_id="all"></at>')]
    _, content = message_content(body, [BOB])
    assert text_of(content) == "@_user_1 hi @_all"


def test_mentions_the_text_does_not_name_go_in_front() -> None:
    """A mention that the text does not name is put in front of the text."""
    _, content = message_content([Element("text", text="hi")], [BOB, CAROL])
    assert text_of(content) == "@_user_1 @_user_2 hi"


def test_non_text_elements() -> None:
    """A ``feishu:<type>`` element keeps its type, its data being the content; other vendors'
    elements are shown in a text message as ``[kind]``."""
    post: dict[str, object] = {"zh_cn": {"title": "t", "content": []}}
    assert message_content([Element("feishu:post", data=post)], []) == (
        "post",
        json.dumps(post, separators=(",", ":")),
    )
    image = [Element("feishu:image", data={"image_key": "img_1"})]
    assert message_content(image, []) == ("image", '{"image_key":"img_1"}')
    custom = [Element("text", text="see "), Element("tim:TIMCustomElem", data={"Data": "x"})]
    assert text_of(message_content(custom, [])[1]) == "see [TIMCustomElem]"


@given(st.text(max_size=60), st.lists(st.sampled_from([BOB, CAROL]), unique=True))
def test_every_mention_key_is_in_the_content(text: str, mentions: list[Mentioned]) -> None:
    """Whatever the text, the content is a JSON text message naming every mention's key."""
    message_type, content = message_content([Element("text", text=text)], mentions)
    assert message_type == "text"
    written = text_of(content)
    for m in mentions:
        assert m.key in written


def test_absent_optional_fields_are_left_out() -> None:
    """``token``, ``user_id`` and a reaction's ``app_id`` are omitted, never null, and the
    SDK's JSON decoder reads the result into its typed event."""
    envelope = EventEnvelope(
        header=EventHeader(
            event_id="e" * 32,
            event_type="im.message.reaction.created_v1",
            create_time="1700000000000",
            app_id="cli_x",
            tenant_key="tk",
        ),
        event=MessageReactionV1(
            message_id="om_1",
            reaction_type=Emoji(emoji_type="SMILE"),
            operator_type="user",
            user_id=UserId(union_id="on_1", open_id="ou_1"),
            action_time="1700000000001",
        ),
    )
    raw = encode(envelope)
    plain = json.loads(raw)
    assert "token" not in plain["header"]
    assert plain["event"] == {
        "message_id": "om_1",
        "reaction_type": {"emoji_type": "SMILE"},
        "operator_type": "user",
        "user_id": {"union_id": "on_1", "open_id": "ou_1"},
        "action_time": "1700000000001",
    }
    assert msgspec.json.decode(raw, type=EventEnvelope[MessageReactionV1]) == envelope
    sdk = lark.JSON.unmarshal(raw.decode(), P2ImMessageReactionCreatedV1)
    assert sdk.event.user_id.open_id == "ou_1"
    assert sdk.header.create_time == "1700000000000"


async def _first_event_ids(db: Path) -> dict[str, str]:
    """Start a server on ``db`` with two bots in group "team" (both hearing every group
    message), send one message there, and return each bot's event_id for it."""
    bots = [
        FeishuAppSettings(app_id=f"cli_{n}", app_secret="s", scopes=[SCOPE_GROUP_MSG])
        for n in ("one", "two")
    ]
    async with running_server(db, feishu_apps=bots) as srv:
        core, dialect = srv.wiring.core, srv.wiring.feishu
        await core.directory.import_accounts(SDKAPPID, [NewAccount("alice")])
        await core.groups.create(
            SDKAPPID,
            group_id="team",
            group_type=GroupType.WORK,
            name="team",
            owner="alice",
            members=[b.app_id for b in bots],
        )
        sent = await core.messages.send_group(
            SDKAPPID, "alice", "team", [Element("text", text="hi")]
        )
        stored = [
            e
            for e in await core.event_log.events(SDKAPPID, types=("message.sent",))
            if json.loads(e.body)["msg_id"] == sent.message.id
        ]
        (event,) = stored
        out = {}
        for bot in bots:
            (body,) = await dialect.renderer.render(bot, event)
            out[bot.app_id] = json.loads(body)["header"]["event_id"]
        return out


async def test_event_ids_differ_per_app_and_per_database(tmp_path: Path) -> None:
    """Two bots hearing one message get different event_ids, and a fresh database does not
    repeat the event_ids of another (a receiver that dedupes by event_id across test runs
    would drop events otherwise)."""
    first = await _first_event_ids(tmp_path / "a.sqlite3")
    assert len(set(first.values())) == 2
    other_db = await _first_event_ids(tmp_path / "b.sqlite3")
    assert not set(first.values()) & set(other_db.values())

"""im/v1 message reactions with the official SDK: create, list (filter, pages), delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from lark_oapi.api.im.v1 import (
    CreateMessageReactionRequest,
    CreateMessageReactionRequestBody,
    DeleteMessageReactionRequest,
    Emoji,
    ListMessageReactionRequest,
)

from clients.sim import SimClient, SimError
from protocol.feishu import errors as E
from server.core.clock import FakeClock
from tests.feishu.rest_support import OTHER_WORKSPACE, WORKSPACE, Env, app, feishu_server
from tests.feishu.test_rest_messages import delete
from tests.feishu.test_rest_read_users import create_chat


async def react(env: Env, message_id: str, emoji: str, **kwargs: object):  # type: ignore[no-untyped-def]
    body = CreateMessageReactionRequestBody.builder().reaction_type(
        Emoji.builder().emoji_type(emoji).build()
    )
    request = (
        CreateMessageReactionRequest.builder().message_id(message_id).request_body(body.build())
    )
    client = env.client(kwargs.get("app"))  # type: ignore[arg-type]
    return await env.call(client.im.v1.message_reaction.create, request.build())


async def unreact(env: Env, message_id: str, reaction_id: str):  # type: ignore[no-untyped-def]
    request = DeleteMessageReactionRequest.builder().message_id(message_id)
    request = request.reaction_id(reaction_id)
    return await env.call(env.client().im.v1.message_reaction.delete, request.build())


async def reactions(env: Env, message_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    builder = ListMessageReactionRequest.builder().message_id(message_id)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(env.client().im.v1.message_reaction.list, builder.build())


async def test_create_list_and_delete_reactions(tmp_path: Path) -> None:
    """The bot's reaction answers a MessageReaction (operator app, action_time in ms), the same
    emoji twice is one reaction; list shows the bot's and a user's reactions oldest first,
    filters by reaction_type and pages; delete answers the deleted reaction and removes it."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        chat_id = await create_chat(env, ["alice"])
        message_id = await env.sent_id(chat_id, receive_id_type="chat_id")
        first = await react(env, message_id, "THUMBSUP")
        assert first.success(), (first.code, first.msg)
        r = first.data
        assert r.reaction_id.startswith("rc_") and r.reaction_type.emoji_type == "THUMBSUP"
        assert (r.operator.operator_id, r.operator.operator_type) == (env.bot.app_id, "app")
        assert r.action_time == str(clock.now_ms())
        assert (await react(env, message_id, "THUMBSUP")).data.reaction_id == r.reaction_id
        clock.advance(seconds=1)
        number = env.srv.ids.parse_message_id(message_id) or 0
        await env.srv.wiring.core.reactions.add(WORKSPACE, "alice", number, "SMILE")

        listed = await reactions(env, message_id)
        assert [
            (i.reaction_type.emoji_type, i.operator.operator_type) for i in listed.data.items
        ] == [
            ("THUMBSUP", "app"),
            ("SMILE", "user"),
        ]
        assert listed.data.items[1].operator.operator_id == env.open_id("alice")
        by_user_id = await reactions(env, message_id, user_id_type="user_id")
        assert by_user_id.data.items[1].operator.operator_id == "alice"
        smiles = await reactions(env, message_id, reaction_type="SMILE")
        assert [i.operator.operator_type for i in smiles.data.items] == ["user"]
        page = await reactions(env, message_id, page_size=1)
        assert page.data.has_more and len(page.data.items) == 1
        rest = await reactions(env, message_id, page_size=1, page_token=page.data.page_token)
        assert [i.reaction_type.emoji_type for i in rest.data.items] == ["SMILE"]
        assert not rest.data.has_more

        gone = await unreact(env, message_id, r.reaction_id)
        assert gone.success() and gone.data.reaction_id == r.reaction_id
        listed = await reactions(env, message_id)
        assert [i.reaction_type.emoji_type for i in listed.data.items] == ["SMILE"]


async def test_reaction_refusals(tmp_path: Path) -> None:
    """Deleting a reaction twice or a made-up one answers 231011, another's 231007; a bad
    page_token 231012; an emoji_type over 64 characters 231001; a recalled message 231003;
    a chat the bot is not in 231002; another tenant's message 231008."""
    foreign = app("f", workspace=OTHER_WORKSPACE)
    bot = app()
    async with feishu_server(tmp_path, bot, foreign) as env:
        chat_id = await create_chat(env, ["alice"])
        message_id = await env.sent_id(chat_id, receive_id_type="chat_id")
        mine = (await react(env, message_id, "OK")).data.reaction_id
        assert (await unreact(env, message_id, mine)).success()
        assert (await unreact(env, message_id, mine)).code == E.REACTION_ID_INVALID
        assert (await unreact(env, message_id, "rc_made_up")).code == E.REACTION_ID_INVALID
        number = env.srv.ids.parse_message_id(message_id) or 0
        theirs = await env.srv.wiring.core.reactions.add(WORKSPACE, "alice", number, "OK")
        resp = await unreact(env, message_id, env.srv.ids.reaction_id(theirs.id))
        assert resp.code == E.REACTION_NOT_OWN
        bad_page = await reactions(env, message_id, page_token="%%%")
        assert bad_page.code == E.REACTION_PAGE_TOKEN_INVALID
        assert (await react(env, message_id, "X" * 65)).code == E.REACTION_TYPE_INVALID
        assert (await react(env, message_id, "OK", app=foreign)).code == E.REACTION_NO_ACCESS
        recalled = await env.sent_id("alice")
        assert (await delete(env, recalled)).success()
        assert (await react(env, recalled, "OK")).code == E.REACTION_MESSAGE_NOT_FOUND
        group = await env.srv.wiring.core.groups.by_conv(
            WORKSPACE, env.srv.ids.parse_chat_id(chat_id) or 0
        )
        await env.srv.wiring.core.groups.remove_members(WORKSPACE, group.group_id, [bot.app_id])
        assert (await react(env, message_id, "OK")).code == E.REACTION_NO_PERMISSION


async def test_only_feishus_emoji_types_are_reactions(tmp_path: Path) -> None:
    """An emoji_type that is not one of Feishu's 171 (a wrong case included) is 231001, with
    the right case suggested, and adds nothing; the list filter is checked the same way; the
    simulation API refuses it too."""
    async with feishu_server(tmp_path) as env:
        message_id = await env.sent_id("alice")
        for emoji in ("NOPE", "thumbsup", "😀"):
            resp = await react(env, message_id, emoji)
            assert resp.code == E.REACTION_TYPE_INVALID, (emoji, resp.code, resp.msg)
        assert "did you mean 'THUMBSUP'" in (await react(env, message_id, "thumbsup")).msg
        assert (await react(env, message_id, "Typing")).success()  # CamelCase is Feishu's own
        listed = await reactions(env, message_id)
        assert [i.reaction_type.emoji_type for i in listed.data.items] == ["Typing"]
        filtered = await reactions(env, message_id, reaction_type="typing")
        assert filtered.code == E.REACTION_TYPE_INVALID
        async with SimClient(env.srv.base_url) as sim:
            with pytest.raises(SimError) as refused:
                await sim.react("alice", message_id, "NOPE")
        assert refused.value.status == 400

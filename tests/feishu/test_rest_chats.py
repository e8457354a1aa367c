"""im/v1 chats and chat members with the official SDK."""

from __future__ import annotations

from pathlib import Path

from lark_oapi.api.im.v1 import (
    CreateChatMembersRequest,
    CreateChatMembersRequestBody,
    CreateChatRequest,
    CreateChatRequestBody,
    DeleteChatMembersRequest,
    DeleteChatMembersRequestBody,
    GetChatMembersRequest,
    GetChatRequest,
    ListChatRequest,
)

from protocol.feishu import errors as E
from protocol.feishu import ids
from tests.feishu.rest_support import OTHER_WORKSPACE, WORKSPACE, Env, app, feishu_server


async def create(env: Env, body: CreateChatRequestBody, **kwargs: object):  # type: ignore[no-untyped-def]
    builder = CreateChatRequest.builder().request_body(body)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(env.client().im.v1.chat.create, builder.build())


async def get_chat(env: Env, chat_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    client = env.client(kwargs.pop("app", None))  # type: ignore[arg-type]
    builder = GetChatRequest.builder().chat_id(chat_id)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(client.im.v1.chat.get, builder.build())


async def list_chats(env: Env, **kwargs: object):  # type: ignore[no-untyped-def]
    client = env.client(kwargs.pop("app", None))  # type: ignore[arg-type]
    builder = ListChatRequest.builder()
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(client.im.v1.chat.list, builder.build())


async def members(env: Env, chat_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    builder = GetChatMembersRequest.builder().chat_id(chat_id)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(env.client().im.v1.chat_members.get, builder.build())


async def add(env: Env, chat_id: str, id_list: list[str], id_type: str = "user_id"):  # type: ignore[no-untyped-def]
    request = (
        CreateChatMembersRequest.builder()
        .chat_id(chat_id)
        .member_id_type(id_type)
        .request_body(CreateChatMembersRequestBody.builder().id_list(id_list).build())
    )
    return await env.call(env.client().im.v1.chat_members.create, request.build())


async def remove(env: Env, chat_id: str, id_list: list[str], id_type: str = "user_id"):  # type: ignore[no-untyped-def]
    request = (
        DeleteChatMembersRequest.builder()
        .chat_id(chat_id)
        .member_id_type(id_type)
        .request_body(DeleteChatMembersRequestBody.builder().id_list(id_list).build())
    )
    return await env.call(env.client().im.v1.chat_members.delete, request.build())


async def test_create_get_and_list_chats(tmp_path: Path) -> None:
    """chat.create makes a chat owned by the bot with the users and bots named; chat.get counts
    users and bots apart; chat.list pages through the chats the bot is in, and only those."""
    bot, helper = app(), app("helper")
    async with feishu_server(tmp_path, bot, helper) as env:
        body = (
            CreateChatRequestBody.builder()
            .name("team")
            .user_id_list(["alice"])
            .bot_id_list([helper.app_id])
            .build()
        )
        created = await create(env, body, user_id_type="user_id")
        assert created.success(), (created.code, created.msg)
        chat = created.data
        assert chat.chat_id.startswith("oc_") and chat.name == "team"
        assert (chat.owner_id, chat.owner_id_type) == (bot.app_id, "app_id")
        assert (chat.chat_mode, chat.chat_type, chat.tenant_key) == (
            "group",
            "private",
            ids.tenant_key(WORKSPACE),
        )
        info = await get_chat(env, chat.chat_id)
        assert info.success() and info.data.name == "team"
        assert (info.data.user_count, info.data.bot_count, info.data.chat_status) == (
            "1",
            "2",
            "normal",
        )
        by_open_id = CreateChatRequestBody.builder().name("second")
        by_open_id = by_open_id.user_id_list([env.open_id("bob")]).owner_id(env.open_id("bob"))
        second = await create(env, by_open_id.chat_type("public").build())
        assert second.success() and second.data.owner_id == env.open_id("bob")
        assert second.data.chat_type == "public"
        await create(env, CreateChatRequestBody.builder().name("third").build())

        names, token = [], None
        for _ in range(5):
            page = await list_chats(env, page_size=2, **({"page_token": token} if token else {}))
            assert page.success()
            names += [c.name for c in page.data.items]
            if not page.data.has_more:
                break
            token = page.data.page_token
        assert names == ["team", "second", "third"]
        helper_chats = await list_chats(env, app=helper)
        assert [c.chat_id for c in helper_chats.data.items] == [chat.chat_id]


async def test_members_add_list_and_remove(tmp_path: Path) -> None:
    """Members are added by any id type (unknown ids come back as invalid), listed without bots
    in pages with their names and member_total, and removed with a DELETE carrying a body."""
    async with feishu_server(tmp_path) as env:
        created = await create(
            env,
            CreateChatRequestBody.builder().name("c").user_id_list(["alice"]).build(),
            user_id_type="user_id",
        )
        chat_id = created.data.chat_id
        added = await add(env, chat_id, [env.open_id("bob"), "ou_nobody"], "open_id")
        assert added.success() and added.data.invalid_id_list == ["ou_nobody"]
        assert added.data.not_existed_id_list == []
        assert (await add(env, chat_id, ["carol"])).success()
        listed = await members(env, chat_id, member_id_type="user_id", page_size=2)
        assert [m.member_id for m in listed.data.items] == ["alice", "bob"]
        assert listed.data.member_total == 3 and listed.data.has_more
        rest = await members(
            env, chat_id, member_id_type="user_id", page_size=2, page_token=listed.data.page_token
        )
        assert [(m.member_id, m.name) for m in rest.data.items] == [("carol", "carol")]
        by_open = await members(env, chat_id)
        assert by_open.data.items[0].member_id == env.open_id("alice")

        removed = await remove(env, chat_id, ["bob", "nobody"])
        assert removed.success() and removed.data.invalid_id_list == ["nobody"]
        assert (await remove(env, chat_id, ["bob"])).data.invalid_id_list == ["bob"]
        listed = await members(env, chat_id, member_id_type="user_id")
        assert [m.member_id for m in listed.data.items] == ["alice", "carol"]


async def test_chat_refusals(tmp_path: Path) -> None:
    """A malformed chat_id answers 232006, another tenant's chat 232010, a chat the bot left
    232011, an unknown user in chat.create 232001 (and no chat is made), a disabled bot 232025."""
    bot, foreign, off = app(), app("f", workspace=OTHER_WORKSPACE), app("off", bot_enabled=False)
    async with feishu_server(tmp_path, bot, foreign, off) as env:
        assert (await get_chat(env, "oc_nope")).code == E.CHAT_ID_INVALID
        chat_id = (
            await create(env, CreateChatRequestBody.builder().name("x").build())
        ).data.chat_id
        assert (await get_chat(env, chat_id, app=foreign)).code == E.CHAT_OTHER_TENANT
        assert (await get_chat(env, chat_id, app=off)).code == E.CHAT_BOT_DISABLED
        bad = CreateChatRequestBody.builder().name("y").user_id_list(["nobody"]).build()
        assert (await create(env, bad, user_id_type="user_id")).code == E.CHAT_INVALID_PARAM
        assert [c.name for c in (await list_chats(env)).data.items] == ["x"]
        assert (await remove(env, chat_id, [bot.app_id], "app_id")).success()
        assert (await get_chat(env, chat_id)).code == E.CHAT_OPERATOR_NOT_IN_CHAT
        assert (await add(env, chat_id, ["alice"])).code == E.CHAT_OPERATOR_NOT_IN_CHAT
        assert (await list_chats(env)).data.items == []

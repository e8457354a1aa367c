"""im/v1 read_users with the official SDK: readers only, with their read times, in pages; every
error code of Feishu's read_users page; the rate limit."""

from __future__ import annotations

import json
from pathlib import Path

from lark_oapi.api.im.v1 import (
    CreateChatRequest,
    CreateChatRequestBody,
    DeleteChatMembersRequest,
    DeleteChatMembersRequestBody,
    DeleteMessageRequest,
)

from protocol.feishu import errors as E
from protocol.feishu import ids
from server.core.clock import FakeClock
from server.core.model import Element
from tests.feishu.rest_support import OTHER_WORKSPACE, WORKSPACE, Env, app, feishu_server, text


async def create_chat(env: Env, users: list[str]) -> str:
    """The bot creates a chat with ``users`` (by user_id) and returns its chat_id."""
    request = (
        CreateChatRequest.builder()
        .user_id_type("user_id")
        .request_body(CreateChatRequestBody.builder().name("team").user_id_list(users).build())
        .build()
    )
    resp = await env.call(env.client().im.v1.chat.create, request)
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data is not None and resp.data.chat_id is not None
    return resp.data.chat_id


async def test_p2p_readers_are_listed_with_their_read_time(tmp_path: Path) -> None:
    """After alice reads her p2p chat with the bot, read_users of the bot's message to her lists
    alice (by the id type asked) with the read time in ms; a message nobody read lists nobody."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        to_alice = await env.sent_id("alice")
        to_bob = await env.sent_id("bob")
        clock.advance(seconds=5)
        await env.mark_read("alice")
        read_ms = str(clock.now_ms())
        assert await env.readers(to_alice) == [("alice", read_ms)]
        resp = await env.read_users(to_alice, "open_id")
        assert resp.data is not None and resp.data.items is not None
        (item,) = resp.data.items
        assert (item.user_id_type, item.user_id) == ("open_id", env.open_id("alice"))
        assert item.tenant_key == ids.tenant_key(WORKSPACE) and not resp.data.has_more
        union = await env.readers(to_alice, user_id_type="union_id")
        assert union == [(ids.union_id(WORKSPACE, "alice"), read_ms)]
        assert await env.readers(to_bob) == []


async def test_group_readers_are_ordered_by_read_time(tmp_path: Path) -> None:
    """In a chat, read_users lists the members who read the bot's message (by reading the
    chat), earliest first, and never those who did not."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        chat_id = await create_chat(env, ["alice", "bob", "carol"])
        message_id = await env.sent_id(chat_id, receive_id_type="chat_id")
        core = env.srv.wiring.core
        group = await core.groups.by_conv(WORKSPACE, env.srv.ids.parse_chat_id(chat_id) or 0)
        times = {}
        for user in ("carol", "alice"):
            clock.advance(seconds=3)
            await core.reads.mark_group(WORKSPACE, user, group.group_id)
            times[user] = str(clock.now_ms())
        assert await env.readers(message_id) == [
            ("carol", times["carol"]),
            ("alice", times["alice"]),
        ]


async def test_a_tim_receipt_for_a_bot_message_is_a_read(tmp_path: Path) -> None:
    """A message the bot sent over open-apis keeps read state: a TIM user's per-message
    receipt (sendMessageReadReceipts) for it makes read_users list that user."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        message_id = await env.sent_id("alice")
        clock.advance(seconds=2)
        number = env.srv.ids.parse_message_id(message_id)
        assert number is not None
        await env.srv.wiring.core.receipts.send_ids(WORKSPACE, "alice", [number])
        assert await env.readers(message_id) == [("alice", str(clock.now_ms()))]


async def test_read_users_needs_one_of_its_scopes(tmp_path: Path) -> None:
    """An app with none of im:message, im:message:readonly or im:message:basic gets 99991672
    naming them; any one of them is enough."""
    basic = app("basic", scopes=["im:message:basic", "contact:user.employee_id:readonly"])
    bare = app("bare", scopes=["contact:user.employee_id:readonly"])
    async with feishu_server(tmp_path, basic, bare) as env:
        from_basic = await env.sent_id("alice", app=basic)
        assert await env.readers(from_basic, app=basic) == []
        refused = await env.read_users(await env.sent_id("alice", app=bare), app=bare)
        assert refused.code == E.SCOPE_MISSING
        assert "im:message:readonly" in refused.msg


async def test_bots_are_never_listed_as_readers(tmp_path: Path) -> None:
    """Another bot of the workspace reading the chat is no reader: read_users lists users."""
    bot, other = app("a"), app("b")
    async with feishu_server(tmp_path, bot, other) as env:
        chat_id = await create_chat(env, ["alice", "bob"])
        core = env.srv.wiring.core
        group = await core.groups.by_conv(WORKSPACE, env.srv.ids.parse_chat_id(chat_id) or 0)
        await core.groups.add_members(WORKSPACE, group.group_id, [other.app_id])
        message_id = await env.sent_id(chat_id, receive_id_type="chat_id")
        await core.reads.mark_group(WORKSPACE, other.app_id, group.group_id)
        await core.reads.mark_group(WORKSPACE, "alice", group.group_id)
        assert [user for user, _ in await env.readers(message_id)] == ["alice"]


async def test_pages_follow_page_token_and_bad_params_are_230001(tmp_path: Path) -> None:
    """page_size and page_token walk the readers in order without repeats; a page_token not
    made by the server, page_size 0 or 101, a missing user_id_type and a made-up message id
    answer 230001."""
    clock = FakeClock()
    users = tuple(f"u{i}" for i in range(5))
    async with feishu_server(tmp_path, users=users, clock=clock) as env:
        chat_id = await create_chat(env, list(users))
        message_id = await env.sent_id(chat_id, receive_id_type="chat_id")
        core = env.srv.wiring.core
        group = await core.groups.by_conv(WORKSPACE, env.srv.ids.parse_chat_id(chat_id) or 0)
        for user in reversed(users):
            clock.advance(ms=10)
            await core.reads.mark_group(WORKSPACE, user, group.group_id)
        seen, token, pages = [], None, 0
        while True:
            resp = await env.read_users(message_id, page_size=2, page_token=token)
            assert resp.success() and resp.data is not None
            seen += [r.user_id for r in resp.data.items or []]
            pages += 1
            if not resp.data.has_more:
                assert resp.data.page_token is None
                break
            token = resp.data.page_token
        assert (seen, pages) == (list(reversed(users)), 3)
        for kwargs in (
            {"page_token": "not-a-token"},
            {"page_size": 0},
            {"page_size": 101},
            {"user_id_type": None},
            {"user_id_type": "email"},
        ):
            resp = await env.read_users(message_id, **kwargs)  # type: ignore[arg-type]
            assert resp.code == E.MSG_INVALID_PARAM, kwargs
        assert (await env.read_users("om_made_up")).code == E.MSG_INVALID_PARAM


async def test_only_the_bots_own_recent_undeleted_messages(tmp_path: Path) -> None:
    """Another bot of the tenant gets 230012 for the bot's message, a bot of another tenant
    230027; more than 7 days after sending the sender gets 230033 (once it fetched a new token:
    the cached one has expired with the clock); a recalled message answers 230110, naming it."""
    clock = FakeClock()
    bot, peer_bot, foreign = app("a"), app("b"), app("f", workspace=OTHER_WORKSPACE)
    async with feishu_server(tmp_path, bot, peer_bot, foreign, clock=clock) as env:
        message_id = await env.sent_id("alice")
        assert (await env.read_users(message_id, app=peer_bot)).code == E.MSG_BOT_NOT_SENDER
        assert (await env.read_users(message_id, app=foreign)).code == E.MSG_NO_PERMISSION
        deleted = await env.sent_id("bob")
        request = DeleteMessageRequest.builder().message_id(deleted).build()
        assert (await env.call(env.client().im.v1.message.delete, request)).success()
        refused = await env.read_users(deleted)
        assert refused.code == E.MSG_DELETED
        assert deleted in refused.msg  # the om_ id the caller knows, not an internal number
        # another bot learns nothing of it: not its message comes first
        assert (await env.read_users(deleted, app=peer_bot)).code == E.MSG_BOT_NOT_SENDER
        clock.advance(days=7)
        assert (await env.read_users(message_id)).code == E.TOKEN_INVALID
        env.forget_token(bot)
        assert (await env.readers(message_id)) == []  # exactly 7 days: still allowed
        clock.advance(ms=1)
        assert (await env.read_users(message_id)).code == E.MSG_READ_TOO_OLD


async def test_bot_out_of_the_chat_disabled_or_out_of_reach(tmp_path: Path) -> None:
    """A bot that left the chat gets 230002; a bot whose ability is off 230006; a p2p message
    to a user outside the bot's reach 230013 (sending to that user is refused the same way)."""
    bot, off = app("r", reach=["alice"]), app("off", bot_enabled=False)
    async with feishu_server(tmp_path, bot, off) as env:
        chat_id = await create_chat(env, ["alice"])
        in_chat = await env.sent_id(chat_id, receive_id_type="chat_id")
        request = (
            DeleteChatMembersRequest.builder()
            .chat_id(chat_id)
            .member_id_type("app_id")
            .request_body(DeleteChatMembersRequestBody.builder().id_list([bot.app_id]).build())
            .build()
        )
        assert (await env.call(env.client().im.v1.chat_members.delete, request)).success()
        assert (await env.read_users(in_chat)).code == E.MSG_BOT_NOT_IN_CHAT
        assert (await env.read_users(in_chat, app=off)).code == E.MSG_BOT_DISABLED
        assert (await env.send("bob")).code == E.MSG_USER_UNREACHABLE
        core = env.srv.wiring.core  # a message the bot sent to bob before its reach shrank
        sent = await core.messages.send_c2c(
            WORKSPACE, bot.app_id, "bob", [Element(kind="text", text="old")]
        )
        to_bob = env.srv.ids.message_id(sent.message.id)
        assert (await env.read_users(to_bob)).code == E.MSG_USER_UNREACHABLE
        assert (await env.readers(await env.sent_id("alice"))) == []


async def test_rate_limit_is_50_calls_per_clock_second(tmp_path: Path) -> None:
    """The 51st read_users call in one second answers HTTP 429 with x-ogw-ratelimit-limit/
    reset and code 99991400 (which the SDK returns as is); a second later calls pass again."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        message_id = await env.sent_id("alice", text("x"))
        for _ in range(50):
            assert (await env.read_users(message_id)).success()
        limited = await env.read_users(message_id)
        assert limited.code == E.RATE_LIMITED and limited.raw.status_code == 429
        headers = {k.lower(): v for k, v in limited.raw.headers.items()}
        assert headers["x-ogw-ratelimit-limit"] == "50"
        assert headers["x-ogw-ratelimit-reset"] == "1"
        assert json.loads(limited.raw.content)["code"] == E.RATE_LIMITED
        clock.advance(seconds=1)
        assert (await env.read_users(message_id)).success()

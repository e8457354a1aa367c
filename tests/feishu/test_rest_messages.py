"""im/v1 messages with the official SDK: create by every receive_id_type, uuid idempotency,
reply, get, chat history in pages, delete (recall)."""

from __future__ import annotations

import json
from pathlib import Path

from lark_oapi.api.im.v1 import (
    DeleteMessageRequest,
    GetMessageRequest,
    ListMessageRequest,
    ListMessageResponse,
    Message,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)

from protocol.feishu import errors as E
from protocol.feishu import ids
from server.core.clock import FakeClock
from tests.feishu.rest_support import OTHER_WORKSPACE, WORKSPACE, Env, app, feishu_server, text
from tests.feishu.test_rest_read_users import create_chat


async def get(env: Env, message_id: str, **kwargs: object) -> Message:
    resp = await get_resp(env, message_id, **kwargs)
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data is not None and resp.data.items is not None
    (message,) = resp.data.items
    return message


async def get_resp(env: Env, message_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    client = env.client(kwargs.pop("app", None))  # type: ignore[arg-type]
    builder = GetMessageRequest.builder().message_id(message_id)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(client.im.v1.message.get, builder.build())


async def reply(env: Env, message_id: str, value: str, uuid: str | None = None):  # type: ignore[no-untyped-def]
    body = ReplyMessageRequestBody.builder().msg_type("text").content(text(value))
    if uuid:
        body = body.uuid(uuid)
    request = ReplyMessageRequest.builder().message_id(message_id).request_body(body.build())
    return await env.call(env.client().im.v1.message.reply, request.build())


async def delete(env: Env, message_id: str):  # type: ignore[no-untyped-def]
    request = DeleteMessageRequest.builder().message_id(message_id).build()
    return await env.call(env.client().im.v1.message.delete, request)


async def history(env: Env, chat_id: str, **kwargs: object) -> ListMessageResponse:
    builder = ListMessageRequest.builder().container_id_type("chat").container_id(chat_id)
    for name, value in kwargs.items():
        builder = getattr(builder, name)(value)
    return await env.call(env.client().im.v1.message.list, builder.build())


async def test_create_by_every_receive_id_type(tmp_path: Path) -> None:
    """open_id, user_id, union_id and email all reach alice's p2p chat (one chat_id), chat_id
    reaches a chat; each answer is the Message the SDK parses, with digit-string times."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        ways = {
            "open_id": env.open_id("alice"),
            "user_id": "alice",
            "union_id": ids.union_id(WORKSPACE, "alice"),
            "email": ids.email("alice"),
        }
        chats = set()
        for receive_id_type, receive_id in ways.items():
            resp = await env.send(
                receive_id, text(receive_id_type), receive_id_type=receive_id_type
            )
            assert resp.success(), (receive_id_type, resp.code, resp.msg)
            m = resp.data
            assert m is not None and m.message_id is not None and m.message_id.startswith("om_")
            assert m.msg_type == "text"
            assert json.loads(m.body.content) == {"text": receive_id_type}
            assert m.create_time == m.update_time == str(clock.now_ms())
            assert (m.deleted, m.updated, m.root_id, m.parent_id) == (False, False, "", "")
            assert (m.sender.id, m.sender.id_type, m.sender.sender_type) == (
                env.bot.app_id,
                "app_id",
                "app",
            )
            assert m.sender.tenant_key == ids.tenant_key(WORKSPACE)
            chats.add(m.chat_id)
        (p2p,) = chats
        assert (await env.send(p2p, receive_id_type="chat_id")).data.chat_id == p2p  # type: ignore[union-attr]
        group = await create_chat(env, ["bob"])
        assert (await env.send(group, receive_id_type="chat_id")).data.chat_id == group  # type: ignore[union-attr]


async def test_bad_receivers_and_bodies_are_230001_and_change_nothing(tmp_path: Path) -> None:
    """An unknown user or chat, a malformed chat_id, an unknown receive_id_type, content that
    is not a JSON object or text without "text" answer 230001, and nothing is sent."""
    async with feishu_server(tmp_path) as env:
        cases = [
            ({"receive_id": "nobody"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "ou_" + "0" * 32, "receive_id_type": "open_id"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "oc_nope", "receive_id_type": "chat_id"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "alice", "receive_id_type": "phone"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "alice", "content": "hi"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "alice", "content": "[1]"}, E.MSG_INVALID_PARAM),
            ({"receive_id": "alice", "content": '{"txt": "x"}'}, E.MSG_INVALID_PARAM),
        ]
        for kwargs, code in cases:
            resp = await env.send(**kwargs)  # type: ignore[arg-type]
            assert resp.code == code, kwargs
        p2p = (await env.send("alice")).data.chat_id  # type: ignore[union-attr]
        listed = await history(env, p2p)
        assert listed.data is not None and len(listed.data.items or []) == 1


async def test_uuid_makes_a_send_idempotent(tmp_path: Path) -> None:
    """Two creates with one uuid answer the same message (sent once); another uuid sends again;
    a reply's uuid works the same way."""
    async with feishu_server(tmp_path) as env:
        first = await env.sent_id("alice", uuid="req-1")
        assert await env.sent_id("alice", uuid="req-1") == first
        assert await env.sent_id("alice", uuid="req-2") != first
        r1 = await reply(env, first, "re", uuid="req-3")
        r2 = await reply(env, first, "re", uuid="req-3")
        assert r1.data.message_id == r2.data.message_id
        p2p = (await get(env, first)).chat_id
        assert len((await history(env, p2p)).data.items) == 3  # type: ignore[union-attr,arg-type]


async def test_reply_keeps_the_conversation_and_thread(tmp_path: Path) -> None:
    """A reply goes to the replied message's chat with parent_id set to it and root_id to the
    first message of the thread; replying to a recalled message answers 230011."""
    async with feishu_server(tmp_path) as env:
        chat_id = await create_chat(env, ["alice"])
        root = await env.sent_id(chat_id, receive_id_type="chat_id")
        first = await reply(env, root, "one")
        assert first.success(), first.msg
        second = await reply(env, first.data.message_id, "two")
        assert (second.data.chat_id, second.data.parent_id, second.data.root_id) == (
            chat_id,
            first.data.message_id,
            root,
        )
        assert (first.data.parent_id, first.data.root_id) == (root, root)
        p2p_root = await env.sent_id("bob")
        assert (await reply(env, p2p_root, "p2p")).data.chat_id == (
            await get(env, p2p_root)
        ).chat_id
        assert (await delete(env, p2p_root)).success()
        assert (await reply(env, p2p_root, "late")).code == E.MSG_RECALLED


async def test_get_renders_users_mentions_and_other_types(tmp_path: Path) -> None:
    """get answers {items: [message]}: a user's message with an open_id sender, a text with an
    <at> tag as @_user_1 plus its mention, and a non-text msg_type with its content as sent;
    another tenant's bot gets 230027 and an unknown id 230001."""
    foreign = app("f", workspace=OTHER_WORKSPACE)
    bot = app()
    async with feishu_server(tmp_path, bot, foreign) as env:
        chat_id = await create_chat(env, ["alice", "bob"])
        alice = env.open_id("alice")
        tagged = text(f'<at user_id="{alice}">Alice</at> look')
        mention_id = (await env.send(chat_id, tagged, receive_id_type="chat_id")).data.message_id  # type: ignore[union-attr]
        m = await get(env, mention_id)
        assert json.loads(m.body.content) == {"text": "@_user_1 look"}
        (mention,) = m.mentions
        assert (mention.key, mention.id, mention.id_type, mention.name) == (
            "@_user_1",
            alice,
            "open_id",
            "alice",
        )
        post = {"zh_cn": {"title": "T", "content": [[{"tag": "text", "text": "x"}]]}}
        sent = await env.send(chat_id, json.dumps(post), receive_id_type="chat_id", msg_type="post")
        assert sent.success() and sent.data.msg_type == "post"  # type: ignore[union-attr]
        got = await get(env, sent.data.message_id)  # type: ignore[union-attr]
        assert (got.msg_type, json.loads(got.body.content)) == ("post", post)
        await env.admin.call(
            "openim",
            "sendmsg",
            {
                "From_Account": "bob",
                "To_Account": bot.app_id,
                "MsgRandom": 7,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "from bob"}}],
            },
        )
        p2p = (await env.send("bob")).data.chat_id  # type: ignore[union-attr]
        listed = await history(env, p2p, with_sender_name=True)
        from_bob = listed.data.items[0]  # type: ignore[union-attr,index]
        assert (from_bob.sender.id, from_bob.sender.id_type, from_bob.sender.sender_type) == (
            env.open_id("bob"),
            "open_id",
            "user",
        )
        assert from_bob.sender.sender_name == "bob"
        assert json.loads(from_bob.body.content) == {"text": "from bob"}
        assert (await get_resp(env, mention_id, app=foreign)).code == E.MSG_NO_PERMISSION
        assert (await get_resp(env, "om_" + "0" * 30)).code == E.MSG_INVALID_PARAM


async def test_history_pages_in_both_orders_within_a_time_range(tmp_path: Path) -> None:
    """list walks a chat's messages oldest first (or newest first) page by page, keeps to
    start_time..end_time (seconds), and refuses a bad page_token or a thread container (230001)."""
    clock = FakeClock()
    async with feishu_server(tmp_path, clock=clock) as env:
        sent, times = [], []
        for i in range(5):
            sent.append(await env.sent_id("alice", f"m{i}"))
            times.append(clock.now_ms() // 1000)
            clock.advance(seconds=10)
        p2p = (await get(env, sent[0])).chat_id

        async def walk(**kwargs: object) -> list[str]:
            out: list[str] = []
            token = None
            for _ in range(10):
                extra = {"page_token": token} if token else {}
                resp = await history(env, p2p, page_size=2, **kwargs, **extra)
                assert resp.success(), (resp.code, resp.msg)
                out += [m.message_id for m in resp.data.items or []]  # type: ignore[union-attr]
                if not resp.data.has_more:  # type: ignore[union-attr]
                    return out
                token = resp.data.page_token  # type: ignore[union-attr]
            raise AssertionError("too many pages")

        assert await walk() == sent
        assert await walk(sort_type="ByCreateTimeDesc") == sent[::-1]
        assert await walk(start_time=str(times[1]), end_time=str(times[3])) == sent[1:4]
        assert (await history(env, p2p, page_token="zzz")).code == E.MSG_INVALID_PARAM
        assert (await history(env, p2p, page_size=51)).code == E.MSG_INVALID_PARAM
        thread = ListMessageRequest.builder().container_id_type("thread").container_id(p2p)
        resp = await env.call(env.client().im.v1.message.list, thread.build())
        assert resp.code == E.MSG_INVALID_PARAM


async def test_delete_recalls_only_the_bots_own_messages(tmp_path: Path) -> None:
    """delete recalls the bot's message: get then shows deleted with the recalled text; deleting
    it again answers 230110, a user's message 230026, another tenant's 230027."""
    foreign = app("f", workspace=OTHER_WORKSPACE)
    bot = app()
    async with feishu_server(tmp_path, bot, foreign) as env:
        mine = await env.sent_id("alice")
        assert (await delete(env, mine)).success()
        gone = await get(env, mine)
        assert gone.deleted and gone.body.content == "This message was recalled"
        assert (await delete(env, mine)).code == E.MSG_DELETED
        await env.admin.call(
            "openim",
            "sendmsg",
            {
                "From_Account": "alice",
                "To_Account": bot.app_id,
                "MsgRandom": 9,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "mine"}}],
            },
        )
        listed = await history(env, gone.chat_id)
        theirs = [m for m in listed.data.items if m.sender.sender_type == "user"]  # type: ignore[union-attr]
        assert (await delete(env, theirs[0].message_id)).code == E.MSG_NO_RECALL_PERMISSION
        other = await env.sent_id("bob")
        request = DeleteMessageRequest.builder().message_id(other).build()
        resp = await env.call(env.client(foreign).im.v1.message.delete, request)
        assert resp.code == E.MSG_NO_PERMISSION
        assert not (await get(env, other)).deleted

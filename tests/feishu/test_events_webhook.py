"""Feishu events end to end: a real server POSTs to a webhook run by lark-oapi's own handler.

Every wait is on the receiver filling up, with a timeout; never a sleep. Events of one app are
delivered one at a time in outbox order, so "nothing was sent for X" is shown by a later event
arriving with nothing in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lark_oapi.api.im.v1 import (
    P2ImMessageMessageReadV1,
    P2ImMessageReactionCreatedV1,
    P2ImMessageReactionDeletedV1,
    P2ImMessageReceiveV1,
)

from clients.sim import SimClient
from protocol.feishu import ids
from protocol.feishu.webhook_crypto import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from server.core.model import Element, GroupType
from server.settings import (
    SCOPE_GROUP_MSG,
    AppSettings,
    FeishuAppSettings,
    FeishuSettings,
    Settings,
)
from tests.e2e.receiver import OutboxLog, closed_port
from tests.feishu.lark_receiver import Hit, LarkReceiver
from tests.harness import KEY, SDKAPPID, Running, running_server

BOT = "cli_a1b2c3d4e5f6"
BOT_NAME = "Helper"
KEY_ = "an-encrypt-key"
TOKEN = "a-verification-token"
TK = ids.tenant_key(SDKAPPID)
FAST = {"retry_initial": 0.05, "retry_max": 0.2}
RECEIVE = "im.message.receive_v1"
READ = "im.message.message_read_v1"
CREATED = "im.message.reaction.created_v1"
DELETED = "im.message.reaction.deleted_v1"


@pytest.fixture
async def outbox_log() -> AsyncIterator[OutboxLog]:
    """The log lines of the in-process server's outbox, as they are written."""
    handler = OutboxLog()
    logger = logging.getLogger("server.outbox")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.asynccontextmanager
async def bot_server(
    tmp_path: Path, url: str, *, encrypt_key: str = KEY_, token: str = TOKEN, **app: Any
) -> AsyncIterator[Running]:
    """A server whose workspace has alice, bob, carol and a bot whose webhook is ``url``."""
    feishu = FeishuAppSettings(
        app_id=BOT,
        app_secret="secret",
        name=BOT_NAME,
        encrypt_key=encrypt_key,
        verification_token=token,
        event_url=url,
        **{**FAST, **app},
    )
    async with running_server(
        tmp_path / "im.sqlite3",
        apps=[AppSettings(sdkappid=SDKAPPID, secret_key=KEY, users=["alice", "bob", "carol"])],
        feishu_apps=[feishu],
    ) as srv:
        yield srv


@contextlib.asynccontextmanager
async def receiver_and_server(
    tmp_path: Path, *, encrypt_key: str = KEY_, token: str = TOKEN, **app: Any
) -> AsyncIterator[tuple[LarkReceiver, Running]]:
    async with (
        LarkReceiver(encrypt_key, token) as receiver,
        bot_server(tmp_path, receiver.url, encrypt_key=encrypt_key, token=token, **app) as srv,
    ):
        await srv.wiring.feishu.webhooks[BOT].start_verification()  # the challenge is logged
        yield receiver, srv


def text(value: str) -> list[Element]:
    return [Element("text", text=value)]


def uid(user: str, *, with_user_id: bool = True) -> dict[str, str]:
    out = {"union_id": ids.union_id(SDKAPPID, user), "open_id": ids.open_id(BOT, user)}
    if with_user_id:
        out["user_id"] = user
    return out


def check_envelope(hit: Hit, event_type: str, *, token: str | None = TOKEN) -> dict[str, Any]:
    """The schema-2.0 envelope with every header key, all strings; returns ``event``."""
    plain = hit.plain
    assert set(plain) == {"schema", "header", "event"}
    assert plain["schema"] == "2.0"
    header = plain["header"]
    expected = {"event_id", "event_type", "create_time", "app_id", "tenant_key"}
    assert set(header) == (expected | {"token"} if token else expected)
    assert all(isinstance(v, str) for v in header.values())
    assert header["event_type"] == event_type
    assert header["app_id"] == BOT
    assert header["tenant_key"] == TK
    assert header["create_time"].isdigit() and len(header["create_time"]) == 13
    assert len(header["event_id"]) == 32
    if token:
        assert header["token"] == token
    event: dict[str, Any] = plain["event"]
    return event


async def group_with_bot(srv: Running, *members: str, group_id: str = "team") -> None:
    await srv.wiring.core.groups.create(
        SDKAPPID,
        group_id=group_id,
        group_type=GroupType.WORK,
        name=group_id,
        owner=members[0],
        members=list(members[1:]),
    )


# -- im.message.receive_v1 ------------------------------------------------------------------


async def test_p2p_message_to_the_bot_is_received(tmp_path: Path) -> None:
    """A user's one-to-one message to the bot (over the TIM WebSocket) reaches the webhook as an
    encrypted, signed im.message.receive_v1 that the SDK decodes, with every documented field."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        async with srv.client("alice") as alice:
            await alice.send_c2c_message(BOT, "hello bot")
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
        history = await srv.wiring.core.messages.c2c_history(SDKAPPID, "alice", BOT, count=1)
        message = history[0].message

    hit = receiver.events[0]
    assert set(json.loads(hit.body)) == {"encrypt"}
    assert {HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE} <= set(hit.headers)
    event = check_envelope(hit, RECEIVE)
    assert set(event) == {"sender", "message"}
    assert event["sender"] == {"sender_id": uid("alice"), "sender_type": "user", "tenant_key": TK}
    msg = event["message"]
    assert list(msg) == [
        "message_id",
        "root_id",
        "parent_id",
        "create_time",
        "update_time",
        "chat_id",
        "chat_type",
        "message_type",
        "content",
        "mentions",
    ]
    assert msg["message_id"] == srv.ids.message_id(message.id)
    assert msg["root_id"] == msg["parent_id"] == ""
    assert msg["create_time"] == msg["update_time"] == str(message.time_ms)
    assert msg["chat_id"] == srv.ids.chat_id(message.conv_id)
    assert msg["chat_type"] == "p2p"
    assert msg["message_type"] == "text"
    assert msg["content"] == '{"text":"hello bot"}'
    assert msg["mentions"] == []

    sdk = hit.sdk
    assert isinstance(sdk, P2ImMessageReceiveV1)
    assert sdk.header.event_type == RECEIVE
    assert sdk.event.sender.sender_id.open_id == ids.open_id(BOT, "alice")
    assert sdk.event.message.chat_type == "p2p"
    assert json.loads(sdk.event.message.content) == {"text": "hello bot"}


async def test_plaintext_webhook_without_token(tmp_path: Path) -> None:
    """An app without Encrypt Key or token gets plaintext JSON, no signature headers and no
    header.token, and the SDK built with ("", "") accepts it."""
    async with receiver_and_server(tmp_path, encrypt_key="", token="") as (receiver, srv):
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "bob", BOT, text("plain"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
    hit = receiver.events[0]
    assert "encrypt" not in json.loads(hit.body)
    assert HEADER_SIGNATURE not in hit.headers
    assert hit.headers["Content-Type"].startswith("application/json")
    event = check_envelope(hit, RECEIVE, token=None)
    assert event["sender"]["sender_id"] == uid("bob")
    assert isinstance(hit.sdk, P2ImMessageReceiveV1)


async def test_token_without_encryption(tmp_path: Path) -> None:
    """With a verification token and no Encrypt Key the event is plaintext carrying
    header.token, which the SDK checks."""
    async with receiver_and_server(tmp_path, encrypt_key="") as (receiver, srv):
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "bob", BOT, text("hi"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
    check_envelope(receiver.events[0], RECEIVE, token=TOKEN)
    assert receiver.events[0].sdk.header.token == TOKEN


async def test_encryption_without_token(tmp_path: Path) -> None:
    """With an Encrypt Key and no token the event is encrypted and signed, carries no
    header.token, and the SDK built with (key, "") verifies the signature and accepts it."""
    async with receiver_and_server(tmp_path, token="") as (receiver, srv):
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "bob", BOT, text("hi"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
    hit = receiver.events[0]
    assert set(json.loads(hit.body)) == {"encrypt"}
    assert HEADER_SIGNATURE in hit.headers
    check_envelope(hit, RECEIVE, token=None)
    assert receiver.challenges[0].plain["token"] == ""


async def test_user_id_needs_its_scope(tmp_path: Path) -> None:
    """Without the user-id scope, ids carry union_id and open_id but no user_id."""
    async with receiver_and_server(tmp_path, scopes=["im:message"]) as (receiver, srv):
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "alice", BOT, text("hi"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
    event = check_envelope(receiver.events[0], RECEIVE)
    assert event["sender"]["sender_id"] == uid("alice", with_user_id=False)


async def test_group_message_mentioning_the_bot(tmp_path: Path) -> None:
    """In a group with the bot, only a message that mentions it is received (without the
    group-message scope); the mention is written "@_user_1" and listed with the bot's ids (open
    and union ids: a bot has no user_id)."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        await group_with_bot(srv, "alice", "bob", BOT)
        await core.messages.send_group(SDKAPPID, "alice", "team", text("no mention"))
        reply_to = await core.messages.get(
            SDKAPPID,
            (await core.messages.send_group(SDKAPPID, "bob", "team", text("root"))).message.id,
        )
        sent = await core.messages.send_group(
            SDKAPPID,
            "alice",
            "team",
            text(f"@{BOT_NAME} please look"),
            mentions=[BOT],
            reply_to=reply_to,
        )
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
        await core.messages.send_c2c(SDKAPPID, "carol", BOT, text("barrier"))
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="the barrier")

    hit = receiver.events[0]
    msg = check_envelope(hit, RECEIVE)["message"]
    assert msg["message_id"] == srv.ids.message_id(sent.message.id)
    assert msg["chat_type"] == "group"
    assert msg["chat_id"] == srv.ids.chat_id(sent.message.conv_id)
    assert msg["parent_id"] == msg["root_id"] == srv.ids.message_id(reply_to.id)
    assert msg["content"] == '{"text":"@_user_1 please look"}'
    assert msg["mentions"] == [
        {"key": "@_user_1", "id": uid(BOT, with_user_id=False), "name": BOT_NAME, "tenant_key": TK}
    ]
    assert hit.sdk.event.message.mentions[0].key == "@_user_1"
    assert json.loads(receiver.events[1].plain["event"]["message"]["content"]) == {
        "text": "barrier"
    }


async def test_group_message_scope_receives_every_group_message(tmp_path: Path) -> None:
    """With im:message.group_msg the bot receives unmentioned group messages too, but not
    those of a group it is not in, nor its own."""
    scopes = ["im:message", SCOPE_GROUP_MSG]
    async with receiver_and_server(tmp_path, scopes=scopes) as (receiver, srv):
        core = srv.wiring.core
        await group_with_bot(srv, "alice", "bob", BOT)
        await group_with_bot(srv, "alice", "bob", group_id="elsewhere")
        await core.messages.send_group(SDKAPPID, "alice", "elsewhere", text("not for the bot"))
        await core.messages.send_group(SDKAPPID, BOT, "team", text("the bot's own"))
        await core.messages.send_group(SDKAPPID, "bob", "team", text("no mention"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
        await core.messages.send_c2c(SDKAPPID, "carol", BOT, text("barrier"))
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="the barrier")
    msg = check_envelope(receiver.events[0], RECEIVE)["message"]
    assert msg["content"] == '{"text":"no mention"}'
    assert msg["mentions"] == []
    assert receiver.events[0].plain["event"]["sender"]["sender_id"] == uid(
        "bob", with_user_id=False
    )


# -- im.message.message_read_v1 -------------------------------------------------------------


async def test_reading_the_bots_messages(tmp_path: Path) -> None:
    """A user's conversation read (TIM markC2CMessageAsRead, then the core) sends
    message_read_v1 naming only the bot's messages read for the first time; a second read
    sends nothing, and a receipt for a message already read sends nothing either."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        first = [
            (await core.messages.send_c2c(SDKAPPID, BOT, "alice", text(f"m{i}"))).message
            for i in range(2)
        ]
        async with srv.client("alice") as alice:
            await alice.mark_c2c_message_as_read(BOT)
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="message_read_v1")
        third = (await core.messages.send_c2c(SDKAPPID, BOT, "alice", text("m2"))).message
        await core.reads.mark_c2c(SDKAPPID, "alice", BOT)
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="message_read_v1")
        await core.reads.mark_c2c(SDKAPPID, "alice", BOT)  # nothing new
        await core.messages.send_c2c(SDKAPPID, "carol", BOT, text("barrier"))
        await receiver.wait_until(lambda: len(receiver.events) == 3, what="the barrier")

    hit = receiver.events[0]
    event = check_envelope(hit, READ)
    assert list(event) == ["reader", "message_id_list"]
    assert list(event["reader"]) == ["reader_id", "read_time", "tenant_key"]
    assert event["reader"]["reader_id"] == uid("alice")
    assert event["reader"]["tenant_key"] == TK
    assert event["reader"]["read_time"].isdigit()
    assert event["message_id_list"] == [srv.ids.message_id(m.id) for m in first]
    sdk = hit.sdk
    assert isinstance(sdk, P2ImMessageMessageReadV1)
    assert sdk.event.reader.reader_id.user_id == "alice"
    assert sdk.event.message_id_list == [srv.ids.message_id(m.id) for m in first]
    second = check_envelope(receiver.events[1], READ)
    assert second["message_id_list"] == [srv.ids.message_id(third.id)]
    assert receiver.events[2].event_type == RECEIVE


async def test_a_tim_rest_read_of_the_bots_chat(tmp_path: Path) -> None:
    """TIM REST admin_set_msg_read (a user reads the p2p chat with the bot) is the same read:
    the bot gets message_read_v1 with the messages read."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        sent = await srv.wiring.core.messages.send_c2c(SDKAPPID, BOT, "alice", text("hi"))
        async with srv.admin() as admin:
            await admin.call(
                "openim", "admin_set_msg_read", {"Report_Account": "alice", "Peer_Account": BOT}
            )
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="message_read_v1")
    event = check_envelope(receiver.events[0], READ)
    assert event["message_id_list"] == [srv.ids.message_id(sent.message.id)]
    assert event["reader"]["reader_id"] == uid("alice")


async def test_receipts_for_the_bots_messages(tmp_path: Path) -> None:
    """Per-message receipts a user sends for the bot's messages send message_read_v1 with the
    messages read for the first time; a user reading another user's messages sends nothing."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        other = await core.messages.send_c2c(
            SDKAPPID, "bob", "alice", text("not the bot's"), need_receipt=True
        )
        await core.receipts.send_ids(SDKAPPID, "alice", [other.message.id])
        sent = await core.messages.send_c2c(
            SDKAPPID, BOT, "alice", text("please ack"), need_receipt=True
        )
        await core.receipts.send_ids(SDKAPPID, "alice", [sent.message.id])
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="message_read_v1")
        await core.receipts.send_ids(SDKAPPID, "alice", [sent.message.id])  # again: nothing
        await core.messages.send_c2c(SDKAPPID, "carol", BOT, text("barrier"))
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="the barrier")
    event = check_envelope(receiver.events[0], READ)
    assert event["message_id_list"] == [srv.ids.message_id(sent.message.id)]
    assert receiver.events[1].event_type == RECEIVE


# -- im.message.reaction.created_v1 / deleted_v1 --------------------------------------------


async def test_reactions_created_and_deleted(tmp_path: Path) -> None:
    """Adding and removing a reaction in the bot's conversations sends created_v1 and
    deleted_v1 (operator_type "user" with user_id, or "app" with app_id); a reaction in a group
    without the bot sends nothing."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        await group_with_bot(srv, "alice", "bob", group_id="elsewhere")
        elsewhere = await core.messages.send_group(SDKAPPID, "alice", "elsewhere", text("x"))
        await core.reactions.add(SDKAPPID, "bob", elsewhere.message.id, "SMILE")
        sent = (await core.messages.send_c2c(SDKAPPID, BOT, "alice", text("react"))).message
        reaction = await core.reactions.add(SDKAPPID, "alice", sent.id, "THUMBSUP")
        await core.reactions.remove(SDKAPPID, "alice", sent.id, reaction.id)
        await core.reactions.add(SDKAPPID, BOT, sent.id, "OK")
        await receiver.wait_until(lambda: len(receiver.events) == 3, what="3 reaction events")

    created, deleted, by_app = receiver.events
    body = check_envelope(created, CREATED)
    assert body == {
        "message_id": srv.ids.message_id(sent.id),
        "reaction_type": {"emoji_type": "THUMBSUP"},
        "operator_type": "user",
        "user_id": uid("alice"),
        "action_time": body["action_time"],
    }
    assert list(body) == ["message_id", "reaction_type", "operator_type", "user_id", "action_time"]
    assert body["action_time"].isdigit()
    assert isinstance(created.sdk, P2ImMessageReactionCreatedV1)
    assert created.sdk.event.reaction_type.emoji_type == "THUMBSUP"
    gone = check_envelope(deleted, DELETED)
    assert gone["reaction_type"] == {"emoji_type": "THUMBSUP"}
    assert gone["user_id"] == uid("alice")
    assert isinstance(deleted.sdk, P2ImMessageReactionDeletedV1)
    app_body = check_envelope(by_app, CREATED)
    assert app_body["operator_type"] == "app"
    assert app_body["app_id"] == BOT
    assert "user_id" not in app_body
    assert by_app.sdk.event.app_id == BOT


async def test_an_app_gets_only_the_events_it_subscribes_to(tmp_path: Path) -> None:
    """An app subscribed to receive_v1 alone hears nothing of reactions or reads (so an SDK
    with no handler for them never answers 500 and holds later events back)."""
    async with receiver_and_server(tmp_path, events=[RECEIVE]) as (receiver, srv):
        core = srv.wiring.core
        sent = (await core.messages.send_c2c(SDKAPPID, BOT, "alice", text("react"))).message
        await core.reactions.add(SDKAPPID, "alice", sent.id, "THUMBSUP")
        await core.reads.mark_c2c(SDKAPPID, "alice", BOT)
        await core.messages.send_c2c(SDKAPPID, "alice", BOT, text("after"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="receive_v1")
    assert [h.event_type for h in receiver.hits if h.event_type != "url_verification"] == [RECEIVE]


def test_subscribing_to_an_unknown_event_is_a_config_error() -> None:
    """An app may subscribe only to events the server sends; a typo is named."""
    settings = Settings(
        feishu=FeishuSettings(
            apps=[FeishuAppSettings(app_id=BOT, app_secret="s", events=["im.message.recieve_v1"])]
        )
    )
    with pytest.raises(ValueError, match=re.escape("'im.message.recieve_v1'")):
        settings.feishu_apps()


async def test_events_in_flight_together_all_arrive_once(tmp_path: Path) -> None:
    """With max_in_flight > 1 several events are delivered at once; each arrives exactly once
    (a receiver failing some first attempts included), with its own event_id."""
    failed: set[str] = set()

    def fail_once(hit: Hit) -> int | None:
        event_id = hit.plain.get("header", {}).get("event_id", "")
        if event_id and event_id[-1] in "02468" and event_id not in failed:
            failed.add(event_id)
            return 500
        return None

    async with receiver_and_server(tmp_path, max_in_flight=8) as (receiver, srv):
        receiver.fail = fail_once
        core = srv.wiring.core
        for i in range(40):
            await core.messages.send_c2c(SDKAPPID, ("alice", "bob")[i % 2], BOT, text(f"m{i}"))
        await receiver.wait_until(lambda: len(receiver.events) == 40, what="40 events")
        texts = sorted(
            json.loads(h.plain["event"]["message"]["content"])["text"] for h in receiver.events
        )
        assert texts == sorted(f"m{i}" for i in range(40))
        assert len({h.plain["header"]["event_id"] for h in receiver.events}) == 40
        assert failed  # some were retried


async def test_reaction_in_a_group_with_the_bot(tmp_path: Path) -> None:
    """A reaction on a group message is sent to a bot that is a member of the group."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        await group_with_bot(srv, "alice", "bob", BOT)
        sent = await core.messages.send_group(SDKAPPID, "alice", "team", text("vote"))
        await core.reactions.add(SDKAPPID, "bob", sent.message.id, "HEART")
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="created_v1")
    body = check_envelope(receiver.events[0], CREATED)
    assert body["message_id"] == srv.ids.message_id(sent.message.id)
    assert body["user_id"] == uid("bob")


# -- url_verification, failures and redelivery ----------------------------------------------


async def test_url_verification_is_answered_by_the_sdk(tmp_path: Path) -> None:
    """When the channel starts it sends one encrypted challenge with the token; the SDK
    answers it, and the deliveries endpoint shows it as a successful attempt."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            answer = await http.get("/sim/v1/deliveries", params={"app_id": BOT})
    (challenge,) = receiver.challenges
    assert set(json.loads(challenge.body)) == {"encrypt"}
    assert set(challenge.plain) == {"challenge", "token", "type"}
    assert challenge.plain["token"] == TOKEN
    assert challenge.status == 200
    assert json.loads(challenge.answer) == {"challenge": challenge.plain["challenge"]}
    items = answer.json()["data"]["items"]
    assert [(i["event_id"], i["ok"], i["status"]) for i in items] == [
        ("url_verification", True, 200)
    ]


async def test_plaintext_url_verification(tmp_path: Path) -> None:
    """Without an Encrypt Key the challenge is plaintext JSON, answered by the SDK."""
    async with receiver_and_server(tmp_path, encrypt_key="") as (receiver, _):
        pass
    (challenge,) = receiver.challenges
    assert json.loads(challenge.body)["type"] == "url_verification"
    assert challenge.status == 200


async def test_failed_challenge_does_not_block_events(tmp_path: Path) -> None:
    """A webhook whose SDK rejects the challenge (another token) is logged as a failed
    verification, and events are still sent (here rejected too, and retried)."""
    async with (
        LarkReceiver(KEY_, "another-token") as receiver,
        bot_server(tmp_path, receiver.url) as srv,
    ):
        outcome = await srv.wiring.feishu.webhooks[BOT].start_verification()
        assert not outcome.ok and outcome.status == 500
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "alice", BOT, text("hi"))
        await receiver.wait_until(lambda: len(receiver.hits) >= 3, what="event attempts")
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            items = (await http.get("/sim/v1/deliveries", params={"app_id": BOT})).json()["data"][
                "items"
            ]
    assert receiver.challenges[0].status == 500
    assert items[0]["event_id"] == "url_verification" and items[0]["ok"] is False
    assert {h.event_type for h in receiver.hits[1:]} == {RECEIVE}
    assert all(not i["ok"] and i["status"] == 500 for i in items[1:])


async def test_a_failed_delivery_is_retried_with_the_same_event_id(tmp_path: Path) -> None:
    """An event answered with HTTP 500 is sent again after a backoff with the same event_id,
    and the SDK then handles it once."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        receiver.fail = lambda hit: 500 if len(receiver.hits) == 1 else None
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "alice", BOT, text("again"))
        await receiver.wait_until(lambda: len(receiver.events) == 1, what="the retried event")
    failed, delivered = receiver.hits[1:]
    assert failed.status == 500 and delivered.status == 200
    assert failed.event_id == delivered.event_id
    assert failed.plain == delivered.plain
    assert failed.body != delivered.body  # encrypted again, with a new IV
    assert len(delivered.handled) == 1


async def test_receiver_down_then_back(tmp_path: Path, outbox_log: OutboxLog) -> None:
    """While nothing listens on the webhook port, events wait (attempts fail); once the
    receiver is back they are delivered in order, with the event ids they had all along."""
    receiver = LarkReceiver(KEY_, TOKEN)
    receiver.port = closed_port()
    async with bot_server(tmp_path, receiver.url) as srv:
        core = srv.wiring.core
        await core.messages.send_c2c(SDKAPPID, "alice", BOT, text("one"))
        await core.messages.send_c2c(SDKAPPID, "bob", BOT, text("two"))
        await outbox_log.wait_for("attempt 2 failed")
        async with receiver:
            await receiver.wait_until(lambda: len(receiver.events) == 2, what="2 events")
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            attempts = (await http.get("/sim/v1/deliveries", params={"app_id": BOT})).json()
            events = (await http.get("/sim/v1/events", params={"app_id": BOT})).json()
    texts = [json.loads(h.plain["event"]["message"]["content"])["text"] for h in receiver.events]
    assert texts == ["one", "two"]
    listed = [i["event_id"] for i in events["data"]["items"]]
    assert [h.event_id for h in receiver.events] == listed
    items = attempts["data"]["items"]
    assert items[0]["event_id"] == "url_verification" and not items[0]["ok"]
    tried = items[1:]
    assert {i["event_id"] for i in tried} == set(listed)
    assert [i["ok"] for i in tried if i["event_id"] == listed[0]][-1] is True
    assert sum(1 for i in tried if i["event_id"] == listed[0] and not i["ok"]) >= 2
    assert all(i["status"] is None for i in tried if not i["ok"])  # nothing answered
    assert [i["event_id"] for i in tried if i["ok"]] == listed


async def test_events_pending_at_a_restart_are_delivered_after_it(
    tmp_path: Path, outbox_log: OutboxLog
) -> None:
    """Events whose deliveries failed before the server stopped are delivered by the next
    server on the same database, with the event ids they had before the restart."""
    receiver = LarkReceiver(KEY_, TOKEN)
    receiver.port = closed_port()
    async with bot_server(tmp_path, receiver.url) as srv:
        core = srv.wiring.core
        await core.messages.send_c2c(SDKAPPID, "alice", BOT, text("before"))
        await outbox_log.wait_for("attempt 1 failed")
        async with SimClient(srv.base_url) as sim:
            before, _, _ = await sim.events(BOT)
    async with receiver, bot_server(tmp_path, receiver.url) as srv:
        await srv.wiring.core.messages.send_c2c(SDKAPPID, "bob", BOT, text("after"))
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="both events")
    texts = [json.loads(h.plain["event"]["message"]["content"])["text"] for h in receiver.events]
    assert texts == ["before", "after"]
    assert receiver.events[0].event_id == before[0]["event_id"]


# -- inspection -------------------------------------------------------------------------------


async def test_a_hung_receiver_holds_up_no_other_app(tmp_path: Path) -> None:
    """An app whose webhook accepts connections and never answers delays only its own events:
    another app's arrive at once, while the hung one's attempts time out and are retried."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        stuck = FeishuAppSettings(
            app_id="cli_stuck",
            app_secret="s",
            event_url=f"http://127.0.0.1:{hung.getsockname()[1]}/webhook",
            timeout=1.0,
            **FAST,
        )
        async with LarkReceiver(KEY_, TOKEN) as receiver:
            bot = FeishuAppSettings(
                app_id=BOT,
                app_secret="secret",
                encrypt_key=KEY_,
                verification_token=TOKEN,
                event_url=receiver.url,
                **FAST,
            )
            async with running_server(
                tmp_path / "im.sqlite3",
                apps=[AppSettings(sdkappid=SDKAPPID, secret_key=KEY, users=["alice"])],
                feishu_apps=[stuck, bot],
            ) as srv:
                core = srv.wiring.core
                for i in range(5):
                    await core.messages.send_c2c(SDKAPPID, "alice", "cli_stuck", text(f"x{i}"))
                    await core.messages.send_c2c(SDKAPPID, "alice", BOT, text(f"m{i}"))
                # well within the stuck app's 1 s timeout
                await receiver.wait_until(
                    lambda: len(receiver.events) == 5, within=0.8, what="the other app's events"
                )
                async with SimClient(srv.base_url) as sim:
                    for _ in range(300):
                        attempts = await sim.deliveries("cli_stuck")
                        if any("no answer within 1.0s" in a["detail"] for a in attempts):
                            break
                        await asyncio.sleep(0.01)
    assert any("no answer within 1.0s" in a["detail"] for a in attempts), attempts
    assert not any(a["ok"] for a in attempts)


async def test_inspection_lists_events_and_attempts(tmp_path: Path) -> None:
    """/sim/v1/events lists the app's events with the plaintext payload the webhook got, and
    /sim/v1/deliveries each attempt; a missing or unknown app_id is an error in the envelope."""
    async with receiver_and_server(tmp_path) as (receiver, srv):
        core = srv.wiring.core
        await core.messages.send_c2c(SDKAPPID, "alice", "bob", text("not for the bot"))
        sent = await core.messages.send_c2c(SDKAPPID, "alice", BOT, text("listed"))
        await core.reactions.add(SDKAPPID, "alice", sent.message.id, "SMILE")
        await receiver.wait_until(lambda: len(receiver.events) == 2, what="2 events")
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            events = (await http.get("/sim/v1/events", params={"app_id": BOT})).json()
            page = (await http.get("/sim/v1/events", params={"app_id": BOT, "limit": 1})).json()[
                "data"
            ]
            rest = (
                await http.get(
                    "/sim/v1/events", params={"app_id": BOT, "after": page["next_after"]}
                )
            ).json()["data"]
            async with SimClient(srv.base_url) as sim:
                # an attempt is logged once its answer is in: just after the receiver saw it
                for _ in range(200):
                    attempts = await sim.deliveries(BOT)
                    if len(attempts) == 3:
                        break
                    await asyncio.sleep(0.01)
                listed, _, _ = await sim.events(BOT)
            deliveries = (await http.get("/sim/v1/deliveries", params={"app_id": BOT})).json()
            missing = await http.get("/sim/v1/events")
            unknown = await http.get("/sim/v1/deliveries", params={"app_id": "cli_nobody"})
            bad = await http.get("/sim/v1/events", params={"app_id": BOT, "limit": "x"})

    assert events["code"] == 0
    items = events["data"]["items"]
    assert [i["event_type"] for i in items] == [RECEIVE, CREATED]
    for item, hit in zip(items, receiver.events, strict=True):
        assert item["payload"] == hit.plain
        assert item["event_id"] == hit.event_id
        assert item["create_time"] == hit.plain["header"]["create_time"]
    assert [i["event_id"] for i in page["items"]] == [items[0]["event_id"]]
    assert page["has_more"] is True
    assert [i["event_id"] for i in rest["items"]] == [items[1]["event_id"]]
    assert rest["has_more"] is False

    assert [i["event_id"] for i in listed] == [i["event_id"] for i in items]
    assert deliveries["data"]["items"] == attempts
    assert [a["event_id"] for a in attempts] == ["url_verification"] + [
        i["event_id"] for i in items
    ]
    assert all(a["ok"] and a["status"] == 200 for a in attempts)
    assert all(isinstance(a["time"], int) and a["detail"] for a in attempts)
    assert attempts[1]["detail"].startswith(f"{RECEIVE} {items[0]['event_id']}")

    assert missing.status_code == 400 and missing.json()["code"] == 400
    assert unknown.status_code == 404 and "cli_nobody" in unknown.json()["msg"]
    assert bad.status_code == 400

"""im/v1 messages: create, reply, get, list (chat history) and delete (recall).

A p2p chat is the one-to-one conversation of the bot's account and the user; its ``chat_id``
is minted from the conversation's number like a group's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from protocol.feishu import errors as E
from protocol.feishu import rest as R
from server.core.errors import CoreError, Reason
from server.core.messages import Sent
from server.core.model import ConvKind, Element, Message
from server.feishu.context import Bot
from server.feishu.convert import body_in, message_number, messages_out, peer_of, send_key
from server.feishu.errors import FeishuError

# Feishu keeps read state for every message: a bot's message asks for receipts, so a TIM user
# can acknowledge it with a per-message receipt (sendMessageReadReceipts) as well as by reading
# the conversation, and either way read_users and im.message.message_read_v1 tell the bot.
ALWAYS_RECEIPTS: Final = True


def _require_reach(bot: Bot, user: str) -> None:
    if not bot.reaches(user):
        raise FeishuError(
            E.MSG_USER_UNREACHABLE,
            f"Bot has NO availability to this user: {user!r} is outside app {bot.app_id}'s reach",
        )


async def _one(bot: Bot, message: Message) -> R.Message:
    (out,) = await messages_out(bot, [message])
    return out


async def _send_to_chat(
    bot: Bot,
    chat_id: str,
    body: Sequence[Element],
    mentions: Sequence[str],
    key: tuple[str, str] | None,
) -> Sent:
    conv_id = bot.ids.parse_chat_id(chat_id)
    if conv_id is None:
        raise FeishuError(E.MSG_INVALID_PARAM, f"invalid receive_id: {chat_id!r} is not a chat_id")
    core = bot.core
    conv = await core.groups.conversation(bot.workspace, conv_id)
    if conv.kind is ConvKind.C2C:
        if not conv.has_party(bot.app_id):
            raise FeishuError(E.MSG_BOT_NOT_IN_CHAT, f"the bot is not in p2p chat {chat_id}")
        peer = conv.peer_of(bot.app_id)
        _require_reach(bot, peer)
        return await core.messages.send_c2c(
            bot.workspace,
            bot.app_id,
            peer,
            body,
            mentions=mentions,
            send_key=key,
            need_receipt=ALWAYS_RECEIPTS,
        )
    group = await core.groups.by_conv(bot.workspace, conv_id)
    return await core.messages.send_group(
        bot.workspace,
        bot.app_id,
        group.group_id,
        body,
        mentions=mentions,
        send_key=key,
        need_receipt=ALWAYS_RECEIPTS,
    )


async def create(bot: Bot, p: R.CreateMessageParams, body: R.CreateMessageBody) -> R.Message:
    """``POST /open-apis/im/v1/messages?receive_id_type=``: the bot sends to a user or a chat."""
    elements, mentions = await body_in(bot, body.msg_type, body.content)
    key = send_key(bot, body.uuid)
    if p.receive_id_type == "chat_id":
        sent = await _send_to_chat(bot, body.receive_id, elements, mentions, key)
    else:
        user = await bot.account_of(p.receive_id_type, body.receive_id)
        if user is None:
            raise FeishuError(
                E.MSG_INVALID_PARAM,
                f"invalid receive_id: no user has {p.receive_id_type} {body.receive_id!r}",
            )
        _require_reach(bot, user)
        sent = await bot.core.messages.send_c2c(
            bot.workspace,
            bot.app_id,
            user,
            elements,
            mentions=mentions,
            send_key=key,
            need_receipt=ALWAYS_RECEIPTS,
        )
    return await _one(bot, sent.message)


async def reply(bot: Bot, p: R.MessageParams, body: R.ReplyMessageBody) -> R.Message:
    """``POST /open-apis/im/v1/messages/:message_id/reply``: in the same conversation."""
    core = bot.core
    parent = await core.messages.get_visible(
        bot.workspace, bot.app_id, message_number(bot, p.message_id)
    )
    if parent.recalled:
        raise CoreError(Reason.MESSAGE_RECALLED, f"message {p.message_id} was recalled")
    elements, mentions = await body_in(bot, body.msg_type, body.content)
    key = send_key(bot, body.uuid)
    peer = peer_of(bot, parent)
    if peer is not None:
        _require_reach(bot, peer)
        sent = await core.messages.send_c2c(
            bot.workspace,
            bot.app_id,
            peer,
            elements,
            reply_to=parent,
            mentions=mentions,
            send_key=key,
            need_receipt=ALWAYS_RECEIPTS,
        )
    else:
        assert parent.group_id is not None
        sent = await core.messages.send_group(
            bot.workspace,
            bot.app_id,
            parent.group_id,
            elements,
            reply_to=parent,
            mentions=mentions,
            send_key=key,
            need_receipt=ALWAYS_RECEIPTS,
        )
    return await _one(bot, sent.message)


async def get(bot: Bot, p: R.GetMessageParams, _: None) -> R.MessageItems:
    """``GET /open-apis/im/v1/messages/:message_id``: ``{items: [message]}``, recalled ones too."""
    message = await bot.core.messages.get_visible(
        bot.workspace, bot.app_id, message_number(bot, p.message_id)
    )
    return R.MessageItems(
        await messages_out(bot, [message], user_id_type=p.user_id_type, names=p.with_sender_name)
    )


async def list_(bot: Bot, p: R.ListMessagesParams, _: None) -> R.MessagePage:
    """``GET /open-apis/im/v1/messages?container_id_type=chat&container_id=oc_...``: a chat's
    history between ``start_time`` and ``end_time`` (seconds, inclusive), in pages."""
    if p.container_id_type != "chat":
        raise FeishuError(E.MSG_INVALID_PARAM, "container_id_type thread is not supported")
    conv_id = bot.ids.parse_chat_id(p.container_id)
    if conv_id is None:
        raise FeishuError(
            E.MSG_INVALID_PARAM, f"invalid container_id: {p.container_id!r} is not a chat_id"
        )
    position = None
    if p.page_token is not None:
        position = R.parse_position(R.parse_page_token(p.page_token))
        if position is None:
            raise FeishuError(E.MSG_INVALID_PARAM, f"invalid page_token {p.page_token!r}")
    ascending = p.sort_type == "ByCreateTimeAsc"
    found = await bot.core.messages.conversation_history(
        bot.workspace,
        bot.app_id,
        conv_id,
        count=p.page_size + 1,
        after_seq=(position or 0) if ascending else 0,
        before_seq=None if ascending else position,
        min_ms=(p.start_time or 0) * 1000,
        max_ms=p.end_time * 1000 + 999 if p.end_time is not None else None,
        ascending=ascending,
    )
    page = found[: p.page_size]
    more = len(found) > p.page_size
    return R.MessagePage(
        has_more=more,
        page_token=R.page_token(str(page[-1].seq)) if more else None,
        items=await messages_out(bot, page, names=p.with_sender_name),
    )


async def delete(bot: Bot, p: R.MessageParams, _: None) -> None:
    """``DELETE /open-apis/im/v1/messages/:message_id``: recall one of the bot's messages."""
    await bot.core.messages.recall(bot.workspace, bot.app_id, message_number(bot, p.message_id))

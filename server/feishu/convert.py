"""Translation between Feishu REST shapes and the neutral core model (and nothing else).

Message bodies: ``msg_type`` ``text`` with content ``{"text": "..."}`` is the neutral
``Element("text", text=...)``, kept as written (``<at user_id="ou_...">Tom</at>`` tags
included: the accounts they name become the message's mentions); any other ``msg_type`` is
``Element("feishu:<msg_type>", data=<the parsed content>)``. On the way out both are rendered by
:func:`server.feishu.events.message_content`, so a bot sees a message the same way in an event
and over REST (mentions as ``@_user_1`` keys). A recalled message keeps its type and reads
``This message was recalled``, as on Feishu.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import msgspec

from protocol import codec
from protocol.feishu import errors as E
from protocol.feishu import ids
from protocol.feishu import rest as R
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind, Element, Message, Reaction
from server.feishu.context import Bot
from server.feishu.errors import FeishuError
from server.feishu.events import Mentioned, message_content

RECALLED_CONTENT: Final = "This message was recalled"

_AT_TAG = re.compile(r'<at\s+(?:user_id|open_id|id)\s*=\s*"?([^"<>\s]+)"?\s*>')
_content = codec.Decoder(dict[str, object])


def message_number(bot: Bot, message_id: str) -> int:
    """The message an ``om_`` id names. Raises CoreError(UNKNOWN_MESSAGE) for any other text."""
    number = bot.ids.parse_message_id(message_id)
    if number is None:
        raise CoreError(Reason.UNKNOWN_MESSAGE, f"invalid message_id {message_id!r}")
    return number


def send_key(bot: Bot, uuid: str | None) -> tuple[str, str] | None:
    """The core's idempotency key for a request ``uuid`` (one scope per app)."""
    return ("feishu:" + bot.app_id, uuid) if uuid else None


async def body_in(bot: Bot, msg_type: str, content: str) -> tuple[list[Element], list[str]]:
    """``(body, mentioned accounts)`` of a request's ``msg_type`` and ``content``.

    Raises FeishuError 230001 when ``content`` is not a JSON object (or, for text, has no
    ``text``)."""
    try:
        parsed = _content.decode(content)
    except msgspec.DecodeError as exc:
        raise FeishuError(
            E.MSG_INVALID_PARAM, f"invalid content: not a JSON object ({exc})"
        ) from None
    if msg_type != "text":
        return [Element(kind=f"feishu:{msg_type}", data=parsed)], []
    text = parsed.get("text")
    if not isinstance(text, str) or not text:
        raise FeishuError(E.MSG_INVALID_PARAM, 'invalid content: text needs {"text": "..."}')
    mentioned: list[str] = []
    for alias in _AT_TAG.findall(text):
        account = await _mentioned(bot, alias)
        if account is not None:
            mentioned.append(account)
    return [Element(kind="text", text=text)], mentioned


async def _mentioned(bot: Bot, alias: str) -> str | None:
    """The account an ``<at>`` tag names: by open_id, union_id, app id (a bot) or user_id."""
    if alias == "all":
        return None
    if alias.startswith("ou_"):
        return await bot.identity.account(bot.app, "open_id", alias)
    if alias.startswith("on_"):
        return await bot.identity.account(bot.app, "union_id", alias)
    return await bot.identity.account(bot.app, "user_id", alias)


def _aliases(bot: Bot, account: str) -> frozenset[str]:
    """Every id ``account`` may be written with in an ``<at>`` tag of this workspace."""
    bots = [a.app_id for a in bot.apps.values() if a.workspace == bot.workspace]
    return frozenset(
        {
            account,
            ids.union_id(bot.workspace, account),
            ids.email(account),
            *(ids.open_id(b, account) for b in bots),
        }
    )


async def messages_out(
    bot: Bot, messages: Sequence[Message], *, user_id_type: str = "open_id", names: bool = False
) -> list[R.Message]:
    """Messages as ``bot`` sees them; ``names``: with ``sender.sender_name``."""
    wanted = {u for m in messages for u in m.mentions}
    if names:
        wanted.update(m.sender for m in messages)
    profiles = await bot.core.directory.profiles(bot.workspace, sorted(wanted))

    def name(account: str) -> str:
        profile = profiles.get(account)
        return (profile.nick if profile is not None else "") or account

    out = []
    for m in messages:
        mentioned = [
            Mentioned(f"@_user_{n}", _aliases(bot, u), name(u)) for n, u in enumerate(m.mentions, 1)
        ]
        msg_type, content = message_content(m.body, mentioned)
        if m.recalled:
            content = RECALLED_CONTENT
        mentions = []
        for mention, account in zip(mentioned, m.mentions, strict=True):
            mention_id, id_type = bot.id_of(account, user_id_type)
            mentions.append(
                R.Mention(
                    key=mention.key,
                    id=mention_id,
                    id_type=id_type,
                    name=mention.name,
                    tenant_key=bot.tenant_key,
                )
            )
        if bot.is_bot(m.sender):
            sender = R.Sender(
                id=m.sender, id_type="app_id", sender_type="app", tenant_key=bot.tenant_key
            )
        else:
            sender = R.Sender(
                id=bot.identity.ids_of(bot.app, m.sender).open_id,
                id_type="open_id",
                sender_type="user",
                tenant_key=bot.tenant_key,
            )
        if names:
            sender = msgspec.structs.replace(sender, sender_name=name(m.sender))
        when = str(m.time_ms)
        out.append(
            R.Message(
                message_id=bot.ids.message_id(m.id),
                root_id=bot.ids.message_id(m.root_id) if m.root_id else "",
                parent_id=bot.ids.message_id(m.parent_id) if m.parent_id else "",
                msg_type=msg_type,
                create_time=when,
                update_time=when,
                deleted=m.recalled,
                updated=False,
                chat_id=bot.ids.chat_id(m.conv_id),
                sender=sender,
                body=R.MessageBody(content),
                mentions=mentions,
            )
        )
    return out


def peer_of(bot: Bot, message: Message) -> str | None:
    """The user on the other side of a p2p message of the bot (None in groups)."""
    if message.kind is not ConvKind.C2C:
        return None
    return message.receiver if message.sender == bot.app_id else message.sender


def reaction_out(bot: Bot, reaction: Reaction, user_id_type: str = "open_id") -> R.MessageReaction:
    operator_id, id_type = bot.id_of(reaction.operator, user_id_type)
    return R.MessageReaction(
        reaction_id=bot.ids.reaction_id(reaction.id),
        operator=R.Operator(operator_id, "app" if id_type == "app_id" else "user"),
        action_time=str(reaction.action_ms),
        reaction_type=R.Emoji(reaction.emoji_type),
    )

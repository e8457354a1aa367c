"""Neutral outbox events rendered as Feishu schema-2.0 events for one app.

What an app hears of (docs/protocol.md, "Feishu events"):

* ``im.message.receive_v1`` (from ``MessageSent``): a user, not a bot, wrote to the bot in p2p
  (a one-to-one message to the bot's account, named by its app id), or wrote in a group the bot
  is a member of, mentioning the bot, or any message there when the app has the
  ``im:message.group_msg`` scope.
* ``im.message.message_read_v1`` (from ``C2CRead`` and ``C2CReceipts``): a user read p2p
  messages the bot sent; ``message_id_list`` names only the messages read for the first time
  (a second read of the same messages sends nothing).
* ``im.message.reaction.created_v1`` / ``deleted_v1`` (from ``ReactionChanged``): a reaction on
  a message of a conversation the bot is in (its p2p chats, groups it is a member of).

The neutral events carry the facts of the moment; *who the bot is with* is asked of the core
when the event is rendered (group membership, the message's conversation, mentioned names). An
event whose group the bot has left since is therefore not delivered. ``header.event_id`` is
derived from the outbox id, so every redelivery of one event carries the same id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import msgspec

from protocol.feishu import ids
from protocol.feishu.events import (
    EVENT_MESSAGE_READ,
    EVENT_REACTION_CREATED,
    EVENT_REACTION_DELETED,
    EVENT_RECEIVE,
    Emoji,
    EventEnvelope,
    EventHeader,
    EventMessage,
    EventSender,
    MentionEvent,
    MessageReactionV1,
    MessageReader,
    MessageReadV1,
    MessageReceiveV1,
    UserId,
    encode,
)
from server.core.errors import CoreError
from server.core.events import (
    C2CRead,
    C2CReceipts,
    MessageSent,
    ReactionChanged,
    StoredEvent,
    decode_event,
)
from server.core.model import ConvKind, Element, Message
from server.settings import SCOPE_GROUP_MSG, FeishuAppSettings

if TYPE_CHECKING:
    from server.feishu.dialect import FeishuDialect

# The neutral event types that can turn into a Feishu event (a channel's ``types``).
RENDERED_TYPES: Final = ("message.sent", "read.c2c", "receipt.c2c", "reaction.changed")

Body = MessageReceiveV1 | MessageReadV1 | MessageReactionV1

_AT_TAG = re.compile(r'<at\s+(?:user_id|open_id|id)\s*=\s*"?([^"<>\s]+)"?\s*>(.*?)</at>', re.S)
_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Mentioned:
    """One mentioned account: its key in the content, the ids it may be written with, its name."""

    key: str
    aliases: frozenset[str]
    name: str


def message_content(body: Sequence[Element], mentions: Sequence[Mentioned]) -> tuple[str, str]:
    """``(message_type, content)`` of a message body as Feishu shows it to a bot.

    * One element of kind ``feishu:<type>`` (written by the Feishu dialect, ``data`` = the parsed
      content): that type, and ``data`` as the content.
    * Anything else is ``text``: the text elements joined, any other element shown as
      ``[<kind>]``. Each mention is written as its key (``@_user_1``) where the text names it,
      as ``<at user_id="...">...</at>`` or ``@name``/``@user_id``; mentions the text does not
      name are put in front, as Feishu's clients do.
    """
    if len(body) == 1 and body[0].kind.startswith("feishu:"):
        return body[0].kind[len("feishu:") :], _json.encode(body[0].data or {}).decode()
    text = "".join(
        (e.text or "") if e.kind == "text" else f"[{e.kind.rpartition(':')[2]}]" for e in body
    )
    placed: set[int] = set()

    def at_tag(match: re.Match[str]) -> str:
        alias = match.group(1)
        if alias == "all":
            return "@_all"
        for i, m in enumerate(mentions):
            if alias in m.aliases:
                placed.add(i)
                return m.key
        return match.group(0)

    text = _AT_TAG.sub(at_tag, text)
    front: list[str] = []
    for i, m in enumerate(mentions):
        if i in placed:
            continue
        for written in sorted({m.name, *m.aliases}, key=len, reverse=True):
            at = text.find("@" + written) if written else -1
            if at >= 0:
                text = text[:at] + m.key + text[at + 1 + len(written) :]
                break
        else:
            front.append(m.key)
    if front:
        text = " ".join([*front, text]) if text else " ".join(front)
    return "text", _json.encode({"text": text}).decode()


class EventRenderer:
    """Turns a stored neutral event into the events an app receives (possibly none)."""

    def __init__(self, dialect: FeishuDialect) -> None:
        self.dialect = dialect

    async def render(self, app: FeishuAppSettings, stored: StoredEvent) -> list[bytes]:
        """The plaintext JSON bodies (schema 2.0) ``app`` receives for ``stored``, in order.

        Empty when the event is of another workspace, of a type Feishu has no event for, or
        not for this bot. Raises nothing for events that refer to messages or groups gone since.
        """
        if stored.app != app.workspace or stored.type not in RENDERED_TYPES:
            return []
        event = decode_event(stored.body)
        rendered: tuple[str, Body] | None
        try:
            if isinstance(event, MessageSent):
                rendered = await self._receive(app, event)
            elif isinstance(event, C2CRead):
                rendered = self._read(app, event.reader, event.peer, event.newly_read, stored)
            elif isinstance(event, C2CReceipts):
                first = tuple(i.msg_id for i in event.items if i.first_read)
                rendered = self._read(app, event.reader, event.peer, first, stored)
            elif isinstance(event, ReactionChanged):
                rendered = await self._reaction(app, event)
            else:
                rendered = None
        except CoreError:  # the message or group is gone: nothing to tell
            return []
        if rendered is None or not app.subscribes(rendered[0]):
            return []
        event_type, body = rendered
        header = EventHeader(
            event_id=self.dialect.event_id(app, stored.id),
            event_type=event_type,
            create_time=str(stored.time_ms),
            token=app.verification_token or None,
            app_id=app.app_id,
            tenant_key=ids.tenant_key(app.workspace),
        )
        return [encode(EventEnvelope(header=header, event=body))]

    # -- who is who ------------------------------------------------------------------------

    def bots(self, app: FeishuAppSettings) -> frozenset[str]:
        """The bot accounts (app ids) of ``app``'s workspace."""
        return frozenset(
            a.app_id for a in self.dialect.apps.values() if a.workspace == app.workspace
        )

    def user_id(self, app: FeishuAppSettings, user: str) -> UserId:
        """How ``app`` names ``user``; a bot (mentioned, say) has open and union ids but no
        ``user_id``, which only people have."""
        found = self.dialect.identity.ids_of(app, user)
        user_id = None if user in self.dialect.apps else found.user_id
        return UserId(union_id=found.union_id, user_id=user_id, open_id=found.open_id)

    def _aliases(self, app: FeishuAppSettings, user: str) -> frozenset[str]:
        """Every id ``user`` may be written with in a message of ``app``'s workspace."""
        return frozenset(
            {
                user,
                ids.union_id(app.workspace, user),
                ids.email(user),
                *(ids.open_id(bot, user) for bot in self.bots(app)),
            }
        )

    async def _in_conversation(self, app: FeishuAppSettings, message: Message) -> bool:
        """Whether the bot is in the conversation of ``message`` (now)."""
        bot = app.app_id
        if message.kind is ConvKind.C2C:
            return bot in (message.sender, message.receiver)
        assert message.group_id is not None
        core = self.dialect.core
        group = await core.groups.get(app.workspace, message.group_id)
        if group.conv_id != message.conv_id:  # the group was destroyed and made again
            return False
        try:
            await core.groups.require_member(group, bot)
        except CoreError:
            return False
        return True

    # -- the events ------------------------------------------------------------------------

    async def _receive(self, app: FeishuAppSettings, event: MessageSent) -> tuple[str, Body] | None:
        bot = app.app_id
        if event.sender in self.bots(app):
            return None
        if event.kind == ConvKind.C2C.value:
            if event.receiver != bot:
                return None
        elif bot not in event.mentions and not app.has_scope(SCOPE_GROUP_MSG):
            return None
        core = self.dialect.core
        message = await core.messages.get(app.workspace, event.msg_id)
        if message.kind is ConvKind.GROUP and not await self._in_conversation(app, message):
            return None
        tenant = ids.tenant_key(app.workspace)
        profiles = await core.directory.profiles(app.workspace, list(event.mentions))
        mentioned = []
        for n, user in enumerate(event.mentions, 1):
            account = profiles.get(user)
            name = (account.nick if account is not None else "") or user
            mentioned.append(Mentioned(f"@_user_{n}", self._aliases(app, user), name))
        message_type, content = message_content(event.body, mentioned)
        when = str(event.time_ms)
        body = MessageReceiveV1(
            sender=EventSender(
                sender_id=self.user_id(app, event.sender), sender_type="user", tenant_key=tenant
            ),
            message=EventMessage(
                message_id=self.dialect.ids.message_id(event.msg_id),
                root_id=self.dialect.ids.message_id(event.root_id) if event.root_id else "",
                parent_id=self.dialect.ids.message_id(event.parent_id) if event.parent_id else "",
                create_time=when,
                update_time=when,
                chat_id=self.dialect.ids.chat_id(message.conv_id),
                chat_type="p2p" if message.kind is ConvKind.C2C else "group",
                message_type=message_type,
                content=content,
                mentions=[
                    MentionEvent(
                        key=m.key,
                        id=self.user_id(app, user),
                        name=m.name,
                        tenant_key=tenant,
                    )
                    for m, user in zip(mentioned, event.mentions, strict=True)
                ],
            ),
        )
        return EVENT_RECEIVE, body

    def _read(
        self,
        app: FeishuAppSettings,
        reader: str,
        peer: str,
        msg_ids: Sequence[int],
        stored: StoredEvent,
    ) -> tuple[str, Body] | None:
        """A user read the bot's p2p messages ``msg_ids`` (those read for the first time)."""
        if peer != app.app_id or reader in self.bots(app) or not msg_ids:
            return None
        body = MessageReadV1(
            reader=MessageReader(
                reader_id=self.user_id(app, reader),
                read_time=str(stored.time_ms),  # when the user read, not the read position
                tenant_key=ids.tenant_key(app.workspace),
            ),
            message_id_list=[self.dialect.ids.message_id(i) for i in msg_ids],
        )
        return EVENT_MESSAGE_READ, body

    async def _reaction(
        self, app: FeishuAppSettings, event: ReactionChanged
    ) -> tuple[str, Body] | None:
        message = await self.dialect.core.messages.get(app.workspace, event.msg_id)
        if not await self._in_conversation(app, message):
            return None
        by_app = event.operator in self.bots(app)
        body = MessageReactionV1(
            message_id=self.dialect.ids.message_id(event.msg_id),
            reaction_type=Emoji(emoji_type=event.emoji_type),
            operator_type="app" if by_app else "user",
            user_id=None if by_app else self.user_id(app, event.operator),
            app_id=event.operator if by_app else None,
            action_time=str(event.time_ms),
        )
        return (EVENT_REACTION_CREATED if event.added else EVENT_REACTION_DELETED), body

"""Feishu schema-2.0 event bodies, as the platform sends them (feishu.md §4.4-4.5, §5).

This module owns the JSON shapes of the events the server emits and of the webhook's control
bodies:

* :class:`EventEnvelope` ``{"schema": "2.0", "header": ..., "event": ...}`` with
  :class:`EventHeader`;
* the ``event`` bodies :class:`MessageReceiveV1` (``im.message.receive_v1``),
  :class:`MessageReadV1` (``im.message.message_read_v1``) and :class:`MessageReactionV1`
  (``im.message.reaction.created_v1`` and ``.deleted_v1``, which share one body);
* :class:`UrlVerification`, the challenge, and :class:`EncryptedBody`, ``{"encrypt": ...}``.

Fields are declared in the order of Feishu's documented examples, so encoded bodies read like
them. Every time is a string of digits (milliseconds): Go's SDK decodes them into ``*string``.
Optional fields (``header.token``, ``user_id`` without the user-id scope, a reaction's
``user_id``/``app_id``) are *left out* when absent, never sent as ``null``: the Python SDK treats
a present ``token`` as one to check.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar

import msgspec

__all__ = [
    "EVENT_MESSAGE_READ",
    "EVENT_REACTION_CREATED",
    "EVENT_REACTION_DELETED",
    "EVENT_RECEIVE",
    "URL_VERIFICATION",
    "Emoji",
    "EncryptedBody",
    "EventEnvelope",
    "EventHeader",
    "EventMessage",
    "EventSender",
    "MentionEvent",
    "MessageReactionV1",
    "MessageReadV1",
    "MessageReader",
    "MessageReceiveV1",
    "UrlVerification",
    "UserId",
    "encode",
]

EVENT_RECEIVE: Final = "im.message.receive_v1"
EVENT_MESSAGE_READ: Final = "im.message.message_read_v1"
EVENT_REACTION_CREATED: Final = "im.message.reaction.created_v1"
EVENT_REACTION_DELETED: Final = "im.message.reaction.deleted_v1"
URL_VERIFICATION: Final = "url_verification"


class UserId(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A user's ids as one app sees them; ``user_id`` only with the user-id scope."""

    union_id: str
    user_id: str | None = None
    open_id: str


class EventHeader(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event_id: str  # the same on every redelivery of one event
    event_type: str
    create_time: str  # ms
    token: str | None = None  # the app's verification token, only if it has one
    app_id: str
    tenant_key: str


class EventSender(msgspec.Struct, frozen=True, kw_only=True):
    sender_id: UserId
    sender_type: str  # "user"
    tenant_key: str


class MentionEvent(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # "@_user_1", as written in the message content
    id: UserId
    name: str
    tenant_key: str


class EventMessage(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    root_id: str  # "" unless a reply
    parent_id: str  # "" unless a reply
    create_time: str  # ms
    update_time: str  # ms
    chat_id: str
    chat_type: str  # "p2p" | "group"
    message_type: str  # "text", ...
    content: str  # a JSON document in a string, e.g. "{\"text\":\"@_user_1 hello\"}"
    mentions: list[MentionEvent]


class MessageReceiveV1(msgspec.Struct, frozen=True, kw_only=True):
    """``im.message.receive_v1``: someone wrote to the bot (p2p) or where the bot listens."""

    sender: EventSender
    message: EventMessage


class MessageReader(msgspec.Struct, frozen=True, kw_only=True):
    reader_id: UserId
    read_time: str  # ms
    tenant_key: str


class MessageReadV1(msgspec.Struct, frozen=True, kw_only=True):
    """``im.message.message_read_v1``: a user read p2p messages the bot sent."""

    reader: MessageReader
    message_id_list: list[str]


class Emoji(msgspec.Struct, frozen=True, kw_only=True):
    emoji_type: str


class MessageReactionV1(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``im.message.reaction.created_v1`` / ``deleted_v1``: ``user_id`` when a user acted,
    ``app_id`` when an app did."""

    message_id: str
    reaction_type: Emoji
    operator_type: str  # "user" | "app"
    user_id: UserId | None = None
    app_id: str | None = None
    action_time: str  # ms


E = TypeVar("E", bound=MessageReceiveV1 | MessageReadV1 | MessageReactionV1)


class EventEnvelope(msgspec.Struct, Generic[E], frozen=True, kw_only=True):
    schema: str = "2.0"
    header: EventHeader
    event: E


class UrlVerification(msgspec.Struct, frozen=True, kw_only=True):
    """The challenge POSTed to a new webhook URL; the app answers ``{"challenge": ...}``."""

    challenge: str
    token: str
    type: str = URL_VERIFICATION


class EncryptedBody(msgspec.Struct, frozen=True):
    """The POST body of an app with an Encrypt Key: ``{"encrypt": "<base64>"}``."""

    encrypt: str


_encoder = msgspec.json.Encoder()


def encode(body: EventEnvelope[Any] | UrlVerification | EncryptedBody) -> bytes:
    """The compact JSON of ``body`` (UTF-8, keys in declaration order). Raises nothing."""
    return _encoder.encode(body)

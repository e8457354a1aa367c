"""Neutral domain events: what happened, with the facts each dialect needs to render it.

Every state change that someone outside may hear about (a TIM callback, a Feishu webhook)
writes one of these into the durable outbox in the *same transaction* as the change
(see ``server/store/events.py``). Delivery channels read them back and render them in their
vendor's shape, so an event must carry every fact as it was at that moment (counts after the
change, the unread total, ...): nothing is looked up again at delivery time.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from server.core.model import Element


class MessageSent(msgspec.Struct, frozen=True, tag="message.sent"):
    msg_id: int
    kind: str  # ConvKind value
    sender: str
    receiver: str | None
    group_id: str | None
    group_type: str | None
    seq: int
    random: int
    time_ms: int
    body: tuple[Element, ...]
    need_receipt: bool
    online_only: bool
    receipt_code: str | None
    platform: str = "RESTAPI"
    receiver_unread: int = 0  # C2C: the receiver's total C2C unread count after this message
    parent_id: int | None = None
    root_id: int | None = None
    mentions: tuple[str, ...] = ()
    client_seq: int | None = None  # the sender's own number for the message, as sent


class GroupReceiptItem(msgspec.Struct, frozen=True):
    msg_id: int
    seq: int
    read: int
    unread: int


class GroupReceipts(msgspec.Struct, frozen=True, tag="receipt.group"):
    """A member sent read receipts for group messages (totals are after this event)."""

    group_id: str
    group_type: str
    reader: str
    time_ms: int
    items: tuple[GroupReceiptItem, ...]
    platform: str = "RESTAPI"


class C2CReceiptItem(msgspec.Struct, frozen=True):
    msg_id: int
    seq: int  # the number clients know the message by (the sender's own, if it chose one)
    random: int
    time_ms: int
    first_read: bool = True  # False: a conversation read had already covered it


class C2CReceipts(msgspec.Struct, frozen=True, tag="receipt.c2c"):
    """A user sent per-message receipts for messages its peer sent it."""

    reader: str
    peer: str
    time_ms: int
    items: tuple[C2CReceiptItem, ...]
    platform: str = "RESTAPI"


class C2CRead(msgspec.Struct, frozen=True, tag="read.c2c"):
    """A user marked its C2C conversation with ``peer`` read up to ``read_ms``."""

    reader: str
    peer: str
    read_ms: int
    unread_total: int  # the reader's total C2C unread count afterwards
    newly_read: tuple[
        int, ...
    ]  # ids of the peer's messages that this read covered for the first time
    platform: str = "RESTAPI"


class GroupRead(msgspec.Struct, frozen=True, tag="read.group"):
    """A member marked a group conversation read up to ``read_seq`` (no receipts are sent)."""

    reader: str
    group_id: str
    read_seq: int
    platform: str = "RESTAPI"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as kept in the outbox: ``id`` orders events and names them on every redelivery."""

    id: int
    app: int
    type: str
    time_ms: int
    body: bytes  # encode_event() of the event


class MessageRecalled(msgspec.Struct, frozen=True, tag="message.recalled"):
    msg_id: int
    kind: str
    sender: str
    receiver: str | None
    group_id: str | None
    operator: str
    time_ms: int


class ReactionChanged(msgspec.Struct, frozen=True, tag="reaction.changed"):
    """A reaction was added (``added``) or removed on a message."""

    msg_id: int
    reaction_id: int
    operator: str
    emoji_type: str
    added: bool
    time_ms: int


Event = (
    MessageSent
    | GroupReceipts
    | C2CReceipts
    | C2CRead
    | GroupRead
    | MessageRecalled
    | ReactionChanged
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    return _decoder.decode(data)


def event_type(event: Event) -> str:
    """The tag under which ``event`` is stored."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag

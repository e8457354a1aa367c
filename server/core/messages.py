"""Sending messages and reading history.

A message that asks for read receipts gets receipt state only where the app's rules allow it;
otherwise it is still delivered and records *why* not in ``Message.receipt_code`` (the dialect
reports that code, later receipt lookups answer RECEIPT_NOT_FOUND).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.events import MessageRecalled, MessageSent
from server.core.groups import Groups
from server.core.model import ConvKind, Element, GroupType, Message, MessageRef
from server.core.policy import AppPolicy
from server.store.messages import NewMessage, Sent

MAX_BODY_BYTES = 12 * 1024  # TIM's message size limit
MAX_HISTORY = 100

__all__ = ["HistoryItem", "Messaging", "Sent"]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    message: Message
    read_by_me: (
        bool  # the viewer's own conversation read position covers it (or it is the viewer's)
    )
    peer_read: bool  # C2C, sender's view: the peer's conversation read position covers it
    receipt_read: int  # per-message receipts: how many receivers have read it
    receipt_unread: int


def _check_body(body: Sequence[Element]) -> None:
    if not body:
        raise CoreError(Reason.INVALID, "the message body is empty")
    size = len(msgspec.json.encode(body))
    if size > MAX_BODY_BYTES:
        raise CoreError(
            Reason.INVALID, f"the message body is {size} bytes, at most {MAX_BODY_BYTES}"
        )


class Messaging:
    def __init__(self, deps: Deps, groups: Groups) -> None:
        self.d = deps
        self.groups = groups

    async def send_c2c(
        self,
        app: int,
        sender: str,
        receiver: str,
        body: Sequence[Element],
        *,
        need_receipt: bool = False,
        online_only: bool = False,
        random: int | None = None,
        platform: str = "RESTAPI",
        reply_to: Message | None = None,
        mentions: Sequence[str] = (),
        send_key: tuple[str, str] | None = None,
        client_seq: int | None = None,
        client_ms: int | None = None,
    ) -> Sent:
        """Store and deliver a one-to-one message (a reply when ``reply_to`` is given; a send
        key already used within the hour returns the first message, marked ``duplicate``).

        ``client_seq`` and ``client_ms`` are what the sending client itself called the message
        (its own number for it, its clock), kept as given.

        Raises CoreError: INVALID (empty/oversize body, message to oneself), UNKNOWN_ACCOUNT."""
        policy = self.d.policy(app)
        _check_body(body)
        if sender == receiver:
            raise CoreError(
                Reason.INVALID, f"{sender!r} cannot send a one-to-one message to itself"
            )
        await self._require_accounts(app, [sender, receiver, *mentions])
        new = self._new(
            sender,
            body,
            _receipt_code(policy, need_receipt, online_only, None),
            need_receipt=need_receipt,
            online_only=online_only,
            random=random,
            reply_to=reply_to,
            mentions=mentions,
            send_key=send_key,
            client_seq=client_seq,
            client_ms=client_ms,
        )
        sent = await self.d.store.messages.send_c2c(
            app,
            receiver,
            new,
            build_events=lambda m, unread: [_sent_event(m, None, platform, unread)],
        )
        self._after(sent)
        return sent

    async def send_group(
        self,
        app: int,
        sender: str,
        group_id: str,
        body: Sequence[Element],
        *,
        need_receipt: bool = False,
        online_only: bool = False,
        random: int | None = None,
        platform: str = "RESTAPI",
        reply_to: Message | None = None,
        mentions: Sequence[str] = (),
        send_key: tuple[str, str] | None = None,
        client_ms: int | None = None,
    ) -> Sent:
        """Store and deliver a group message; with ``need_receipt`` the receivers (members at
        this instant, less the sender) are snapshotted.

        Raises CoreError: INVALID, UNKNOWN_GROUP, NOT_GROUP_MEMBER (unless the sender is an admin)."""
        policy = self.d.policy(app)
        _check_body(body)
        group = await self.groups.get(app, group_id)
        if mentions:
            await self._require_accounts(app, mentions)
        new = self._new(
            sender,
            body,
            _receipt_code(policy, need_receipt, online_only, group.type),
            need_receipt=need_receipt,
            online_only=online_only,
            random=random,
            reply_to=reply_to,
            mentions=mentions,
            send_key=send_key,
            client_ms=client_ms,
        )
        sent = await self.d.store.messages.send_group(
            app,
            group.conv_id,
            group.group_id,
            new,
            sender_must_be_member=sender not in policy.admins,
            receipt_cap=policy.receipt_group_cap,
            build_events=lambda m, _: [_sent_event(m, group.type, platform, 0)],
        )
        self._after(sent)
        return sent

    def _new(
        self,
        sender: str,
        body: Sequence[Element],
        receipt_code: str | None,
        *,
        need_receipt: bool,
        online_only: bool,
        random: int | None,
        reply_to: Message | None,
        mentions: Sequence[str],
        send_key: tuple[str, str] | None,
        client_seq: int | None = None,
        client_ms: int | None = None,
    ) -> NewMessage:
        return NewMessage(
            sender=sender,
            time_ms=self.d.clock.now_ms(),
            random=random if random is not None else secrets.randbits(32),
            body=tuple(body),
            need_receipt=need_receipt,
            receipt_code=receipt_code,
            online_only=online_only,
            parent_id=reply_to.id if reply_to else None,
            root_id=(reply_to.root_id or reply_to.id) if reply_to else None,
            mentions=tuple(dict.fromkeys(mentions)),
            send_key=send_key,
            client_seq=client_seq,
            client_ms=client_ms,
        )

    def _after(self, sent: Sent) -> None:
        if sent.duplicate:
            return
        self.d.listeners.message_sent(sent.message, sent.recipients)
        self.d.listeners.events_appended(sent.message.app)

    async def recall(
        self, app: int, operator: str, msg_id: int, *, as_admin: bool = False
    ) -> Message:
        """Recall (delete) a message: only its sender may, or an admin.

        Raises CoreError: UNKNOWN_MESSAGE, NOT_ALLOWED, MESSAGE_RECALLED."""
        message = await self.get(app, msg_id)
        if message.recalled:
            raise CoreError(Reason.MESSAGE_RECALLED, f"message {msg_id} was already recalled")
        if not as_admin and message.sender != operator:
            raise CoreError(
                Reason.NOT_ALLOWED, f"only the sender of message {msg_id} may recall it"
            )
        now = self.d.clock.now_ms()
        event = MessageRecalled(
            msg_id=message.id,
            kind=message.kind.value,
            sender=message.sender,
            receiver=message.receiver,
            group_id=message.group_id,
            operator=operator,
            time_ms=now,
        )
        if not await self.d.store.messages.recall(message, now, [event]):
            raise CoreError(Reason.MESSAGE_RECALLED, f"message {msg_id} was already recalled")
        self.d.listeners.events_appended(app)
        return message

    async def get(self, app: int, msg_id: int) -> Message:
        """Raises CoreError: UNKNOWN_MESSAGE, OTHER_APP (the message is another app's)."""
        message = await self.d.store.messages.get(msg_id)
        if message is None:
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {msg_id} does not exist")
        if message.app != app:
            raise CoreError(Reason.OTHER_APP, f"message {msg_id} belongs to another app")
        return message

    async def get_visible(self, app: int, viewer: str, msg_id: int) -> Message:
        """The message, if ``viewer`` is in its conversation now (a party of the C2C pair, a
        member of the group); recalled messages included.

        Raises CoreError: UNKNOWN_MESSAGE, OTHER_APP, NOT_ALLOWED, UNKNOWN_GROUP, NOT_GROUP_MEMBER."""
        message = await self.get(app, msg_id)
        if message.kind is ConvKind.C2C:
            if viewer not in (message.sender, message.receiver):
                raise CoreError(
                    Reason.NOT_ALLOWED,
                    f"{viewer!r} is not in the conversation of message {msg_id}",
                )
        else:
            assert message.group_id is not None
            group = await self.groups.get(app, message.group_id)
            if group.conv_id != message.conv_id:
                raise CoreError(Reason.UNKNOWN_GROUP, f"the group of message {msg_id} is gone")
            await self.groups.require_member(group, viewer)
        return message

    async def conversation_history(
        self,
        app: int,
        viewer: str,
        conv_id: int,
        *,
        count: int,
        after_seq: int = 0,
        before_seq: int | None = None,
        min_ms: int = 0,
        max_ms: int | None = None,
        ascending: bool = False,
    ) -> list[Message]:
        """Up to ``count`` messages of a conversation ``viewer`` is in (recalled ones included)
        with ``after_seq < seq < before_seq`` and ``min_ms <= time <= max_ms``, newest first
        (oldest first when ``ascending``).

        Raises CoreError: UNKNOWN_GROUP, OTHER_APP, NOT_ALLOWED, NOT_GROUP_MEMBER."""
        conv = await self.groups.conversation(app, conv_id)
        if conv.kind is ConvKind.C2C:
            if not conv.has_party(viewer):
                raise CoreError(Reason.NOT_ALLOWED, f"{viewer!r} is not in conversation {conv_id}")
        else:
            await self.groups.require_member(await self.groups.by_conv(app, conv_id), viewer)
        return await self.d.store.messages.history(
            conv_id,
            before_seq=before_seq,
            count=max(1, min(count, MAX_HISTORY + 1)),
            after_seq=after_seq,
            min_ms=min_ms,
            max_ms=max_ms,
            ascending=ascending,
        )

    async def get_many(self, app: int, msg_ids: Sequence[int]) -> dict[int, Message]:
        """The messages of ``app`` among ``msg_ids`` (unknown or foreign ids are left out)."""
        found = await self.d.store.messages.get_many(msg_ids)
        return {i: m for i, m in found.items() if m.app == app}

    async def c2c_find(self, app: int, viewer: str, peer: str, ref: MessageRef) -> Message:
        """The message of ``viewer``'s conversation with ``peer`` that ``ref`` (random and
        whatever else given) names. Raises CoreError(UNKNOWN_MESSAGE)."""
        conv = await self.d.store.groups.find_c2c(app, viewer, peer)
        if conv is not None and ref.random is not None:
            for m in await self.d.store.messages.by_random(conv.id, [ref.random]):
                if ref.matches(m):
                    return m
        raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {ref.name()} does not exist")

    async def c2c_history(
        self,
        app: int,
        viewer: str,
        peer: str,
        *,
        count: int,
        before_seq: int | None = None,
        min_ms: int = 0,
        max_ms: int | None = None,
    ) -> list[HistoryItem]:
        """The newest ``count`` messages of ``viewer``'s conversation with ``peer`` (within a time
        range if given), newest first. Raises CoreError(UNKNOWN_ACCOUNT)."""
        count = max(1, min(count, MAX_HISTORY + 1))
        conv = await self.d.store.groups.find_c2c(app, viewer, peer)
        if conv is None:
            await self._require_accounts(app, [viewer, peer])
            return []
        messages = await self.d.store.messages.history(
            conv.id, before_seq=before_seq, count=count, min_ms=min_ms, max_ms=max_ms
        )
        my_seq, _ = await self.d.store.reads.position(conv.id, viewer)
        peer_seq, _ = await self.d.store.reads.position(conv.id, peer)
        return await self._items(messages, viewer, my_seq, peer_seq)

    async def group_history(
        self,
        app: int,
        viewer: str,
        group_id: str,
        *,
        count: int,
        before_seq: int | None = None,
        as_admin: bool = False,
    ) -> list[HistoryItem]:
        """The newest ``count`` messages of a group the viewer belongs to, newest first."""
        count = max(1, min(count, MAX_HISTORY + 1))
        group = await self.groups.get(app, group_id)
        if not as_admin:
            await self.groups.require_member(group, viewer)
        messages = await self.d.store.messages.history(
            group.conv_id, before_seq=before_seq, count=count
        )
        my_seq, _ = await self.d.store.reads.position(group.conv_id, viewer)
        return await self._items(messages, viewer, my_seq, None)

    async def _items(
        self, messages: Sequence[Message], viewer: str, my_seq: int, peer_seq: int | None
    ) -> list[HistoryItem]:
        counts = await self.d.store.receipts.counts([m.id for m in messages if m.has_receipts])
        items = []
        for m in messages:
            read, receivers = counts.get(m.id, (0, 0))
            items.append(
                HistoryItem(
                    message=m,
                    read_by_me=m.sender == viewer or m.seq <= my_seq,
                    peer_read=peer_seq is not None and m.sender == viewer and m.seq <= peer_seq,
                    receipt_read=read,
                    receipt_unread=receivers - read,
                )
            )
        return items

    async def _require_accounts(self, app: int, user_ids: Sequence[str]) -> None:
        found = await self.d.store.accounts.existing(app, user_ids)
        for user_id in user_ids:
            if user_id not in found:
                raise CoreError(Reason.UNKNOWN_ACCOUNT, f"account {user_id!r} does not exist")


def _receipt_code(
    policy: AppPolicy, need_receipt: bool, online_only: bool, group_type: GroupType | None
) -> str | None:
    """Why a message that asks for receipts keeps none (None: it keeps them). The cap on the
    group size is checked by the store, against the members at the instant of sending."""
    if not need_receipt:
        return None
    if not policy.flagship:
        return Reason.RECEIPT_NOT_FLAGSHIP.value
    if group_type is not None and not policy.group_receipts_enabled(group_type):
        return Reason.RECEIPT_GROUP_TYPE_DISABLED.value
    if online_only:
        return Reason.RECEIPT_ONLINE_ONLY.value
    return None


def _sent_event(
    m: Message, group_type: GroupType | None, platform: str, receiver_unread: int
) -> MessageSent:
    return MessageSent(
        msg_id=m.id,
        kind=m.kind.value,
        sender=m.sender,
        receiver=m.receiver,
        group_id=m.group_id,
        group_type=group_type.value if group_type else None,
        seq=m.seq,
        random=m.random,
        time_ms=m.time_ms,
        body=m.body,
        need_receipt=m.need_receipt,
        online_only=m.online_only,
        receipt_code=m.receipt_code,
        platform=platform,
        receiver_unread=receiver_unread,
        parent_id=m.parent_id,
        root_id=m.root_id,
        mentions=m.mentions,
        client_seq=m.client_seq,
    )

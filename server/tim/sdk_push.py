"""Pushes to Tencent's Chat SDK: a core listener that turns committed changes into
``im_open_push.msg_push`` frames for the SDK's sockets.

- a message: ``C2cMsgArray`` / ``GroupMsgArray`` to every receiver, and to the sender's other
  SDK instances (the instance that sent it already has it);
- a group receipt: ``GroupTips`` Event 5 with ``GroupMsgReceiptList`` totals, to the sender;
- a one-to-one receipt: Event 16 with ``UserId``/``PeerReadTime``, to the sender;
- a one-to-one conversation read: ``C2cNotifyMsgArray`` ``C2cReadedReceipt`` to the peer
  (``MESSAGE_READ_BY_PEER``), and ``ReadC2cMsgNotify`` to the reader's other instances (their
  unread count goes to 0).

Receipt items name messages by what the SDK's message id is made of (TinyId, client time,
random), so they match the messages the SDK holds. Each frame is encoded once per audience and
offered to the bounded session queues of ``server/fanout.py``; it never waits for a client.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterable, Sequence

import msgspec

from protocol.tim import sdk_push as P
from server.core.model import ConvKind, Message, ReceiptCount
from server.core.receipts import group_by_sender
from server.fanout import Fanout, PushSession
from server.tim.convert import sdk_c2c_item, sdk_group_item, sdk_receipt_ref, time_s

# The socket whose request is being handled: it has the message it sent already.
sending_session: contextvars.ContextVar[PushSession | None] = contextvars.ContextVar(
    "sending_session", default=None
)


class SdkPush:
    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self._seq = itertools.count(1)

    def _online(self, app: int, users: Iterable[str]) -> list[str]:
        return [u for u in users if self.fanout.sessions(app, u)]

    def _push(
        self,
        app: int,
        users: list[str],
        events: list[msgspec.Struct],
        *,
        skip: PushSession | None = None,
    ) -> None:
        """Offer one frame to the SDK sockets of ``users`` (who are online: see _online)."""
        if users:
            self.fanout.push(app, users, P.encode_push(next(self._seq), events), skip=skip)

    def message_sent(self, message: Message, recipients: Sequence[str]) -> None:
        others = self._online(message.app, (u for u in recipients if u != message.sender))
        sender = self._online(message.app, [message.sender])
        if not others and not sender:  # nobody is on the SDK: build nothing (a send's hot path)
            return
        event: msgspec.Struct
        if message.kind is ConvKind.C2C:
            event = P.C2CMsgEvent(P.EVENT_C2C_MSG, [sdk_c2c_item(message)])
        else:
            event = P.GroupMsgEvent(P.EVENT_GROUP_MSG, [sdk_group_item(message)])
        self._push(message.app, others, [event])
        self._push(message.app, sender, [event], skip=sending_session.get())

    def receipts_changed(self, app: int, reader: str, counts: Sequence[ReceiptCount]) -> None:
        for sender, items in group_by_sender(counts).items():
            if not self.fanout.sessions(app, sender):
                continue
            first = items[0].message
            event: msgspec.Struct
            if first.kind is ConvKind.GROUP:
                assert first.group_id is not None
                tip = P.GroupReceiptTip(
                    P.GroupRef(first.group_id),
                    P.GroupReceiptBody(
                        [
                            P.GroupReceiptCount(
                                **msgspec.structs.asdict(sdk_receipt_ref(c.message)),
                                ReadNum=c.read,
                                UnreadNum=c.unread,
                            )
                            for c in items
                        ]
                    ),
                )
                event = P.GroupTipsEvent(P.EVENT_GROUP_TIPS, [tip])
            else:
                read_ms = max(c.peer_read_ms or 0 for c in items)
                event = P.C2CReceiptEvent(
                    P.EVENT_C2C_RECEIPT,
                    UserId=reader,
                    PeerReadTime=time_s(read_ms),
                    C2cMsgInfo=[sdk_receipt_ref(c.message) for c in items],
                )
            self._push(app, [sender], [event])

    def c2c_read(self, app: int, reader: str, peer: str, read_ms: int) -> None:
        peer_online, reader_online = self._online(app, [peer]), self._online(app, [reader])
        if not peer_online and not reader_online:
            return
        t = time_s(read_ms)
        to_peer = P.C2CNotifyEvent(
            P.EVENT_C2C_NOTIFY,
            [
                P.C2CReadNotify(
                    P.C2CReadedReceipt(
                        To_Account=reader,
                        UinPairReadArray=[P.UinPairRead(peer, reader, t)],
                    )
                )
            ],
        )
        self._push(app, peer_online, [to_peer])
        to_reader = P.C2CNotifyEvent(
            P.EVENT_C2C_NOTIFY,
            [P.C2CReadSync(P.C2CReadSyncInfo([P.PeerReadTime(From_Account=peer, LastReadTime=t)]))],
        )
        self._push(app, reader_online, [to_reader], skip=sending_session.get())

    def events_appended(self, app: int) -> None:
        pass

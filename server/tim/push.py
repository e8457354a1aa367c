"""TIM pushes: a core listener that turns committed changes into V2TIM listener frames.

Each push is encoded once per distinct audience and offered to the target sessions' bounded
queues (``server/fanout.py``); it never waits for a client.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence

from protocol.tim import ws as W
from server.core.model import ConvKind, Message, ReceiptCount
from server.core.receipts import group_by_sender
from server.fanout import Fanout, PushSession
from server.tim.convert import time_s, v2tim_message
from server.tim.receipts import v2tim_receipt

# The session whose request is being handled: it gets a response, not a push of its own message.
current_session: contextvars.ContextVar[PushSession | None] = contextvars.ContextVar(
    "current_session", default=None
)


class TimPush:
    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout

    def message_sent(self, message: Message, recipients: Sequence[str]) -> None:
        others = [u for u in recipients if u != message.sender]
        if others:
            viewer = others[0] if message.kind is ConvKind.C2C else ""
            frame = W.encode(
                W.Push(
                    event="onRecvNewMessage", data=W.NewMessagePush(v2tim_message(message, viewer))
                )
            )
            self.fanout.push(message.app, others, frame)
        if self.fanout.sessions(message.app, message.sender):
            own = W.encode(
                W.Push(
                    event="onRecvNewMessage",
                    data=W.NewMessagePush(v2tim_message(message, message.sender)),
                )
            )
            self.fanout.push(message.app, [message.sender], own, skip=current_session.get())

    def receipts_changed(self, app: int, reader: str, counts: Sequence[ReceiptCount]) -> None:
        for sender, items in group_by_sender(counts).items():
            if not self.fanout.sessions(app, sender):
                continue
            frame = W.encode(
                W.Push(
                    event="onRecvMessageReadReceipts",
                    data=W.ReceiptList([v2tim_receipt(c) for c in items]),
                )
            )
            self.fanout.push(app, [sender], frame)

    def c2c_read(self, app: int, reader: str, peer: str, read_ms: int) -> None:
        if not self.fanout.sessions(app, peer):
            return
        frame = W.encode(
            W.Push(
                event="onRecvC2CReadReceipt",
                data=W.ReceiptList(
                    [W.V2TIMMessageReceipt(msgID="", userID=reader, timestamp=time_s(read_ms))]
                ),
            )
        )
        self.fanout.push(app, [peer], frame)

    def events_appended(self, app: int) -> None:
        pass

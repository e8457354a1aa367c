"""TIM callbacks: an outbox channel that renders neutral events as TIM webhooks and POSTs them.

Commands: ``Group.CallbackAfterSendMsg``, ``C2C.CallbackAfterSendMsg``,
``Group.CallbackAfterReadReceipt`` and ``C2C.CallbackAfterMsgReport``, to the app's configured URL
with TIM's query parameters (plus ``Sign``/``RequestTime`` when a token is set). A delivery counts
when the backend answers HTTP 200 within the timeout; anything else is retried with backoff
(TIM itself does not retry "After" callbacks by default: see docs/semantics.md).
"""

from __future__ import annotations

import logging

import aiohttp
import msgspec

from protocol.tim import callbacks as cb
from protocol.tim.ids import format_msg_key
from server.core.clock import Clock
from server.core.events import C2CRead, GroupReceipts, MessageSent, StoredEvent, decode_event
from server.outbox import Outcome, RetryPolicy
from server.settings import CALLBACK_COMMANDS, AppSettings, CallbackSettings
from server.tim.convert import from_core, rest_type_name

log = logging.getLogger("server.tim.callbacks")

_encoder = msgspec.json.Encoder()
ALL_COMMANDS = CALLBACK_COMMANDS


def render(stored: StoredEvent) -> tuple[cb.Callback, str] | None:
    """The TIM callback (and its OptPlatform) for a stored event, or None if TIM has none."""
    event = decode_event(stored.body)
    when = stored.time_ms
    if isinstance(event, MessageSent):
        t = event.time_ms // 1000
        body = from_core(event.body)
        if event.kind == "group":
            assert event.group_id is not None and event.group_type is not None
            return cb.GroupAfterSendMsg(
                EventTime=when,
                GroupId=event.group_id,
                Type=rest_type_name(event.group_type),
                From_Account=event.sender,
                Operator_Account=event.sender,
                Random=event.random,
                MsgSeq=event.seq,
                MsgTime=t,
                OnlineOnlyFlag=int(event.online_only),
                NeedReadReceipt=int(event.need_receipt),
                MsgBody=body,
            ), event.platform
        assert event.receiver is not None
        seq = event.seq if event.client_seq is None else event.client_seq
        return cb.C2CAfterSendMsg(
            EventTime=when,
            From_Account=event.sender,
            To_Account=event.receiver,
            MsgSeq=seq,
            MsgRandom=event.random,
            MsgTime=t,
            MsgKey=format_msg_key(seq, event.random, t),
            OnlineOnlyFlag=int(event.online_only),
            IsNeedReadReceipt=int(event.need_receipt),
            SendMsgResult=0,
            ErrorInfo="send msg succeed",
            UnreadMsgNum=event.receiver_unread,
            MsgBody=body,
        ), event.platform
    if isinstance(event, GroupReceipts):
        return cb.GroupAfterReadReceipt(
            EventTime=when,
            GroupId=event.group_id,
            Type=rest_type_name(event.group_type),
            GroupMsgReceiptList=[
                cb.GroupMsgReceiptItem(
                    MsgSeq=i.seq,
                    ReadNum=i.read,
                    UnreadNum=i.unread,
                    ReadReceiptMembers=[cb.ReadReceiptMember(event.reader)],
                )
                for i in event.items
            ],
        ), event.platform
    if isinstance(event, C2CRead):
        return cb.C2CAfterMsgReport(
            EventTime=when,
            Report_Account=event.reader,
            Peer_Account=event.peer,
            LastReadTime=event.read_ms // 1000,
            UnreadMsgNum=event.unread_total,
        ), event.platform
    return None


class TimCallbackChannel:
    """One app's callback URL, as an outbox channel."""

    types = ("message.sent", "receipt.group", "read.c2c")
    window = 1  # TIM's callbacks go one at a time, in order

    def __init__(
        self,
        app: AppSettings,
        settings: CallbackSettings,
        http: aiohttp.ClientSession,
        clock: Clock,
    ) -> None:
        self.name = f"tim-callback:{app.sdkappid}"
        self.app = app.sdkappid
        self.settings = settings
        self.http = http
        self.clock = clock
        # None sends all four; a list (even an empty one) sends only what it names
        self.commands = frozenset(ALL_COMMANDS if settings.commands is None else settings.commands)
        unknown = sorted(self.commands - set(ALL_COMMANDS))
        if unknown:  # a typo would otherwise silence that callback without a word
            raise ValueError(
                f"app {app.sdkappid}: unknown callback command(s) {', '.join(unknown)}; "
                f"known: {', '.join(ALL_COMMANDS)}"
            )
        self.retry = RetryPolicy(settings.retry_initial, settings.retry_max, settings.give_up_after)

    async def deliver(self, stored: StoredEvent) -> Outcome | None:
        rendered = render(stored)
        if rendered is None:
            return None
        callback, platform = rendered
        command = cb.command_of(callback)
        if command not in self.commands:
            return None
        url = cb.callback_url(
            self.settings.url,
            sdkappid=self.app,
            command=command,
            platform=platform,
            token=self.settings.token,
            request_time=self.clock.now_ms() // 1000,
        )
        try:
            async with self.http.post(
                url,
                data=_encoder.encode(callback),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            ) as resp:
                text = (await resp.read())[:200].decode(errors="replace")
                if resp.status != 200:
                    return Outcome(False, resp.status, f"{command}: HTTP {resp.status} {text}")
                return Outcome(True, 200, f"{command}: {text}")
        except TimeoutError:
            return Outcome(False, None, f"{command}: no answer within {self.settings.timeout}s")
        except aiohttp.ClientError as exc:
            return Outcome(False, None, f"{command}: {exc.__class__.__name__}: {exc}")

"""A lean load-generator connection speaking Tencent's Chat SDK protocol (``/tim/sdk/binfo``).

It sends what ``@tencentcloud/chat`` sends (binary frames holding ``{head, body}`` JSON, the
A2Key and TinyId in every head after ``wslogin``), pre-encoded: only the ``seq`` is spliced in.
It has the interface of :class:`bench.client.Conn`, so the same scenarios drive both protocols.
A message is named ``"<GroupId>:<MsgSeq>"``, which is how the SDK's receipt calls and the
Event-5 receipt pushes name it.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.client import BaseConn, Frame, ReceiptItem, RequestError
from protocol.tim import elements as el


class _Head(msgspec.Struct):
    servcmd: str = ""
    seq: int = -1


class _Envelope(msgspec.Struct):
    ErrorCode: int = 0
    ErrorInfo: str = ""


class _Downlink(msgspec.Struct):
    head: _Head
    body: msgspec.Raw = msgspec.Raw(b"{}")


class _Count(msgspec.Struct):
    MsgSeq: int
    ReadNum: int = 0
    UnreadNum: int = 0
    Code: int = 0


class _ReceiptBody(msgspec.Struct):
    GroupMsgReceiptList: list[_Count] = []


class _GroupRef(msgspec.Struct):
    GroupId: str


class _Tip(msgspec.Struct):
    GroupInfo: _GroupRef
    MsgBody: _ReceiptBody | None = None


class _Item(msgspec.Struct):
    Event: int = 0
    GroupTips: list[_Tip] | None = None
    GroupMsgArray: list[msgspec.Raw] | None = None


class _Push(msgspec.Struct):
    EventArray: list[_Item] = []


class _Login(msgspec.Struct):
    ErrorCode: int = 0
    ErrorInfo: str = ""
    A2Key: str = ""
    TinyId: str = ""


class _Sent(msgspec.Struct):
    ErrorCode: int = 0
    ErrorInfo: str = ""
    MsgSeq: int = 0


class _Counts(msgspec.Struct):
    ErrorCode: int = 0
    ErrorInfo: str = ""
    GroupMsgReceiptList: list[_Count] = []


_down = msgspec.json.Decoder(_Downlink)
_env = msgspec.json.Decoder(_Envelope)
_push = msgspec.json.Decoder(_Push)
_enc = msgspec.json.Encoder()
PUSH = "im_open_push.msg_push"
RECEIPT = "group_open_http_svc.group_msg_receipt"


def key_of(group_id: str, seq: int) -> str:
    return f"{group_id}:{seq}"


class SdkConn(BaseConn):
    """One user logged in on one SDK socket."""

    text_frames = False

    def __init__(self, user: str, ws: ClientConnection) -> None:
        super().__init__(user, ws)
        self._seq = itertools.count(700_000_001)  # the SDK starts at a random value
        self._head = b""  # the credentials in every head after wslogin

    @classmethod
    async def open(cls, url: str, user: str, *, compression: str | None) -> SdkConn:
        ws = await connect(
            url.rstrip("/") + "/binfo?sdkappid=0&platform=7&sdkversion=3.6.6",
            compression=compression,
            max_size=8 << 20,
            ping_interval=None,
            open_timeout=60,
            close_timeout=5,
        )
        conn = cls(user, ws)
        conn._reader = asyncio.create_task(conn._read_loop())
        return conn

    @staticmethod
    def receipts_tail(keys: list[str]) -> bytes:
        """The pre-encoded ``},"body":{...}}`` of a group_msg_receipt for these messages (all
        of one group, as the SDK sends them)."""
        group = keys[0].rsplit(":", 1)[0]
        seqs = [{"MsgSeq": int(k.rsplit(":", 1)[1])} for k in keys]
        return b'},"body":' + _enc.encode({"GroupId": group, "MsgSeqList": seqs}) + b"}"

    def _frame(self, servcmd: str, seq: int, tail: bytes) -> bytes:
        return (
            b'{"head":{"ver":"v4","platform":7,"contenttype":"json","servcmd":"'
            + servcmd.encode()
            + b'",'
            + self._head
            + b'"seq":'
            + str(seq).encode()
            + tail
        )

    async def login(self, sdkappid: int, user_sig: str) -> None:
        seq = next(self._seq)
        credentials = _enc.encode({"identifier": self.user, "usersig": user_sig})[1:-1] + b","
        frame = (
            b'{"head":{"servcmd":"im_open_status.wslogin","sdkappid":'
            + str(sdkappid).encode()
            + b","
            + credentials
            + b'"seq":'
            + str(seq).encode()
            + b'},"body":{"State":"Online"}}'
        )
        reply = await self._roundtrip(frame, seq)
        login = msgspec.json.decode(reply.data, type=_Login)
        if login.ErrorCode:
            raise RequestError("wslogin", login.ErrorCode, login.ErrorInfo)
        self._head = (
            b'"sdkappid":'
            + str(sdkappid).encode()
            + b","
            + _enc.encode({"a2": login.A2Key, "tinyid": login.TinyId})[1:-1]
            + b","
        )

    async def send_group_message(self, group_id: str, text: str) -> str:
        seq = next(self._seq)
        body = {
            "GroupId": group_id,
            "Random": seq & 0xFFFFFFFF,
            "MsgClientTime": int(time.time()),
            "NeedReadReceipt": 1,
            "MsgBody": msgspec.to_builtins([el.text(text)]),
        }
        frame = self._frame(
            "group_open_http_svc.send_group_msg", seq, b'},"body":' + _enc.encode(body) + b"}"
        )
        reply = await self._roundtrip(frame, seq)
        sent = msgspec.json.decode(reply.data, type=_Sent)
        if sent.ErrorCode:
            raise RequestError("send_group_msg", sent.ErrorCode, sent.ErrorInfo)
        return key_of(group_id, sent.MsgSeq)

    def send_receipts_nowait(self, tail: bytes) -> asyncio.Future[Frame]:
        seq = next(self._seq)
        return self._request_nowait(seq, self._frame(RECEIPT, seq, tail))

    async def send_receipts(self, tail: bytes) -> Frame:
        seq = next(self._seq)
        return await self._roundtrip(self._frame(RECEIPT, seq, tail), seq)

    async def get_receipts(self, keys: list[str]) -> list[ReceiptItem]:
        seq = next(self._seq)
        frame = self._frame(
            "group_open_http_svc.get_group_msg_receipt", seq, self.receipts_tail(keys)
        )
        reply = await self._roundtrip(frame, seq)
        counts = msgspec.json.decode(reply.data, type=_Counts)
        if counts.ErrorCode:
            raise RequestError("get_group_msg_receipt", counts.ErrorCode, counts.ErrorInfo)
        group = keys[0].rsplit(":", 1)[0]
        return [
            ReceiptItem(key_of(group, c.MsgSeq), c.ReadNum, c.UnreadNum)
            for c in counts.GroupMsgReceiptList
            if c.Code == 0
        ]

    async def _roundtrip(self, frame: bytes, seq: int) -> Frame:
        return await self._exchange(seq, frame)

    # -- plumbing ---------------------------------------------------------------------------

    def _on_push(self, now: int, body: bytes) -> None:
        for item in _push.decode(body).EventArray:
            if item.GroupTips:
                for tip in item.GroupTips:
                    if tip.MsgBody is None:
                        continue
                    self.receipt_pushes += 1
                    if self.on_receipts is not None:
                        gid = tip.GroupInfo.GroupId
                        self.on_receipts(
                            self,
                            now,
                            [
                                ReceiptItem(key_of(gid, c.MsgSeq), c.ReadNum, c.UnreadNum)
                                for c in tip.MsgBody.GroupMsgReceiptList
                            ],
                        )
            elif item.GroupMsgArray is not None:
                self.new_message_pushes += len(item.GroupMsgArray)
            else:
                self.other_pushes += 1

    async def _read_loop(self) -> None:
        try:
            while True:
                raw = await self.ws.recv(decode=False)
                now = time.monotonic_ns()
                frame = _down.decode(raw)
                if frame.head.servcmd == PUSH:
                    self._on_push(now, frame.body)
                    continue
                env = _env.decode(frame.body)
                self._answer(
                    frame.head.seq,
                    Frame(
                        cmd=frame.head.servcmd,
                        reqId=frame.head.seq,
                        code=env.ErrorCode,
                        desc=env.ErrorInfo,
                        data=frame.body,
                    ),
                )
        except websockets.ConnectionClosed:
            pass
        finally:
            self._gone()

"""kill -9: nothing the server acknowledged is lost, and neither is any callback it owes.

The real server runs as a subprocess (``python -m server serve``) with its callbacks pointed at a
port where nothing listens. After a burst of writes is cut short by SIGKILL, a second server on
the same database, with the receiver now up, must still hold every acknowledged message and
receipt and deliver one callback for each state change in the database (reference/tim.md rule
12, house rule 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.tim import READ, UNREAD, TimClient
from clients.tim_rest import TimRestClient, TimRestError
from tests.e2e.receiver import Receiver, closed_port
from tests.harness import KEY, SDKAPPID

ROOT = Path(__file__).resolve().parents[2]
READY = "Uvicorn running on"  # logged once the socket listens
MEMBERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
GROUP = "dur1"
SEND_GROUP = "Group.CallbackAfterSendMsg"
SEND_C2C = "C2C.CallbackAfterSendMsg"
READ_RECEIPT = "Group.CallbackAfterReadReceipt"
MSG_REPORT = "C2C.CallbackAfterMsgReport"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python -m server serve`` in a subprocess; its log goes to ``log_path``."""

    def __init__(self, db: Path, config: Path, log_path: Path) -> None:
        self.db = db
        self.config = config
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self._drain: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, deadline: float = 8.0) -> None:
        """Start and return once uvicorn reports that it listens (a fresh port is
        tried again if the one picked was taken in the meantime)."""
        try:
            async with asyncio.timeout(deadline):
                for _ in range(3):
                    if await self._try_start(free_port()):
                        return
        except TimeoutError:
            await self.terminate()
        raise AssertionError(f"the server did not start; log:\n{self.log_path.read_text()}")

    async def _try_start(self, port: int) -> bool:
        self.port = port
        self.proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "server", "serve", "--port", str(port), "--db", str(self.db)),
            *("--config", str(self.config), "--log-level", "info"),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        ready = asyncio.Event()
        self._drain = asyncio.create_task(self._copy_log(self.proc.stderr, ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, self._drain}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if ready.is_set():
            return True
        await self.proc.wait()  # it exited during startup (e.g. the port was taken)
        await self._finish()
        return False

    async def _copy_log(self, stream: asyncio.StreamReader, ready: asyncio.Event) -> None:
        """Copy the server's stderr to the log file until it closes; set ``ready`` on READY."""
        with self.log_path.open("a") as log:
            while line := await stream.readline():
                text = line.decode(errors="replace")
                log.write(text)
                if READY in text:
                    ready.set()

    async def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        assert await self.proc.wait() == -signal.SIGKILL
        await self._finish()

    async def terminate(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._finish()

    async def _finish(self) -> None:
        if self._drain is not None:
            await self._drain
            self._drain = None


@contextlib.asynccontextmanager
async def server(db: Path, config: Path, log_path: Path) -> AsyncIterator[ServerProcess]:
    proc = ServerProcess(db, config, log_path)
    try:
        await proc.start()
        yield proc
    finally:
        await proc.terminate()


def write_config(path: Path, callback_url: str) -> None:
    path.write_text(
        "default_app = false\n\n"
        "[[apps]]\n"
        f"sdkappid = {SDKAPPID}\n"
        f'secret_key = "{KEY}"\n\n'
        "[apps.callback]\n"
        f'url = "{callback_url}"\n'
        "timeout = 1.0\n"
        "retry_initial = 0.05\n"
        "retry_max = 0.2\n"
    )


def text(value: str) -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": value}}]


def client(base_url: str, user: str) -> TimClient:
    ws_url = base_url.replace("http://", "ws://") + "/tim/ws"
    return TimClient(ws_url, SDKAPPID, user, secret_key=KEY)


async def send_group(admin: TimRestClient, sender: str, body: str) -> int:
    result = await admin.call(
        "group_open_http_svc",
        "send_group_msg",
        {
            "GroupId": GROUP,
            "From_Account": sender,
            "Random": random.randrange(2**32),
            "NeedReadReceipt": 1,
            "MsgBody": text(body),
        },
    )
    return int(result["MsgSeq"])


async def send_c2c(admin: TimRestClient, sender: str, to: str, body: str) -> str:
    result = await admin.call(
        "openim",
        "sendmsg",
        {
            "From_Account": sender,
            "To_Account": to,
            "MsgRandom": random.randrange(2**32),
            "IsNeedReadReceipt": 1,
            "MsgBody": text(body),
        },
    )
    return str(result["MsgKey"])


async def group_receipt(admin: TimRestClient, member: str, seqs: list[int]) -> None:
    body = {"GroupId": GROUP, "From_Account": member, "MsgSeqList": [{"MsgSeq": s} for s in seqs]}
    await admin.call("group_open_http_svc", "group_msg_receipt", body)


@dataclass
class Acked:
    """What the first server acknowledged, and what the burst only tried."""

    seqs: set[int] = field(default_factory=set)  # group messages
    receipts: set[tuple[int, str]] = field(default_factory=set)  # (MsgSeq, member)
    c2c_keys: set[str] = field(default_factory=set)
    tried_seqs: int = 0  # sends in the burst (their seqs are unknown if cut short)
    tried_receipts: set[tuple[int, str]] = field(default_factory=set)


async def first_life(srv: ServerProcess) -> Acked:
    """Writes through REST and the WebSocket, then a burst cut short by SIGKILL."""
    acked = Acked()
    async with TimRestClient(srv.base_url, SDKAPPID, KEY) as admin:
        await admin.import_accounts(*MEMBERS)
        await admin.create_group("Work", "durable", MEMBERS, group_id=GROUP, owner="alice")
        alices = [await send_group(admin, "alice", f"a{i}") for i in range(8)]
        acked.seqs.update(alices)
        await group_receipt(admin, "bob", alices)
        acked.receipts.update((s, "bob") for s in alices)
        async with client(srv.base_url, "carol") as carol:
            history = await carol.history(group_id=GROUP, count=20)
            await carol.send_message_read_receipts([m for m in history if m.seq in alices[:4]])
            acked.receipts.update((s, "carol") for s in alices[:4])
            mine = await carol.send_group_message(GROUP, "from carol", need_read_receipt=True)
            acked.seqs.add(mine.seq)
        await group_receipt(admin, "alice", [mine.seq])
        acked.receipts.add((mine.seq, "alice"))
        for i in range(3):
            acked.c2c_keys.add(await send_c2c(admin, "alice", "bob", f"c{i}"))
        body = {"Report_Account": "bob", "Peer_Account": "alice"}
        await admin.call("openim", "admin_set_msg_read", body)

        # the burst: receipts of three members (one call each) and a few more sends
        receipts = {
            asyncio.create_task(group_receipt(admin, member, [s])): (s, member)
            for member in ("dave", "erin", "frank")
            for s in alices
        }
        sends = [asyncio.create_task(send_group(admin, "frank", f"burst{i}")) for i in range(4)]
        acked.tried_receipts.update(receipts.values())
        acked.tried_seqs = len(sends)
        pending: set[asyncio.Task[Any]] = {*receipts, *sends}
        while len(pending) > len(receipts) + len(sends) - 5:  # a few answered: pull the plug
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await srv.kill9()
        await asyncio.wait([*receipts, *sends])
    for task, receipt in receipts.items():
        if task.exception() is None:
            acked.receipts.add(receipt)
    for task in sends:
        if task.exception() is None:
            acked.seqs.add(task.result())
    for task in [*receipts, *sends]:  # cut short by the kill, never refused
        assert not isinstance(task.exception(), TimRestError), task.exception()
    return acked


async def test_kill_9_loses_no_acknowledged_write_and_no_callback(tmp_path: Path) -> None:
    """After SIGKILL mid-burst, a restarted server on the same database still has every
    acknowledged message, receipt and read, and delivers exactly one callback for each."""
    db, config, log = tmp_path / "x.sqlite3", tmp_path / "im.toml", tmp_path / "server.log"
    receiver = Receiver(closed_port())  # down: nothing listens there until the restart
    write_config(config, receiver.url)
    srv = ServerProcess(db, config, log)
    try:
        await srv.start()
        acked = await first_life(srv)
    finally:
        await srv.terminate()
    assert len(acked.seqs) + len(acked.receipts) >= 9 + 13 + 5

    await receiver.start()
    try:
        async with (
            server(db, config, log) as srv2,
            TimRestClient(srv2.base_url, SDKAPPID, KEY) as admin,
        ):
            # every acknowledged write is there; anything more is only what the burst tried
            state = await group_state(admin)
            assert acked.seqs <= set(state) and len(state) <= 9 + acked.tried_seqs
            readers = {(s, m) for s, st in state.items() for m in st["read"]}
            assert acked.receipts <= readers <= acked.receipts | acked.tried_receipts
            for st in state.values():
                assert st["ReadNum"] == len(st["read"]) and st["UnreadNum"] == len(st["unread"])
                assert sorted(st["read"] + st["unread"]) == sorted(set(MEMBERS) - {st["sender"]})
            async with client(srv2.base_url, "alice") as alice:
                await check_senders_view(alice, state)
            await check_c2c(admin, acked)

            # one callback per state change the database holds, all delivered, nothing more:
            # a last callback ("sentinel") arrives only after every earlier one
            def owed() -> bool:
                return (
                    {h.body["MsgSeq"] for h in receiver.of(SEND_GROUP)} >= set(state)
                    and {h.body["MsgKey"] for h in receiver.of(SEND_C2C)} >= acked.c2c_keys
                    and len(receiver.of(MSG_REPORT)) >= 1
                    and set(receipt_items(receiver)) >= readers
                )

            await receiver.wait_until(owed, within=10, what="every owed callback")
            sentinel = await send_c2c(admin, "erin", "frank", "sentinel")
            await receiver.wait_until(
                lambda: any(h.body["MsgKey"] == sentinel for h in receiver.of(SEND_C2C)),
                what="the sentinel",
            )
        assert {h.body["MsgSeq"] for h in receiver.of(SEND_GROUP)} == set(state)
        assert {h.body["MsgKey"] for h in receiver.of(SEND_C2C)} == acked.c2c_keys | {sentinel}
        items = receipt_items(receiver)
        assert set(items) == readers
        total = len(MEMBERS) - 1
        for seq, st in state.items():  # each receipt added one reader: totals 1, 2, ...
            counts = sorted(v for (s, _), v in items.items() if s == seq)
            assert counts == [(n, total - n) for n in range(1, st["ReadNum"] + 1)]
        (report,) = {h.key: h for h in receiver.of(MSG_REPORT)}.values()
        assert (report.body["Report_Account"], report.body["Peer_Account"]) == ("bob", "alice")
        assert report.body["UnreadMsgNum"] == 0
    finally:
        await receiver.stop()


def receipt_items(receiver: Receiver) -> dict[tuple[int, str], tuple[int, int]]:
    """``{(MsgSeq, reader): (ReadNum, UnreadNum)}`` over the receipt callbacks delivered."""
    return {
        (i["MsgSeq"], m["Member_Account"]): (i["ReadNum"], i["UnreadNum"])
        for h in receiver.of(READ_RECEIPT)
        for i in h.body["GroupMsgReceiptList"]
        for m in i["ReadReceiptMembers"]
    }


async def group_state(admin: TimRestClient) -> dict[int, dict[str, Any]]:
    """``{MsgSeq: {sender, ReadNum, UnreadNum, read, unread}}`` of every message of the group."""
    svc = "group_open_http_svc"
    history = await admin.call(svc, "group_msg_get_simple", {"GroupId": GROUP, "ReqMsgNumber": 20})
    assert history["IsFinished"] == 1
    seqs = [{"MsgSeq": m["MsgSeq"]} for m in history["RspMsgList"]]
    counts = await admin.call(svc, "get_group_msg_receipt", {"GroupId": GROUP, "MsgSeqList": seqs})
    state: dict[int, dict[str, Any]] = {}
    for m, c in zip(history["RspMsgList"], counts["GroupMsgReceiptList"], strict=True):
        assert c["Code"] == 0 and c["MsgSeq"] == m["MsgSeq"]
        detail = {"GroupId": GROUP, "MsgSeq": m["MsgSeq"]}
        read = await admin.call(svc, "get_group_msg_receipt_detail", {**detail, "Filter": 0})
        unread = await admin.call(svc, "get_group_msg_receipt_detail", {**detail, "Filter": 1})
        assert read["IsFinish"] == 1 and unread["IsFinish"] == 1
        state[m["MsgSeq"]] = {
            "sender": m["From_Account"],
            "ReadNum": c["ReadNum"],
            "UnreadNum": c["UnreadNum"],
            "read": [r["Read_Account"] for r in read["ReadList"]],
            "unread": [r["Unread_Account"] for r in unread["UnreadList"]],
        }
    return state


async def check_senders_view(alice: TimClient, state: dict[int, dict[str, Any]]) -> None:
    """alice sees over the WebSocket the same counts and member lists for her messages."""
    history = await alice.history(group_id=GROUP, count=50)
    own = [m for m in history if m.sender == "alice"]
    assert len(own) == 8
    for r, m in zip(await alice.get_message_read_receipts(own), own, strict=True):
        assert r.msgID == m.msgID
        assert (r.readCount, r.unreadCount) == (state[m.seq]["ReadNum"], state[m.seq]["UnreadNum"])
    for m in own[:3]:
        read = await alice.get_group_message_read_member_list(m, READ)
        unread = await alice.get_group_message_read_member_list(m, UNREAD)
        assert sorted(u.userID for u in read.members) == sorted(state[m.seq]["read"])
        assert sorted(u.userID for u in unread.members) == sorted(state[m.seq]["unread"])


async def check_c2c(admin: TimRestClient, acked: Acked) -> None:
    """The C2C messages are there and bob's read of alice's conversation held."""
    roam = {
        "Operator_Account": "alice",
        "Peer_Account": "bob",
        "MaxCnt": 100,
        "MinTime": 0,
        "MaxTime": 2**31,
    }
    c2c = await admin.call("openim", "admin_getroammsg", roam)
    assert {m["MsgKey"] for m in c2c["MsgList"]} == acked.c2c_keys
    body = {"To_Account": "bob", "Peer_Account": ["alice"]}
    unread = await admin.call("openim", "get_c2c_unread_msg_num", body)
    assert unread["C2CUnreadMsgNumList"] == [{"Peer_Account": "alice", "C2CUnreadMsgNum": 0}]

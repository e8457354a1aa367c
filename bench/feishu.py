"""Feishu event delivery: events/s and action-to-arrival latency, by webhook and long connection.

The server runs with two bots (:func:`write_config`): ``cli_benchhook`` delivers to a webhook
receiver in this process with an Encrypt Key (every body AES-256-CBC encrypted and signed; the
receiver checks the signature and decrypts, as ``lark.EventDispatcherHandler`` does), and
``cli_benchws`` (in a workspace of its own) delivers over the long connection to a pbbp2 client
in this process that acks every event, as ``lark.ws.Client`` does. Both receivers are lean
re-implementations on ``protocol/feishu`` so that the generator is not the bottleneck; the
tests prove the same wire formats against the real lark-oapi classes.

A user's action is one of:

* ``message``: a logged-in TIM user sends a one-to-one text to the bot (``sendMessage`` over
  ``/tim/ws``), which the bot receives as ``im.message.receive_v1``;
* ``read``: the user acknowledges one of the bot's needReadReceipt messages
  (``sendMessageReadReceipts``), which the bot receives as ``im.message.message_read_v1``.

Every event is matched to its action (the text carries a number; a read carries the message's
``om_`` id), so the run counts lost and duplicate events as well as time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import msgspec
import websockets
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect

from bench.client import Conn, Frame, msg_ids_tail, send_result_decoder
from bench.scenarios import Usage, ms_stats, poll_until
from clients.tim_rest import TimRestClient
from protocol.feishu import frames as F
from protocol.feishu import ids
from protocol.feishu.webhook_crypto import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    decrypt_event,
    verify_signature,
)
from protocol.tim import ids as tim_ids
from protocol.tim import usersig

HOOK_APP = "cli_benchhook"
WS_APP = "cli_benchws"
APP_SECRET = "bench-app-secret"
ENCRYPT_KEY = "bench-encrypt-key"
VERIFICATION_TOKEN = "bench-verification-token"
HOOK_WORKSPACE = 1400000000  # the default workspace
WS_WORKSPACE = 1400000077
WS_SECRET_KEY = "bench-ws-workspace-secret-key"
WEBHOOK_PATH = "/webhook/event"


def write_config(path: Path, receiver_url: str, max_in_flight: int) -> None:
    """The server's TOML: the default workspace with the webhook bot, a second workspace with the
    long-connection bot (so neither bot's outbox consumer reads the other's events)."""
    path.write_text(
        f"""
[[apps]]
sdkappid = {WS_WORKSPACE}
secret_key = "{WS_SECRET_KEY}"

[[feishu.apps]]
app_id = "{HOOK_APP}"
app_secret = "{APP_SECRET}"
encrypt_key = "{ENCRYPT_KEY}"
verification_token = "{VERIFICATION_TOKEN}"
event_url = "{receiver_url}"
workspace = {HOOK_WORKSPACE}
timeout = 10.0
max_in_flight = {max_in_flight}

[[feishu.apps]]
app_id = "{WS_APP}"
app_secret = "{APP_SECRET}"
workspace = {WS_WORKSPACE}
max_in_flight = {max_in_flight}
ping_interval = 30
reconnect_interval = 1
reconnect_nonce = 0
"""
    )


@dataclass(frozen=True)
class Mode:
    """One delivery mode under test: its bot, the bot's workspace and credentials."""

    name: str  # "webhook" or "longconn"
    app_id: str
    workspace: int
    secret_key: str


def modes(default_secret_key: str) -> dict[str, Mode]:
    return {
        "webhook": Mode("webhook", HOOK_APP, HOOK_WORKSPACE, default_secret_key),
        "longconn": Mode("longconn", WS_APP, WS_WORKSPACE, WS_SECRET_KEY),
    }


# -- what arrives ----------------------------------------------------------------------------


class _Header(msgspec.Struct):
    event_id: str = ""
    event_type: str = ""


class _Message(msgspec.Struct):
    content: str = ""


class _Event(msgspec.Struct):
    message: _Message | None = None
    message_id_list: list[str] = []


class _Envelope(msgspec.Struct):
    header: _Header = msgspec.field(default_factory=_Header)
    event: _Event = msgspec.field(default_factory=_Event)
    type: str = ""  # "url_verification" for the challenge
    challenge: str = ""


class _Text(msgspec.Struct):
    text: str = ""


class _Encrypted(msgspec.Struct):
    encrypt: str


_envelope = msgspec.json.Decoder(_Envelope)
_text = msgspec.json.Decoder(_Text)
_encrypted = msgspec.json.Decoder(_Encrypted)
TEXT_PREFIX = "fb "


@dataclass
class Sink:
    """Matches arriving events to the actions that caused them.

    ``expect(key, ...)`` is called when an action is sent; ``arrived`` when an event comes in.
    Keys: the number in a message's text, or the ``om_`` id of a read message."""

    window: tuple[int, int] = (0, 0)
    pending: dict[Any, tuple[int, int, bool]] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)
    latencies: list[int] = field(default_factory=list)
    from_schedule: list[int] = field(default_factory=list)
    arrivals: int = 0
    in_window: int = 0
    duplicates: int = 0
    unmatched: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)

    def expect(self, key: Any, scheduled_ns: int, sent_ns: int, in_window: bool) -> None:
        self.pending[key] = (scheduled_ns, sent_ns, in_window)

    def problem(self, what: str) -> None:
        self.bad += 1
        if len(self.bad_examples) < 5:
            self.bad_examples.append(what[:200])

    def arrived(self, now_ns: int, body: bytes) -> None:
        env = _envelope.decode(body)
        self.arrivals += 1
        if self.window[0] <= now_ns < self.window[1]:
            self.in_window += 1
        if env.header.event_id in self.event_ids:
            self.duplicates += 1
            return
        self.event_ids.add(env.header.event_id)
        keys: list[Any]
        if env.event.message is not None:
            text = _text.decode(env.event.message.content).text
            keys = [int(text[len(TEXT_PREFIX) :])] if text.startswith(TEXT_PREFIX) else []
        else:
            keys = list(env.event.message_id_list)
        for key in keys:
            v = self.pending.pop(key, None)
            if v is None:
                self.unmatched += 1
                continue
            if v[2]:
                self.latencies.append(now_ns - v[1])
                self.from_schedule.append(now_ns - v[0])

    def missing_in_window(self) -> int:
        return sum(1 for v in self.pending.values() if v[2])


class WebhookReceiver:
    """The app's event URL: checks ``X-Lark-Signature``, decrypts, answers 200."""

    def __init__(self, encrypt_key: str) -> None:
        self.encrypt_key = encrypt_key
        self.sink: Sink | None = None
        self.challenges = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}{WEBHOOK_PATH}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        now = time.monotonic_ns()
        h = request.headers
        signed = verify_signature(
            h.get(HEADER_TIMESTAMP, ""),
            h.get(HEADER_NONCE, ""),
            self.encrypt_key,
            raw,
            h.get(HEADER_SIGNATURE, ""),
        )
        try:
            plain = decrypt_event(_encrypted.decode(raw).encrypt, self.encrypt_key)
            env = _envelope.decode(plain)
        except ValueError as exc:
            if self.sink is not None:
                self.sink.problem(f"undecryptable body: {exc}")
            return web.json_response({"msg": "bad body"}, status=400)
        if env.type == "url_verification":
            self.challenges += 1
            return web.json_response({"challenge": env.challenge})
        if not signed and self.sink is not None:
            self.sink.problem("bad signature")
        if self.sink is not None:
            self.sink.arrived(now, plain)
        return web.json_response({"msg": "success"})


class LongConnReceiver:
    """A long-connection client: discovery, the pbbp2 WebSocket, a ping, an ack per event."""

    def __init__(self, base_url: str, app_id: str, app_secret: str) -> None:
        self.base_url = base_url
        self.app_id = app_id
        self.app_secret = app_secret
        self.sink: Sink | None = None
        self.ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._parts: dict[str, list[bytes | None]] = {}
        self.pongs = 0

    async def start(self) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.base_url}/callback/ws/endpoint",
                json={"AppID": self.app_id, "AppSecret": self.app_secret},
            ) as resp,
        ):
            answer = await resp.json()
        if answer.get("code") != 0:
            raise RuntimeError(f"long-connection discovery failed: {answer}")
        url = answer["data"]["URL"]
        service = int(parse_qs(urlparse(url).query)["service_id"][0])
        self.ws = await connect(url, compression=None, max_size=None, ping_interval=None)
        await self.ws.send(F.encode_frame(F.ping_frame(service)))
        self._task = asyncio.create_task(self._read_loop())

    async def stop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _read_loop(self) -> None:
        assert self.ws is not None
        ws = self.ws
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                data = await ws.recv(decode=False)
                now = time.monotonic_ns()
                frame = F.decode_frame(data)
                if frame.method == F.METHOD_CONTROL:
                    self.pongs += frame.header(F.HEADER_TYPE) == F.TYPE_PONG
                    continue
                payload = self._assemble(frame)
                if payload is None:
                    continue
                if self.sink is not None:
                    self.sink.arrived(now, payload)
                ack = F.Frame(
                    seq_id=frame.seq_id,
                    log_id=frame.log_id,
                    service=frame.service,
                    method=frame.method,
                    headers=(*frame.headers, (F.HEADER_BIZ_RT, "0")),
                    payload=b'{"code":200}',
                )
                await ws.send(F.encode_frame(ack))

    def _assemble(self, frame: F.Frame) -> bytes | None:
        total = int(frame.header(F.HEADER_SUM) or "1")
        if total <= 1:
            return frame.payload or b""
        key = frame.header(F.HEADER_MESSAGE_ID) or ""
        parts = self._parts.setdefault(key, [None] * total)
        parts[int(frame.header(F.HEADER_SEQ) or "0")] = frame.payload or b""
        if any(p is None for p in parts):
            return None
        del self._parts[key]
        return b"".join(p for p in parts if p is not None)


# -- the users and their actions ---------------------------------------------------------------


@dataclass
class Users:
    mode: Mode
    names: list[str]
    conns: dict[str, Conn] = field(default_factory=dict)
    bot: Conn | None = None
    unread: dict[str, list[str]] = field(default_factory=dict)  # user -> bot msgIDs to read
    feishu_ids: ids.FeishuIds | None = None  # the server database's om_ ids (from /healthz)


async def make_users(base_url: str, ws_url: str, mode: Mode, count: int, tag: str) -> Users:
    """Import ``count`` accounts into the bot's workspace and log each in over /tim/ws (and the
    bot too, to seed the messages that ``read`` actions acknowledge)."""
    from bench import server as srv

    users = Users(mode, [f"fb{tag}{mode.name[0]}u{i}" for i in range(count)])
    instance = (await asyncio.to_thread(srv.healthz, base_url))["instance"]
    users.feishu_ids = ids.FeishuIds(instance)
    async with TimRestClient(base_url, mode.workspace, mode.secret_key) as rest:
        for i in range(0, count, 100):
            await rest.import_accounts(*users.names[i : i + 100])
    now = int(time.time())
    sem = asyncio.Semaphore(50)

    async def login(user: str) -> Conn:
        sig = usersig.gen_usersig(mode.workspace, mode.secret_key, user, expire=86400, now=now)
        async with sem:
            conn = await Conn.open(ws_url, user, compression=None)
            await conn.login(mode.workspace, sig)
            return conn

    conns = await asyncio.gather(*(login(u) for u in [*users.names, mode.app_id]))
    users.conns = dict(zip(users.names, conns[:-1], strict=True))
    users.bot = conns[-1]
    return users


async def close_users(users: Users) -> None:
    conns = [*users.conns.values(), *([users.bot] if users.bot else [])]
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


async def seed_bot_messages(users: Users, per_user: int) -> float:
    """The bot sends ``per_user`` needReadReceipt messages to each user; returns the seconds."""
    assert users.bot is not None
    bot = users.bot
    t0 = time.monotonic()
    inflight: set[asyncio.Future[Frame]] = set()
    replies: list[tuple[str, asyncio.Future[Frame]]] = []
    for _ in range(per_user):
        for user in users.names:
            fut = bot.send_c2c_nowait(user, "please read", need_read_receipt=True)
            replies.append((user, fut))
            inflight.add(fut)
            if len(inflight) >= 64:
                _, inflight = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
    for user, fut in replies:
        reply = await fut
        if reply.code != 0:
            raise RuntimeError(f"seeding failed: {reply.code} {reply.desc}")
        users.unread.setdefault(user, []).append(
            send_result_decoder.decode(reply.data).message.msgID
        )
    return time.monotonic() - t0


def om_id(feishu_ids: ids.FeishuIds, tim_msg_id: str) -> str:
    parts = tim_ids.parse_msg_id(tim_msg_id)
    assert parts is not None, tim_msg_id
    return feishu_ids.message_id(parts.id)


class Actions:
    """Issues one user action at a time (``message`` or ``read``) and tells the sink."""

    def __init__(self, users: Users, kind: str, sink: Sink) -> None:
        self.users = users
        self.kind = kind
        self.sink = sink
        self.numbers = 0
        self.errors: dict[str, int] = {}
        self.replies = 0
        self.exhausted = False

    def act(self, user: str, scheduled_ns: int, in_window: bool) -> asyncio.Future[Frame] | None:
        conn = self.users.conns[user]
        if self.kind == "message":
            self.numbers += 1
            key: Any = self.numbers
            sent = time.monotonic_ns()
            self.sink.expect(key, scheduled_ns, sent, in_window)
            fut = conn.send_c2c_nowait(self.users.mode.app_id, f"{TEXT_PREFIX}{key}")
        else:
            queue = self.users.unread.get(user)
            if not queue:
                self.exhausted = True
                return None
            msg_id = queue.pop()
            sent = time.monotonic_ns()
            assert self.users.feishu_ids is not None
            self.sink.expect(om_id(self.users.feishu_ids, msg_id), scheduled_ns, sent, in_window)
            fut = conn.send_receipts_nowait(msg_ids_tail([msg_id]))
        fut.add_done_callback(self._reply)
        return fut

    def _reply(self, fut: asyncio.Future[Frame]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None and fut.result().code == 0:
            self.replies += 1
            return
        key = f"connection error: {exc}" if exc else f"{fut.result().code} {fut.result().desc}"
        self.errors[key[:120]] = self.errors.get(key[:120], 0) + 1


# -- the two measurements ----------------------------------------------------------------------


def _result(sink: Sink, actions: Actions, duration: float) -> dict[str, Any]:
    return {
        "window_s": duration,
        "events_in_window": sink.in_window,
        "events_per_s": sink.in_window / duration,
        "action_to_arrival": ms_stats(sink.latencies),
        "action_to_arrival_from_schedule": ms_stats(sink.from_schedule),
        "missing_events": sink.missing_in_window(),
        "duplicate_events": sink.duplicates,
        "unmatched_events": sink.unmatched,
        "bad_deliveries": sink.bad,
        "bad_examples": sink.bad_examples,
        "action_errors": actions.errors,
        "ran_out_of_seeded_messages": actions.exhausted,
    }


async def _drain(sink: Sink, limit: float) -> float:
    """Wait for the events of every action sent (at most ``limit`` s without progress);
    returns the seconds it took."""
    t0 = time.monotonic()
    await poll_until(lambda: not sink.pending, limit, stall=15, progress=lambda: sink.arrivals)
    return time.monotonic() - t0


async def drain(
    users: Users,
    kind: str,
    set_sink: Callable[[Sink], None],
    *,
    pid: int | None,
    base_url: str,
    inflight: int,
    produce: float,
) -> dict[str, Any]:
    """Delivery capacity. First a burst: for ``produce`` seconds every user keeps ``inflight``
    actions outstanding (each waits for the server's reply, not for the event), which piles up a
    backlog of events (the server takes actions faster than it delivers them). Then no more
    actions: the figure is the rate at which the backlog arrives, with the server doing nothing
    but delivering."""
    sink = Sink()
    set_sink(sink)
    actions = Actions(users, kind, sink)
    stop = False

    async def worker(user: str) -> None:
        while not stop:
            fut = actions.act(user, time.monotonic_ns(), True)
            if fut is None:
                return
            with contextlib.suppress(Exception):
                await fut

    t0 = time.monotonic()
    workers = [asyncio.create_task(worker(u)) for u in users.names for _ in range(inflight)]
    await asyncio.sleep(produce)
    stop = True
    await asyncio.gather(*workers, return_exceptions=True)
    produced_s = time.monotonic() - t0
    a = await Usage.take(pid, base_url)
    arrived_a, backlog = sink.arrivals, len(sink.pending)
    await _drain(sink, 180)
    # the drain ends at the last arrival, not at the poll that noticed it
    b = await Usage.take(pid, base_url)
    drained = sink.arrivals - arrived_a
    drain_s = b.t - a.t
    out = _result(sink, actions, produce)
    out |= {
        "kind": kind,
        "inflight_per_user": inflight,
        "users": len(users.names),
        "actions": actions.replies,
        "actions_per_s": actions.replies / produced_s,
        "events_during_burst_per_s": arrived_a / produced_s,
        "backlog": backlog,
        "drained": drained,
        "drain_s": drain_s,
        "events_per_s": drained / drain_s if drain_s else math.nan,
        "missing_events": len(sink.pending),
        **b.since(a),
    }
    return out


async def latency(
    users: Users,
    kind: str,
    set_sink: Callable[[Sink], None],
    *,
    pid: int | None,
    base_url: str,
    rate: float,
    warmup: float,
    duration: float,
) -> dict[str, Any]:
    """Open loop: ``rate`` actions/s on a fixed schedule, users in turn; for each, the time
    from the action's send to its event's arrival (and from its scheduled time)."""
    sink = Sink()
    set_sink(sink)
    actions = Actions(users, kind, sink)
    interval = 1e9 / rate
    t0 = time.monotonic_ns() + 1_000_000
    w0 = t0 + int(warmup * 1e9)
    w1 = w0 + int(duration * 1e9)
    sink.window = (w0, w1)
    names = users.names
    k = 0
    lags: list[int] = []
    sent_in_window = 0
    a: Usage | None = None
    use_task: asyncio.Task[Usage] | None = None
    while not actions.exhausted:
        now = time.monotonic_ns()
        if now >= w1:
            break
        if a is None and use_task is None and now >= w0:
            use_task = asyncio.create_task(Usage.take(pid, base_url))
        due = t0 + int(k * interval)
        while due <= now and due < w1:
            in_window = w0 <= due
            if actions.act(names[k % len(names)], due, in_window) is None:
                break
            if in_window:
                sent_in_window += 1
                lags.append(time.monotonic_ns() - due)
            k += 1
            due = t0 + int(k * interval)
        if use_task is not None and use_task.done():
            a = use_task.result()
            use_task = None
        await asyncio.sleep(max(0.001, (due - time.monotonic_ns()) / 1e9))
    if use_task is not None:
        a = await use_task
    b = await Usage.take(pid, base_url)
    drain_s = await _drain(sink, 60)
    out = _result(sink, actions, duration)
    out |= {
        "kind": kind,
        "rate_offered": rate,
        "achieved_action_rate": sent_in_window / duration,
        "scheduler_lag": ms_stats(lags),
        "drain_s": drain_s,
        **(b.since(a) if a is not None else {}),
    }
    return out


def messages_for(kind: str, rate: float, seconds: float, users: int) -> int:
    """Bot messages to seed per user for ``read`` actions at ``rate`` for ``seconds``."""
    return 0 if kind != "read" else max(1, math.ceil(rate * seconds * 1.3 / users))


# -- the whole Feishu run ----------------------------------------------------------------------


async def wait_outbox_idle(base_url: str, channel: str, limit: float = 120.0) -> None:
    """Wait until ``channel``'s consumer has stopped moving (it has caught up with the seeding)."""
    from bench import server as srv

    last: Any = None
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        stats = await asyncio.to_thread(srv.healthz, base_url)
        cursor = stats.get("outbox", {}).get(channel, {}).get("cursor")
        if cursor == last:
            return
        last = cursor
        await asyncio.sleep(0.5)


async def _seed(
    users: Users, kind: str, rate: float, seconds: float, base_url: str, channel: str
) -> None:
    """For ``read`` actions at ``rate`` for ``seconds``: fresh bot messages to read, seeded,
    and the bot's outbox consumer caught up with them before anything is measured."""
    per_user = messages_for(kind, rate, seconds, len(users.names))
    if not per_user:
        return
    users.unread.clear()
    took = await seed_bot_messages(users, per_user)
    print(f"  seeded {per_user * len(users.names)} bot messages in {took:.1f} s", file=sys.stderr)
    await wait_outbox_idle(base_url, channel)


async def run(
    args: Any,
    base_url: str,
    ws_url: str,
    pid: int | None,
    result: dict[str, Any],
    hook: WebhookReceiver,
    default_secret_key: str,
) -> None:
    """Each delivery mode in ``args.delivery``, each action kind in ``args.kind``: a throughput
    run, then a latency run per rate in ``args.event_rate``."""
    import secrets

    out: list[dict[str, Any]] = result.setdefault("feishu", [])
    warnings: list[str] = result["warnings"]
    all_modes = modes(default_secret_key)
    try:  # ``hook`` was started before the server (which sends it a challenge at once)
        for mode_name in args.delivery:
            mode = all_modes[mode_name]
            receiver: WebhookReceiver | LongConnReceiver
            if mode_name == "webhook":
                receiver = hook
                channel = f"feishu-webhook:{mode.app_id}"
            else:
                receiver = LongConnReceiver(base_url, mode.app_id, APP_SECRET)
                await receiver.start()
                channel = f"feishu-ws:{mode.app_id}"

            def set_sink(
                sink: Sink, receiver: WebhookReceiver | LongConnReceiver = receiver
            ) -> None:
                receiver.sink = sink

            users = await make_users(base_url, ws_url, mode, args.event_users, secrets.token_hex(3))
            print(f"feishu {mode_name}: {len(users.names)} users logged in", file=sys.stderr)
            try:
                for kind in args.kind:
                    await _seed(
                        users, kind, args.expected_event_rate, args.burst, base_url, channel
                    )
                    tp = await drain(
                        users,
                        kind,
                        set_sink,
                        pid=pid,
                        base_url=base_url,
                        inflight=args.event_inflight,
                        produce=args.burst,
                    )
                    tp |= {"scenario": "drain", "delivery": mode_name}
                    out.append(tp)
                    print(
                        f"  {kind} delivery capacity: {tp['events_per_s']:,.0f} events/s "
                        f"({tp['drained']:,} events drained in {tp['drain_s']:.1f} s), "
                        f"{tp['missing_events']} missing, {tp['duplicate_events']} duplicates",
                        file=sys.stderr,
                    )
                    _check(warnings, f"feishu {mode_name} {kind} drain", tp)
                    for rate in args.event_rate:
                        seconds = args.warmup + args.duration
                        await _seed(users, kind, rate, seconds, base_url, channel)
                        lat = await latency(
                            users,
                            kind,
                            set_sink,
                            pid=pid,
                            base_url=base_url,
                            rate=rate,
                            warmup=args.warmup,
                            duration=args.duration,
                        )
                        lat |= {"scenario": "latency", "delivery": mode_name}
                        out.append(lat)
                        print(
                            f"  {kind} latency at {rate:g}/s: p99 "
                            f"{lat['action_to_arrival']['p99_ms']:.1f} ms",
                            file=sys.stderr,
                        )
                        _check(warnings, f"feishu {mode_name} {kind} latency {rate:g}/s", lat)
                        if lat["achieved_action_rate"] < 0.95 * rate:
                            warnings.append(
                                f"feishu {mode_name} {kind} latency {rate:g}/s: only "
                                f"{lat['achieved_action_rate']:,.0f} actions/s were sent"
                            )
            finally:
                await close_users(users)
                if isinstance(receiver, LongConnReceiver):
                    await receiver.stop()
    finally:
        await hook.stop()


def _check(warnings: list[str], what: str, r: dict[str, Any]) -> None:
    for key, label in (
        ("missing_events", "events never arrived"),
        ("duplicate_events", "events arrived twice"),
        ("unmatched_events", "events matched no action"),
        ("bad_deliveries", "deliveries failed the signature or decryption check"),
    ):
        if r.get(key):
            warnings.append(f"{what}: {r[key]} {label}")
    if r.get("action_errors"):
        warnings.append(f"{what}: actions failed: {r['action_errors']}")
    if r.get("ran_out_of_seeded_messages"):
        if r.get("scenario") == "drain":
            warnings.append(
                f"{what}: the burst ended early, when the seeded bot messages ran out (the "
                f"drain figure is unaffected; raise --expected-event-rate for a longer burst)"
            )
        else:
            warnings.append(f"{what}: ran out of seeded bot messages (the figure is low)")
    other = r.get("other_load_pct", math.nan)
    if math.isfinite(other) and other > 15:
        warnings.append(
            f"{what}: other processes used {other:.0f}% of a core: figures are lower than "
            f"they would be"
        )

"""The long connection (server/feishu/longconn.py) against the official ``lark.ws.Client``.

The server runs in the test's loop; the SDK runs in its own thread and loop (sdk_thread.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from clients.sim import SimClient
from protocol.feishu import frames as F
from protocol.feishu import ids
from server.core.events import StoredEvent
from server.feishu import longconn
from server.feishu.longconn import LongConnHub
from server.feishu.longconn_channel import LongConnChannel
from server.settings import FeishuAppSettings
from tests.feishu.sdk_thread import eventually, sdk_thread
from tests.harness import SDKAPPID, Running, running_server

# The SDK's ping loop logs a failed ping (after a server-side close) with the deprecated warn().
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

UNIT_IDS = ids.FeishuIds("unit")  # ids for frames built without a server
APP = FeishuAppSettings(
    app_id="cli_longconn",
    app_secret="s3cret",
    name="Bot",
    ping_interval=1,
    reconnect_interval=1,
    reconnect_nonce=0,
    retry_initial=0.05,
    retry_max=0.2,
)
CONFIG = {"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 1}
CHANNEL = f"feishu-ws:{APP.app_id}"


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[Running]:
    """A server with alice and one long-connection app."""
    async with running_server(tmp_path / "im.sqlite3", feishu_apps=[APP]) as running:
        async with running.admin() as admin:
            await admin.import_accounts("alice")
        yield running


def hub_of(srv: Running) -> LongConnHub:
    return longconn.hub(srv.wiring.feishu)


async def discover(srv: Running, body: dict[str, Any] | bytes) -> dict[str, Any]:
    """POST the discovery body without a Content-Type (as Go does); the decoded answer."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{srv.base_url}/callback/ws/endpoint", content=content)
    assert resp.status_code == 200 and "X-Tt-Logid" in resp.headers
    answer: dict[str, Any] = resp.json()
    return answer


def receive_body(event_id: str, text: str, event_type: str = "im.message.receive_v1") -> bytes:
    """A schema-2.0 receive event as the renderer would write it (for channel unit tests)."""
    message = {
        "message_id": UNIT_IDS.message_id(1),
        "create_time": "1700000000000",
        "chat_id": UNIT_IDS.chat_id(1),
        "chat_type": "p2p",
        "message_type": "text",
        "content": json.dumps({"text": text}),
    }
    return json.dumps(
        {
            "schema": "2.0",
            "header": {
                "event_id": event_id,
                "event_type": event_type,
                "create_time": "1700000000000",
                "token": "",
                "app_id": APP.app_id,
                "tenant_key": ids.tenant_key(SDKAPPID),
            },
            "event": {
                "sender": {"sender_id": {"open_id": "ou_x"}, "sender_type": "user"},
                "message": message,
            },
        }
    ).encode()


def stored(number: int = 1) -> StoredEvent:
    return StoredEvent(number, SDKAPPID, "message.sent", int(time.time() * 1000), b"{}")


def fake_render(*bodies: bytes) -> Callable[[FeishuAppSettings, StoredEvent], Any]:
    async def render(app: FeishuAppSettings, event: StoredEvent) -> list[bytes]:
        return list(bodies)

    return render


async def connected(srv: Running) -> longconn.LongConnection:
    """Wait for the SDK's connection and return it."""
    await eventually(lambda: bool(hub_of(srv).connections(APP.app_id)))
    return hub_of(srv).connections(APP.app_id)[-1]


async def attempts(srv: Running, count: int) -> list[tuple[bool, int | None]]:
    """The channel's first ``count`` delivery attempts, oldest first, once recorded."""
    deadline = time.monotonic() + 10
    while True:
        found = await srv.wiring.store.events.attempts(CHANNEL)
        if len(found) >= count:
            return [(a.ok, a.status) for a in reversed(found)][:count]
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.02)


# -- discovery --------------------------------------------------------------------------------


async def test_discovery_answers_the_url_and_all_four_client_config_ints(srv: Running) -> None:
    """Discovery answers a ws:// URL on the host the client used, with a dummy first parameter,
    a device_id, an int32 service_id and a ticket, and the app's full ClientConfig."""
    answer = await discover(srv, {"AppID": APP.app_id, "AppSecret": APP.app_secret})
    assert (answer["code"], answer["msg"]) == (0, "ok")
    url = answer["data"]["URL"]
    assert url.startswith(f"{srv.base_url.replace('http', 'ws')}/ws/v2?fpid=1&device_id=")
    query = parse_qs(urlparse(url).query)
    assert 0 < int(query["service_id"][0]) < 2**31 and query["ticket"][0]
    assert answer["data"]["ClientConfig"] == CONFIG


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"AppID": APP.app_id, "AppSecret": "wrong"}, longconn.CODE_BAD_CREDENTIALS),
        ({"AppID": "cli_nobody", "AppSecret": "x"}, longconn.CODE_BAD_CREDENTIALS),
        ({"AppSecret": "x"}, longconn.CODE_BAD_REQUEST),
        (b"not json", longconn.CODE_BAD_REQUEST),
    ],
)
async def test_discovery_refusals_carry_a_fatal_code(
    srv: Running, body: dict[str, Any] | bytes, code: int
) -> None:
    """Bad credentials or a bad body answer HTTP 200 with a non-zero code other than the two the
    SDK retries, and a message naming the problem."""
    answer = await discover(srv, body)
    assert answer["code"] == code and code not in (1, 1000040343)
    assert answer["msg"] and "data" not in answer


async def test_sdk_with_a_wrong_secret_stops_with_the_fatal_code(srv: Running) -> None:
    """lark.ws.Client with a wrong AppSecret raises ClientException(10014) out of start()."""
    async with sdk_thread(srv.base_url, APP.app_id, "wrong") as sdk:
        await sdk.wait_finished()
    assert type(sdk.error).__name__ == "ClientException"
    assert getattr(sdk.error, "code", None) == longconn.CODE_BAD_CREDENTIALS


# -- the WebSocket ------------------------------------------------------------------------------


async def test_upgrade_with_a_forged_ticket_is_refused_as_fatal(srv: Running) -> None:
    """An upgrade whose ticket does not verify is answered 403 with handshake-status and
    handshake-msg, which the SDK turns into a fatal ClientException."""
    from lark_oapi.ws.client import _parse_ws_conn_exception
    from lark_oapi.ws.exception import ClientException

    answer = await discover(srv, {"AppID": APP.app_id, "AppSecret": APP.app_secret})
    forged = answer["data"]["URL"].replace("ticket=", "ticket=x")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(forged)
    response = refused.value.response
    assert response.status_code == 403
    assert response.headers["handshake-status"] == "403" and response.headers["handshake-msg"]
    with pytest.raises(ClientException) as fatal:
        _parse_ws_conn_exception(refused.value)
    assert fatal.value.code == 403


async def test_ping_gets_a_binary_pong_with_the_client_config(srv: Running) -> None:
    """A ping control frame is answered by a binary pong echoing the service, whose payload is
    the app's ClientConfig JSON."""
    answer = await discover(srv, {"AppID": APP.app_id, "AppSecret": APP.app_secret})
    service = int(parse_qs(urlparse(answer["data"]["URL"]).query)["service_id"][0])
    async with connect(answer["data"]["URL"]) as ws:
        await ws.send(F.encode_frame(F.ping_frame(service)))
        raw = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(raw, bytes)
    pong = F.decode_frame(raw)
    assert (pong.method, pong.header("type"), pong.service) == (0, "pong", service)
    assert json.loads(pong.payload or b"") == CONFIG


async def test_sdk_connects_and_keeps_pinging_at_the_configured_interval(srv: Running) -> None:
    """The SDK discovers, connects and pings at once and then every PingInterval (1 s)."""
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret):
        conn = await connected(srv)
        started = time.monotonic()
        await eventually(lambda: conn.pings >= 2, timeout=5)
        assert time.monotonic() - started < 3
    assert hub_of(srv).discoveries == 1


# -- pushing events -----------------------------------------------------------------------------


async def test_pushed_event_is_handled_and_acked_200(srv: Running) -> None:
    """An event pushed by the channel reaches the SDK's handler and its ack (200) makes the
    delivery a success."""
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret) as sdk:
        await connected(srv)
        channel = LongConnChannel(hub_of(srv), APP, fake_render(receive_body("ev-1", "hi")))
        outcome = await channel.deliver(stored())
        received = await sdk.next_event()
    assert outcome is not None and (outcome.ok, outcome.status) == (True, 200)
    assert received.header.event_id == "ev-1"
    assert json.loads(received.event.message.content) == {"text": "hi"}


async def test_event_without_a_handler_is_acked_500(srv: Running) -> None:
    """An event type the SDK has no handler for is acked 500: a failed delivery."""
    body = receive_body("ev-2", "x", event_type="im.message.message_read_v1")
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret):
        await connected(srv)
        outcome = await LongConnChannel(hub_of(srv), APP, fake_render(body)).deliver(stored())
    assert outcome is not None and (outcome.ok, outcome.status) == (False, 500)


async def test_event_over_one_mib_is_fragmented_and_reassembled(srv: Running) -> None:
    """A 2.5 MiB event goes out in three frames of at most 1 MiB, which the SDK joins into the
    original event and acks once."""
    text = "0123456789abcdef" * (160 * 1024)
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret) as sdk:
        await connected(srv)
        channel = LongConnChannel(hub_of(srv), APP, fake_render(receive_body("ev-big", text)))
        outcome = await channel.deliver(stored())
        received = await sdk.next_event()
    assert outcome is not None and outcome.ok and "in 3 fragments" in outcome.detail
    assert json.loads(received.event.message.content)["text"] == text


async def test_without_a_client_delivery_fails_after_the_hold(srv: Running) -> None:
    """With no client connected, an attempt waits for one for `hold` seconds, then fails."""
    channel = LongConnChannel(hub_of(srv), APP, fake_render(b"{}"), hold=0.05)
    outcome = await channel.deliver(stored())
    assert outcome is not None and not outcome.ok and "no long-connection client" in outcome.detail
    # it already waited: the next attempt follows at once, not after the backoff
    assert outcome.retry_after is not None and outcome.retry_after < APP.retry_initial


async def test_message_to_the_bot_arrives_over_the_long_connection(srv: Running) -> None:
    """A user's message to the bot is rendered by the server and delivered through the outbox
    to the SDK as im.message.receive_v1, acked 200."""
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret) as sdk:
        await connected(srv)
        async with SimClient(srv.base_url) as sim:
            sent = await sim.send("alice", to_user=APP.app_id, text="hello bot")
        received = await sdk.next_event()
        assert received.event.message.message_id == sent.message_id
        assert json.loads(received.event.message.content) == {"text": "hello bot"}
        assert await attempts(srv, 1) == [(True, 200)]


async def test_handler_failure_is_acked_500_and_the_event_redelivered(srv: Running) -> None:
    """A handler that raises makes the SDK ack 500; the outbox retries and the same event (same
    event_id) is delivered again, acked 200."""
    seen: list[Any] = []

    def flaky(event: Any) -> None:
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("handler failed")

    handlers = {"p2_im_message_receive_v1": flaky}
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret, handlers=handlers):
        await connected(srv)
        async with SimClient(srv.base_url) as sim:
            await sim.send("alice", to_user=APP.app_id, text="again")
        assert await attempts(srv, 2) == [(False, 500), (True, 200)]
    assert [e.header.event_id for e in seen] == [seen[0].header.event_id] * 2


async def test_client_reconnects_after_a_server_close_and_gets_events_made_meanwhile(
    srv: Running,
) -> None:
    """After the server closes the connection the SDK rediscovers and reconnects by itself;
    an event made while no client was connected is delivered on the new connection."""
    hub = hub_of(srv)
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret) as sdk:
        first = await connected(srv)
        hub.accepting = False  # discovery answers "system busy": the SDK retries after 1 s
        assert await hub.disconnect(APP.app_id) == 1
        await eventually(lambda: not hub.connections(APP.app_id))
        async with SimClient(srv.base_url) as sim:
            sent = await sim.send("alice", to_user=APP.app_id, text="while away")
        assert not hub.connections(APP.app_id)
        hub.accepting = True
        received = await sdk.next_event()
        second = hub.connections(APP.app_id)[-1]
    assert received.event.message.message_id == sent.message_id
    assert second.conn_id != first.conn_id and hub.discoveries >= 2  # it rediscovered


async def test_sim_read_of_a_bot_message_reaches_the_bot_as_message_read_v1(srv: Running) -> None:
    """A user reading (through the simulation API) a message the bot sent gives the bot an
    im.message.message_read_v1 event naming that message over the long connection."""
    events: list[Any] = []
    handlers = {"p2_im_message_message_read_v1": events.append}
    async with sdk_thread(srv.base_url, APP.app_id, APP.app_secret, handlers=handlers):
        await connected(srv)
        async with SimClient(srv.base_url) as sim:
            sent = await sim.send(APP.app_id, to_user="alice", text="did you read this?")
            await sim.read("alice", peer=APP.app_id)
        await eventually(lambda: bool(events))
    assert events[0].event.message_id_list == [sent.message_id]

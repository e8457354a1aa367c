"""clients.TimClient notices a connection that ends while it waits."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.server import ServerConnection, serve

from clients.tim import TimClient


async def _answers_login_then_hangs_up(ws: ServerConnection) -> None:
    """Logs the client in, then closes on its next request without answering it."""
    login = json.loads(await ws.recv())
    await ws.send(json.dumps({"cmd": "login", "reqId": login["reqId"],
                              "data": {"userID": "alice", "sdkAppID": 1, "serverTime": 0}}))  # fmt: skip
    await ws.recv()
    await ws.close(4000, "going away")


async def test_a_closed_connection_fails_pending_calls_and_pushes_at_once() -> None:
    """When the server closes the socket, the call it left unanswered, a waiting next_push and
    any later call fail with ConnectionError at once, naming the close code, not at their
    30-second timeout."""
    async with serve(_answers_login_then_hangs_up, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TimClient(f"ws://127.0.0.1:{port}", 1400000000, "alice", "sig", timeout=30)
        await client.login()
        started = time.monotonic()
        waiting_push = asyncio.create_task(client.next_push())
        with pytest.raises(ConnectionError, match="4000: going away"):
            await client.get_conversation("c2c_bob")
        with pytest.raises(ConnectionError, match="4000"):
            await waiting_push
        with pytest.raises(ConnectionError, match="4000"):
            await client.next_push()
        with pytest.raises(ConnectionError, match="4000"):
            await client.get_conversation("c2c_bob")
        assert time.monotonic() - started < 5
        await client.close()

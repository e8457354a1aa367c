"""server/retention.py: delivered events and delivery attempts are pruned by age and by count;
undelivered events are kept; /sim/v1/deliveries says what was pruned."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from clients.sim import SimClient
from server.core.clock import FakeClock
from server.settings import DEFAULT_SDKAPPID, FeishuAppSettings
from tests.feishu.lark_receiver import LarkReceiver
from tests.harness import Running, running_server

BOT = "cli_a1b2c3d4e5f60718"


async def until(condition: Callable[[], Any], what: str, within: float = 10.0) -> None:
    """Wait for ``condition()`` to hold. It polls: pruning happens in the server's own
    background task, which signals nothing a test could wait on."""
    try:
        async with asyncio.timeout(within):
            while not await condition():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@contextlib.asynccontextmanager
async def bot(
    tmp_path: Path, clock: FakeClock, app: dict[str, Any] | None = None, **server: Any
) -> AsyncIterator[tuple[Running, SimClient, LarkReceiver]]:
    """A server whose bot gets its events by webhook at a receiver that accepts them all."""
    async with LarkReceiver() as receiver:
        feishu = FeishuAppSettings(
            app_id=BOT, app_secret="s", event_url=receiver.url, retry_initial=0.05,
            retry_max=0.1, **(app or {}),
        )  # fmt: skip
        async with (
            running_server(tmp_path / "im.sqlite3", clock=clock, feishu_apps=[feishu], **server)
            as srv,
            srv.admin() as admin,
            SimClient(srv.base_url) as sim,
        ):  # fmt: skip
            await admin.import_accounts("alice")
            yield srv, sim, receiver


async def events_left(srv: Running) -> int:
    return len(await srv.wiring.core.event_log.events(DEFAULT_SDKAPPID, limit=1000))


async def send_and_deliver(sim: SimClient, receiver: LarkReceiver, n: int) -> None:
    before = len(receiver.events)
    for i in range(n):
        await sim.send("alice", to_user=BOT, text=f"hi {i}")
    await receiver.wait_until(lambda: len(receiver.events) >= before + n, what=f"{n} events")

    async def recorded() -> bool:  # the server logs each attempt after the receiver's answer
        attempts = await sim.deliveries(BOT, limit=500)
        return sum(a["ok"] and a["outbox_id"] > 0 for a in attempts) >= before + n

    await until(recorded, f"{n} attempts recorded")


async def test_delivered_events_and_attempts_older_than_the_retention_are_pruned(
    tmp_path: Path,
) -> None:
    """After retention_days (by the server's clock) delivered events and their attempts are
    deleted, and /sim/v1/deliveries counts what was pruned."""
    clock = FakeClock()
    async with bot(tmp_path, clock, retention_days=7.0) as (srv, sim, receiver):
        await send_and_deliver(sim, receiver, 3)
        assert await srv.wiring.retention.prune_now() == (0, 0)  # nothing is old yet
        clock.advance(days=7, ms=1)
        events, attempts = await srv.wiring.retention.prune_now()
        assert events == 3 and attempts >= 3, (events, attempts)
        assert await events_left(srv) == 0
        assert await sim.deliveries(BOT) == []
        pruned = await sim.pruned(BOT)
        assert pruned["events"] == 3 and pruned["attempts"] == attempts
        assert 0 < pruned["events_upto"] <= clock.now_ms() - 7 * 86_400_000


async def test_only_the_newest_rows_per_app_are_kept(tmp_path: Path) -> None:
    """With retention_rows = 2, delivered events beyond an app's newest two are deleted,
    oldest first, whatever their age."""
    clock = FakeClock()
    async with bot(tmp_path, clock, retention_rows=2) as (srv, sim, receiver):
        await send_and_deliver(sim, receiver, 5)
        await srv.wiring.retention.prune_now()
        kept = await srv.wiring.core.event_log.events(DEFAULT_SDKAPPID, limit=10)
        assert len(kept) == 2
        assert len(await sim.deliveries(BOT)) == 2
        assert (await sim.pruned(BOT))["events"] == 3


async def test_undelivered_events_are_never_pruned(tmp_path: Path) -> None:
    """An event the receiver has not accepted yet stays, however old, and is delivered when
    the receiver comes back."""
    clock = FakeClock()
    async with bot(tmp_path, clock, {"give_up_after": 60 * 86400.0}) as (srv, sim, receiver):
        receiver.fail = lambda hit: 503
        await sim.send("alice", to_user=BOT, text="while down")
        clock.advance(days=30)
        events, _ = await srv.wiring.retention.prune_now()
        assert events == 0 and await events_left(srv) == 1
        receiver.fail = None
        await receiver.wait_until(lambda: len(receiver.events) == 1, within=10, what="the event")


async def test_pruning_runs_by_itself_every_prune_interval(tmp_path: Path) -> None:
    """The background task prunes without being asked."""
    clock = FakeClock()
    async with bot(tmp_path, clock, retention_rows=1, prune_interval=0.05) as (_, sim, rcv):
        await send_and_deliver(sim, rcv, 3)

        async def pruned() -> bool:
            return (await sim.pruned(BOT))["events"] == 2

        await until(pruned, "background pruning")

"""The benchmark's users: accounts and Work groups made over REST, one logged-in connection each,
and the needReadReceipt messages they send to one another."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.client import Conn
from clients.tim_rest import TimRestClient
from protocol.tim import usersig


@dataclass
class Group:
    group_id: str
    members: list[str]


@dataclass
class Sent:
    """One seeded message: who sent it, in which group, to how many receivers."""

    msg_id: str
    group: int
    sender: str
    receivers: int


@dataclass
class Population:
    sdkappid: int
    secret_key: str
    ws_url: str
    groups: list[Group]
    conns: dict[str, Conn] = field(default_factory=dict)
    # the protocol: bench.client.Conn (/tim/ws) or bench.sdk_client.SdkConn (Tencent's SDK)
    conn_class: Any = Conn

    @property
    def users(self) -> list[str]:
        return [u for g in self.groups for u in g.members]


def plan(run_tag: str, groups: int, members: int) -> list[Group]:
    return [
        Group(f"bench-{run_tag}-g{g}", [f"b{run_tag}g{g}u{i}" for i in range(members)])
        for g in range(groups)
    ]


async def create(rest: TimRestClient, population: Population) -> None:
    """Import every account (100 per call, TIM's limit) and create the Work groups."""
    users = population.users
    await asyncio.gather(
        *(rest.import_accounts(*users[i : i + 100]) for i in range(0, len(users), 100))
    )
    for g in population.groups:
        await rest.create_group("Work", g.group_id, g.members, group_id=g.group_id)


async def connect_all(
    population: Population, *, compression: str | None, concurrency: int = 50
) -> float:
    """Open and log in one connection per user; returns the seconds it took."""
    sem = asyncio.Semaphore(concurrency)
    now = int(time.time())

    async def one(user: str) -> None:
        sig = usersig.gen_usersig(
            population.sdkappid, population.secret_key, user, expire=86400, now=now
        )
        async with sem:
            conn = await population.conn_class.open(
                population.ws_url, user, compression=compression
            )
            population.conns[user] = conn
            await conn.login(population.sdkappid, sig)

    t0 = time.monotonic()
    await asyncio.gather(*(one(u) for u in population.users))
    return time.monotonic() - t0


async def close_all(population: Population) -> None:
    await asyncio.gather(*(c.close() for c in population.conns.values()), return_exceptions=True)
    population.conns.clear()


async def seed(
    population: Population, per_group: int, *, concurrency: int = 32, tag: str = ""
) -> tuple[list[Sent], float]:
    """Each group gets ``per_group`` needReadReceipt messages, sent by members in turn (spread
    so that every member sends some). Returns them and the seconds it took. ``concurrency``
    sends are in flight at once: each one fans out to a whole group."""
    sem = asyncio.Semaphore(concurrency)
    out: list[Sent] = []

    async def one(g: int, i: int) -> None:
        group = population.groups[g]
        sender = group.members[(i * 37) % len(group.members)]
        async with sem:
            msg_id = await population.conns[sender].send_group_message(
                group.group_id, f"bench {tag} message {i} of group {g}"
            )
        out.append(Sent(msg_id, g, sender, len(group.members) - 1))

    t0 = time.monotonic()
    await asyncio.gather(
        *(one(g, i) for i in range(per_group) for g in range(len(population.groups)))
    )
    return out, time.monotonic() - t0


async def wait_new_message_pushes(
    population: Population, expected: int, limit: float = 30.0
) -> int:
    """Wait until ``expected`` onRecvNewMessage pushes have arrived in all (or time runs out);
    returns how many did."""
    deadline = time.monotonic() + limit
    while True:
        got = sum(c.new_message_pushes for c in population.conns.values())
        if got >= expected or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.05)

"""One seeded server for all the bad-input property tests (a session fixture: Hypothesis runs
hundreds of examples against it, and a refusal must leave it exactly as it was)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.sim import SimClient
from server.settings import FeishuAppSettings
from tests.fuzz.support import ServerThread
from tests.harness import Running

APP_ID = "cli_a1b2c3d4e5f60718"
APP_SECRET = "fuzz-secret"


@dataclass
class World:
    srv: Running
    thread: ServerThread
    db: Path
    ids: tuple[str, ...]  # real ids of the seeded objects: drawn into request strings

    def __repr__(self) -> str:  # Hypothesis prints it with every failing example
        return f"World({self.srv.base_url})"


async def _seed(srv: Running) -> tuple[str, ...]:
    async with srv.admin() as admin, SimClient(srv.base_url) as sim:
        await admin.import_accounts("alice", "bob", "carol")
        await admin.create_group("Work", "g1", ["alice", "bob", "carol"], group_id="g1")
        group = await sim.send("alice", group_id="g1", text="hi all", need_receipt=True)
        c2c = await sim.send("alice", to_user="bob", text="hi bob", need_receipt=True)
        await sim.send("bob", to_user=APP_ID, text="hi bot")
        roam = await admin.call(
            "openim",
            "admin_getroammsg",
            {"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 1, "MinTime": 0,
             "MaxTime": 2**32},
        )  # fmt: skip
        keys = tuple(m["MsgKey"] for m in roam["MsgList"])
        return (group.message_id, group.msg_id, c2c.message_id, c2c.msg_id, *keys)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("fuzz") / "im.sqlite3"
    thread = ServerThread(
        db, feishu_apps=[FeishuAppSettings(app_id=APP_ID, app_secret=APP_SECRET, events=[])]
    )
    with thread as srv:
        ids = thread.call(_seed(srv))
        yield World(srv, thread, db, ids)

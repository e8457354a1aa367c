"""The receipt rules against a model: random sends, receipts, joins, leaves and group reads in
one Work group, with counts, member lists and unread counts compared after every step."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.clock import FakeClock
from server.core.errors import CoreError, Reason
from server.core.model import ReadFilter
from server.core.policy import AppPolicy
from server.core.service import Core
from server.store.db import Database
from server.store.store import Store
from tests.core.support import APP, Recorder, group, send_group, users

START = ("s", "m1", "m2", "m3")
POOL = 8  # candidate ids for users who are not members at first: x0 .. x7

Step = tuple[str, int, object]  # (kind, who, detail): who picks a user by index, modulo

idx = st.integers(min_value=0, max_value=30)
op: st.SearchStrategy[Step] = st.one_of(
    st.tuples(st.just("send"), idx, st.booleans()),  # detail: need_receipt
    st.tuples(st.just("receipt"), idx, st.lists(idx, min_size=1, max_size=3)),  # message picks
    st.tuples(st.just("join"), idx, st.none()),
    st.tuples(st.just("leave"), idx, st.none()),
    st.tuples(st.just("read"), idx, st.none()),
)


@dataclass
class Sent:
    id: int
    seq: int
    sender: str
    receivers: list[str]  # snapshot order
    read: set[str] = field(default_factory=set)
    need_receipt: bool = True


@dataclass
class Model:
    members: dict[str, tuple[int, str]]  # user -> (joined_ms, user) sort key
    read_seq: dict[str, int]
    messages: list[Sent] = field(default_factory=list)
    notifications: int = 0

    def order(self) -> list[str]:
        return sorted(self.members, key=lambda u: self.members[u])

    def unread(self, user: str) -> int:
        return sum(1 for m in self.messages if m.seq > self.read_seq[user] and m.sender != user)


async def _step(core: Core, clock: FakeClock, model: Model, step: Step) -> None:
    clock.advance(ms=1)
    everyone = list(START) + [f"x{i}" for i in range(POOL)]
    kind, who, detail = step
    if kind == "send":
        need = bool(detail)
        order = model.order()
        sender = order[who % len(order)]
        m = (await send_group(core, sender, "g", need_receipt=need)).message
        receivers = [u for u in order if u != sender] if need else []
        assert m.receivers == len(receivers)
        model.messages.append(Sent(m.id, m.seq, sender, receivers, need_receipt=need))
    elif kind == "receipt":
        if not model.messages:
            return
        assert isinstance(detail, list)
        reader = everyone[who % len(everyone)]
        chosen = [model.messages[p % len(model.messages)] for p in detail]
        by_id = {m.id: m for m in model.messages}
        expected: Reason | None = None
        if reader not in model.members:
            expected = Reason.NOT_GROUP_MEMBER
        elif not [m for m in chosen if m.need_receipt and m.sender != reader]:
            expected = Reason.RECEIPT_LIST_EMPTY
        try:
            changes = await core.receipts.send_ids(APP, reader, [c.id for c in chosen])
        except CoreError as err:
            assert err.reason is expected, (err, expected)
            return
        assert expected is None
        fresh = False
        for receipt in changes:
            target = by_id[receipt.msg_id]
            newly = reader in target.receivers and reader not in target.read
            assert receipt.newly_read is newly
            assert receipt.is_receiver is (reader in target.receivers)
            if newly:
                target.read.add(reader)
                fresh = True
        model.notifications += fresh
    elif kind == "join":
        user = f"x{who % POOL}"
        await users(core, user)
        added = await core.groups.add_members(APP, "g", [user])
        if user not in model.members:
            assert added.added == (user,)
            model.members[user] = (clock.now_ms(), user)
            last = model.messages[-1].seq if model.messages else 0
            model.read_seq[user] = max(model.read_seq.get(user, 0), last)
    elif kind == "leave":
        candidates = [u for u in model.order() if u != "s"]
        if candidates:
            user = candidates[who % len(candidates)]
            await core.groups.remove_members(APP, "g", [user])
            del model.members[user]
    elif kind == "read":
        order = model.order()
        user = order[who % len(order)]
        await core.reads.mark_group(APP, user, "g")
        model.read_seq[user] = model.messages[-1].seq if model.messages else 0


async def _check(core: Core, recorder: Recorder, model: Model) -> None:
    with_state = [m for m in model.messages if m.need_receipt]
    if with_state:
        counts = await core.receipts.counts_ids(
            APP, "admin", [m.id for m in with_state], as_admin=True
        )
        assert [(c.read, c.unread) for c in counts] == [
            (len(m.read), len(m.receivers) - len(m.read)) for m in with_state
        ]
    for m in with_state:
        for which, expect in (
            (ReadFilter.READ, [u for u in m.receivers if u in m.read]),
            (ReadFilter.UNREAD, [u for u in m.receivers if u not in m.read]),
        ):
            page = await core.receipts.members(APP, m.sender, m.id, which, cursor=0, count=100)
            assert [x.user_id for x in page.members] == expect
            assert page.finished
    for user in model.members:
        assert await core.reads.group_unread(APP, user, "g") == model.unread(user)
    assert len(recorder.receipts) == model.notifications


async def _run(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(str(Path(tmp) / "im.sqlite3"))
        await db.open()
        try:
            clock = FakeClock()
            core = Core(Store(db), clock, {APP: AppPolicy(APP)})
            recorder = Recorder()
            core.listeners.add(recorder)
            await users(core, *[f"x{i}" for i in range(POOL)])
            await group(core, "g", "s", START[1:])
            model = Model(
                members={u: (clock.now_ms(), u) for u in START},
                read_seq=dict.fromkeys(START, 0),
            )
            for step in steps:
                await _step(core, clock, model, step)
                await _check(core, recorder, model)
        finally:
            await db.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25))
def test_receipts_follow_the_model(steps: list[Step]) -> None:
    """Under any mix of sends, receipts, joins, leaves and group reads, counts, member lists and
    unread counts match a model where receivers are snapshotted at send time."""
    asyncio.run(_run(steps))

"""The receipt rules as a state machine: the same random joins, leaves, sends, receipts,
conversation reads and clock moves go to the pure model (``tests/model.py``) and to the real
core on SQLite, and after every step counts, member lists, unread counts and errors must agree.

Apps: a Flagship app (group cap 5) with a Work, a Public and an AVChatRoom group, and a basic
app whose ids (users, group ``g1``) repeat the Flagship app's, so that the apps must not leak
into each other.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from server.core.clock import FakeClock
from server.core.directory import NewAccount
from server.core.errors import CoreError, Reason
from server.core.model import Element, GroupType, ReadFilter
from server.core.policy import AppPolicy
from server.core.service import Core
from server.store.db import Database
from server.store.store import Store
from tests.model import AppRules, Err, Model, ModelError, Msg

T = TypeVar("T")

APP = 1400000100  # Flagship
BASIC = 1400000101  # not Flagship
CAP = 5
USERS = ("u0", "u1", "u2", "u3", "u4", "u5")
GROUPS = (
    (APP, "g1", GroupType.WORK, ("u0", "u1", "u2", "u3")),
    (APP, "g2", GroupType.PUBLIC, ("u1", "u4")),
    (APP, "g3", GroupType.AVCHATROOM, ("u0", "u5")),
    (BASIC, "g1", GroupType.WORK, ("u0", "u1", "u2")),
)
UNKNOWN_ID = 999_999_999  # a message id the core never hands out
PAGE = 3

REASONS = {
    Err.UNKNOWN_MESSAGE: Reason.UNKNOWN_MESSAGE,
    Err.MIXED: Reason.MIXED_CONVERSATIONS,
    Err.NOT_FLAGSHIP: Reason.RECEIPT_NOT_FLAGSHIP,
    Err.NOT_MEMBER: Reason.NOT_GROUP_MEMBER,
    Err.NOT_ALLOWED: Reason.NOT_ALLOWED,
    Err.EMPTY: Reason.RECEIPT_LIST_EMPTY,
    Err.INVALID: Reason.INVALID,
    Err.NOT_FOUND: Reason.RECEIPT_NOT_FOUND,
}

groups = st.sampled_from([(app, gid) for app, gid, _, _ in GROUPS])
apps = st.sampled_from([APP, BASIC])
users = st.sampled_from(USERS)
pairs = st.tuples(users, users).filter(lambda p: p[0] != p[1])
BODY = (Element("text", text="hi"),)


class ReceiptMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.mkdtemp(prefix="receipts-stateful-")
        self.db = Database(str(Path(self.tmp) / "im.sqlite3"))
        self.clock = FakeClock()
        self.core = Core(
            Store(self.db),
            self.clock,
            {APP: AppPolicy(APP, receipt_group_cap=CAP), BASIC: AppPolicy(BASIC, flagship=False)},
        )
        self.model = Model({APP: AppRules(cap=CAP), BASIC: AppRules(flagship=False)}, self.clock.now_ms())
        self.ids: list[int] = []  # model message id -> core message id
        self.run(self._setup())

    async def _setup(self) -> None:
        await self.db.open()
        for app in (APP, BASIC):
            await self.core.directory.import_accounts(app, [NewAccount(u) for u in USERS])
        for app, gid, group_type, members in GROUPS:
            await self.core.groups.create(
                app, group_id=gid, group_type=group_type, name=gid, owner="", members=members
            )
            receipts = self.core.policies[app].group_receipts_enabled(group_type)
            self.model.add_group(app, gid, receipts=receipts, members=list(members))

    def teardown(self) -> None:
        try:
            self.run(self.db.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    def both(self, model_op: Callable[[], T], core_op: Callable[[], Awaitable[Any]]) -> tuple[T, Any] | None:
        """Apply one operation to both sides: both succeed (their results are returned) or both
        fail for the same reason (None is returned)."""
        try:
            expected: T | None = model_op()
            err: Err | None = None
        except ModelError as e:
            expected, err = None, e.err
        try:
            got = self.run(core_op())
        except CoreError as e:
            assert err is not None, f"core refused with {e!r}, the model accepted: {expected!r}"
            assert e.reason is REASONS[err], f"core refused with {e!r}, the model with {err}"
            return None
        assert err is None, f"core accepted ({got!r}), the model refused with {err}"
        return expected, got  # type: ignore[return-value]

    def core_id(self, model_id: int) -> int:
        return self.ids[model_id] if 0 <= model_id < len(self.ids) else UNKNOWN_ID

    def pick_messages(self, data: st.DataObject) -> tuple[Msg, list[int]]:
        """A first message, then up to two more: mostly of its conversation, sometimes any
        message, rarely an unknown id."""
        msgs = self.model.messages
        first = data.draw(st.sampled_from(msgs), label="first")
        same = [m.id for m in msgs if m.conv == first.conv]
        more = data.draw(
            st.lists(
                st.one_of(
                    st.sampled_from(same),
                    st.sampled_from(same),
                    st.sampled_from(same),
                    st.sampled_from([m.id for m in msgs]),
                    st.just(-1),
                ),
                max_size=2,
            ),
            label="more",
        )
        return first, [first.id, *more]

    def pick_app(self, data: st.DataObject, first: Msg) -> int:
        other = BASIC if first.app == APP else APP
        return data.draw(st.sampled_from([first.app, first.app, first.app, other]), label="app")

    # -- rules ------------------------------------------------------------------------------

    @rule(group=groups, user=users)
    def join(self, group: tuple[int, str], user: str) -> None:
        app, gid = group
        added = self.model.join(app, gid, user)
        change = self.run(self.core.groups.add_members(app, gid, [user]))
        assert change.added == ((user,) if added else ())

    @rule(group=groups, user=users)
    def leave(self, group: tuple[int, str], user: str) -> None:
        app, gid = group
        removed = self.model.leave(app, gid, user)
        change = self.run(self.core.groups.remove_members(app, gid, [user]))
        assert change.removed == ((user,) if removed else ())

    @rule(group=groups, sender=users, need_receipt=st.booleans())
    def send_group(self, group: tuple[int, str], sender: str, need_receipt: bool) -> None:
        app, gid = group
        out = self.both(
            lambda: self.model.send_group(app, sender, gid, need_receipt),
            lambda: self.core.messages.send_group(app, sender, gid, BODY, need_receipt=need_receipt),
        )
        if out is not None:
            self._sent(*out)

    @rule(app=apps, pair=pairs, need_receipt=st.booleans())
    def send_c2c(self, app: int, pair: tuple[str, str], need_receipt: bool) -> None:
        sender, receiver = pair
        msg, sent = self.both(
            lambda: self.model.send_c2c(app, sender, receiver, need_receipt),
            lambda: self.core.messages.send_c2c(app, sender, receiver, BODY, need_receipt=need_receipt),
        ) or (None, None)
        self._sent(msg, sent)

    def _sent(self, msg: Msg, sent: Any) -> None:
        m = sent.message
        assert (m.seq, m.has_receipts, m.receivers, m.time_ms) == (
            msg.seq, msg.state, len(msg.snapshot), msg.time_ms
        )
        assert len(self.ids) == msg.id
        self.ids.append(m.id)

    @precondition(lambda self: self.model.messages)
    @rule(data=st.data())
    def receipt(self, data: st.DataObject) -> None:
        first, ids = self.pick_messages(data)
        app = self.pick_app(data, first)
        receivers = list(first.snapshot)
        reader = data.draw(st.sampled_from([*receivers, *receivers, first.sender, *USERS]), label="reader")
        out = self.both(
            lambda: self.model.receipt(app, reader, ids),
            lambda: self.core.receipts.send(app, reader, [self.core_id(i) for i in ids]),
        )
        if out is None:
            return
        acks, changes = out
        assert [
            (c.msg_id, c.newly_read, c.is_receiver, c.read, c.receivers) for c in changes
        ] == [
            (self.ids[a.msg], a.newly_read, a.is_receiver, a.read, a.receivers) for a in acks
        ]

    @precondition(lambda self: self.model.messages)
    @rule(data=st.data())
    def ask_counts(self, data: st.DataObject) -> None:
        first, ids = self.pick_messages(data)
        app = self.pick_app(data, first)
        user = data.draw(st.sampled_from([first.sender, first.sender, *USERS]), label="user")
        out = self.both(
            lambda: self.model.counts(app, user, ids),
            lambda: self.core.receipts.counts(app, user, [self.core_id(i) for i in ids]),
        )
        if out is not None:
            expected, got = out
            assert [(c.message.id, c.read, c.unread) for c in got] == [
                (self.ids[i], read, unread) for i, read, unread in expected
            ]

    @precondition(lambda self: self.model.messages)
    @rule(data=st.data())
    def ask_members(self, data: st.DataObject) -> None:
        msg = data.draw(st.sampled_from(self.model.messages), label="msg")
        app = self.pick_app(data, msg)
        user = data.draw(st.sampled_from([msg.sender, msg.sender, *USERS]), label="user")
        which = data.draw(st.sampled_from(ReadFilter), label="which")
        self.both(
            lambda: self.model.members(app, user, msg.id),
            lambda: self.core.receipts.members(app, user, self.ids[msg.id], which, cursor=0, count=PAGE),
        )

    @rule(group=groups, user=users)
    def mark_group_read(self, group: tuple[int, str], user: str) -> None:
        app, gid = group
        self.both(
            lambda: self.model.mark_group_read(app, user, gid),
            lambda: self.core.reads.mark_group(app, user, gid),
        )

    @rule(app=apps, pair=pairs)
    def mark_c2c_read(self, app: int, pair: tuple[str, str]) -> None:
        user, peer = pair
        self.both(
            lambda: self.model.mark_c2c_read(app, user, peer),
            lambda: self.core.reads.mark_c2c(app, user, peer),
        )

    @rule(ms=st.sampled_from([1, 999, 86_400_000]))
    def advance_time(self, ms: int) -> None:
        self.model.advance_time(ms)
        self.clock.advance(ms=ms)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def core_matches_model(self) -> None:
        self.run(self._compare())

    async def _compare(self) -> None:
        model, core = self.model, self.core
        assert core.clock.now_ms() == model.now_ms
        for msg in model.messages:
            if msg.state:
                await self._compare_receipts(msg)
        for app in (APP, BASIC):
            for user in USERS:
                assert await core.reads.c2c_unread(app, user) == model.c2c_unread(app, user), (app, user)
        for (app, gid), group in model.groups.items():
            for user in group.members:
                assert await core.reads.group_unread(app, user, gid) == model.group_unread(app, user, gid), (
                    app, gid, user
                )

    async def _compare_receipts(self, msg: Msg) -> None:
        core_id = self.ids[msg.id]
        try:
            expected = self.model.counts(msg.app, msg.sender, [msg.id])
        except ModelError as e:
            # A sender who left its group may not ask; the totals are still there for an admin.
            try:
                await self.core.receipts.counts(msg.app, msg.sender, [core_id])
            except CoreError as err:
                assert err.reason is REASONS[e.err], (err, e)
            else:
                raise AssertionError(f"core gave counts of {msg} to its sender, the model: {e}") from None
            got = await self.core.receipts.counts(msg.app, "admin", [core_id], as_admin=True)
        else:
            got = await self.core.receipts.counts(msg.app, msg.sender, [core_id])
            assert [(c.read, c.unread) for c in got] == [(r, u) for _, r, u in expected], msg
        (count,) = got
        assert (count.read, count.unread) == (msg.read, msg.unread), msg
        assert count.read + count.unread == len(msg.snapshot)
        if not msg.is_group:
            assert msg.receiver is not None
            assert count.peer_read_ms == msg.readers.get(msg.receiver), msg
            return
        readers, unread = self.model.members(msg.app, msg.sender, msg.id)
        assert await self._page(msg, ReadFilter.READ) == readers, msg
        assert set(await self._page(msg, ReadFilter.UNREAD)) == unread, msg

    async def _page(self, msg: Msg, which: ReadFilter) -> dict[str, int | None]:
        """Every member of one list, paged ``PAGE`` at a time; each must come exactly once."""
        seen: dict[str, int | None] = {}
        cursor = 0
        for _ in range(len(msg.snapshot) + 2):
            page = await self.core.receipts.members(
                msg.app, msg.sender, self.ids[msg.id], which, cursor=cursor, count=PAGE
            )
            assert len(page.members) <= PAGE
            for member in page.members:
                assert member.user_id not in seen, (member, msg)
                assert member.cursor > cursor
                cursor = member.cursor
                seen[member.user_id] = member.read_ms
            assert page.next_cursor == cursor
            if page.finished:
                return seen
        raise AssertionError(f"paging {which} of {msg} never finished")


def test_core_follows_the_receipt_model() -> None:
    """Under any sequence of joins, leaves, sends, receipts, reads and clock moves in two apps,
    the core's receipt counts, member lists, unread counts and errors equal the model's."""
    run_state_machine_as_test(
        ReceiptMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

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
from server.store.messages import Sent
from server.store.store import Store
from tests.model import AppRules, ConvKey, Err, Model, ModelError, Msg

T = TypeVar("T")

APP = 1400000100  # Flagship
BASIC = 1400000101  # not Flagship
CAP = 5
USERS = ("u0", "u1", "u2", "u3", "u4", "u5")
GROUPS = (
    (APP, "g1", GroupType.WORK, ("u0", "u1", "u2", "u3", "u4")),  # exactly at the cap
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

# Biased towards what keeps receipt state: the Flagship app, its Work group, need_receipt.
groups = st.sampled_from([(APP, "g1"), (APP, "g1"), (APP, "g2"), (APP, "g3"), (BASIC, "g1")])
apps = st.sampled_from([APP, APP, APP, BASIC])
need_receipts = st.sampled_from([True, True, True, False])
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
        self.model = Model(
            {APP: AppRules(cap=CAP), BASIC: AppRules(flagship=False)}, self.clock.now_ms()
        )
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
        return self.loop.run_until_complete(coro)

    def both(
        self, name: str, model_op: Callable[[], T], core_op: Callable[[], Awaitable[Any]]
    ) -> tuple[T, Any] | None:
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
            assert err is not None, f"{name}: core refused with {e!r}, the model gave {expected!r}"
            assert e.reason is REASONS[err], (
                f"{name}: core refused with {e!r}, the model with {err}"
            )
            return None
        assert err is None, f"{name}: core gave {got!r}, the model refused with {err}"
        return expected, got  # type: ignore[return-value]

    def core_id(self, model_id: int) -> int:
        return self.ids[model_id] if 0 <= model_id < len(self.ids) else UNKNOWN_ID

    def pick_messages(self, data: st.DataObject) -> tuple[Msg, list[int]]:
        """A first message (mostly one with receipt state), then up to two more: mostly of its
        conversation, sometimes any message, rarely an unknown id. Ids are model ids."""
        msgs = self.model.messages
        kept = [m.id for m in msgs if m.state]
        with_state = data.draw(st.integers(0, 3), label="with state?") > 0
        pool = kept if kept and with_state else list(range(len(msgs)))
        first = msgs[data.draw(st.sampled_from(pool), label="first")]
        same = [m.id for m in msgs if m.conv == first.conv]
        more: list[int] = []
        for where, n in data.draw(
            st.lists(st.tuples(st.integers(0, 9), st.integers(0, 1 << 16)), max_size=2),
            label="more",
        ):
            if where <= 6:
                more.append(same[n % len(same)])
            elif where <= 8:
                more.append(n % len(msgs))
            else:
                more.append(-1)  # a message id nobody sent
        return first, [first.id, *more]

    def pick_app(self, data: st.DataObject, first: Msg) -> int:
        """Mostly the message's own app, now and then the other one."""
        other = BASIC if first.app == APP else APP
        return data.draw(st.sampled_from([first.app] * 7 + [other]), label="app")

    # -- rules ------------------------------------------------------------------------------

    @rule(group=groups, user=users, join=st.booleans())
    def membership(self, group: tuple[int, str], user: str, join: bool) -> None:
        app, gid = group
        if join:
            added = self.model.join(app, gid, user)
            change = self.run(self.core.groups.add_members(app, gid, [user]))
            assert change.added == ((user,) if added else ())
        else:
            removed = self.model.leave(app, gid, user)
            change = self.run(self.core.groups.remove_members(app, gid, [user]))
            assert change.removed == ((user,) if removed else ())

    @rule(group=groups, need_receipt=need_receipts, data=st.data())
    def send_group(self, group: tuple[int, str], need_receipt: bool, data: st.DataObject) -> None:
        app, gid = group
        members = self.model.groups[group].members
        sender = data.draw(st.sampled_from([*members, *members, *members, *USERS]), label="sender")
        out = self.both(
            "send_group",
            lambda: self.model.send_group(app, sender, gid, need_receipt),
            lambda: self.core.messages.send_group(
                app, sender, gid, BODY, need_receipt=need_receipt
            ),
        )
        if out is not None:
            self._sent(*out)

    @rule(app=apps, pair=pairs, need_receipt=need_receipts)
    def send_c2c(self, app: int, pair: tuple[str, str], need_receipt: bool) -> None:
        sender, receiver = pair
        out = self.both(
            "send_c2c",
            lambda: self.model.send_c2c(app, sender, receiver, need_receipt),
            lambda: self.core.messages.send_c2c(
                app, sender, receiver, BODY, need_receipt=need_receipt
            ),
        )
        if out is not None:
            self._sent(*out)

    def _sent(self, msg: Msg, sent: Sent) -> None:
        """Compare a message both sides stored, and remember its core id."""
        m = sent.message
        got = (m.seq, m.time_ms, m.has_receipts, m.receivers)
        assert got == (msg.seq, msg.time_ms, msg.state, len(msg.snapshot)), (got, msg)
        assert len(self.ids) == msg.id
        self.ids.append(m.id)

    @precondition(lambda self: self.model.messages)
    @rule(data=st.data())
    def receipt(self, data: st.DataObject) -> None:
        """Anyone sends receipts for a few messages, which may be of several conversations."""
        first, ids = self.pick_messages(data)
        app = self.pick_app(data, first)
        reader = data.draw(st.sampled_from([*first.snapshot, first.sender, *USERS]), label="reader")
        self._receipt(app, reader, ids)

    @precondition(lambda self: any(m.snapshot for m in self.model.messages))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        """A receiver of a message with receipt state acknowledges it and maybe other messages
        of the same conversation (the client's path)."""
        msgs = self.model.messages
        first = msgs[data.draw(st.sampled_from([m.id for m in msgs if m.snapshot]), label="msg")]
        reader = data.draw(st.sampled_from(first.snapshot), label="reader")
        same = [m.id for m in msgs if m.conv == first.conv]
        more = data.draw(st.lists(st.sampled_from(same), max_size=3), label="more")
        self._receipt(first.app, reader, [first.id, *more])

    def _receipt(self, app: int, reader: str, ids: list[int]) -> None:
        out = self.both(
            "receipt",
            lambda: self.model.receipt(app, reader, ids),
            lambda: self.core.receipts.send_ids(app, reader, [self.core_id(i) for i in ids]),
        )
        if out is None:
            return
        acks, changes = out
        assert [(c.msg_id, c.newly_read, c.is_receiver, c.read, c.receivers) for c in changes] == [
            (self.ids[a.msg], a.newly_read, a.is_receiver, a.read, a.receivers) for a in acks
        ]

    @precondition(lambda self: self.model.messages)
    @rule(data=st.data(), members=st.booleans())
    def ask(self, data: st.DataObject, members: bool) -> None:
        """Look up counts (of up to three messages) or one page of a member list."""
        first, ids = self.pick_messages(data)
        app = self.pick_app(data, first)
        user = data.draw(st.sampled_from([first.sender, first.sender, *USERS]), label="user")
        if members:
            which = data.draw(st.sampled_from(ReadFilter), label="which")
            self.both(
                "members",
                lambda: self.model.members(app, user, first.id),
                lambda: self.core.receipts.members(
                    app, user, self.ids[first.id], which, cursor=0, count=PAGE
                ),
            )
            return
        out = self.both(
            "counts",
            lambda: self.model.counts(app, user, ids),
            lambda: self.core.receipts.counts_ids(app, user, [self.core_id(i) for i in ids]),
        )
        if out is not None:
            expected, got = out
            assert [(c.message.id, c.read, c.unread) for c in got] == [
                (self.ids[i], read, unread) for i, read, unread in expected
            ]

    @rule(group=groups, pair=pairs, c2c=st.booleans())
    def mark_read(self, group: tuple[int, str], pair: tuple[str, str], c2c: bool) -> None:
        """A group member reads the group, or a user reads its C2C conversation with a peer."""
        app, gid = group
        user, peer = pair
        if not c2c:
            self.both(
                "mark_group_read",
                lambda: self.model.mark_group_read(app, user, gid),
                lambda: self.core.reads.mark_group(app, user, gid),
            )
            return
        self.both(
            "mark_c2c_read",
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
        """Every comparison, issued at once (they only read; the reader connection queues them)."""
        model = self.model
        assert self.core.clock.now_ms() == model.now_ms
        checks = [self._compare_receipts(m) for m in model.messages if m.state]
        checks += [self._compare_c2c_unread(app, user) for app in (APP, BASIC) for user in USERS]
        conversations = {m.conv for m in model.messages if not m.is_group}
        checks += [self._compare_peer_read(c, viewer) for c in conversations for viewer in c[2:]]
        checks += [
            self._compare_group_unread(app, gid, user)
            for (app, gid), group in model.groups.items()
            for user in group.members
        ]
        for outcome in await asyncio.gather(*checks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _compare_c2c_unread(self, app: int, user: str) -> None:
        got = await self.core.reads.c2c_unread(app, user)
        assert got == self.model.c2c_unread(app, user), (app, user, got)
        total = await self.core.store.reads.c2c_unread_total(app, user)
        assert total == sum(got.values()), (app, user, total)

    async def _compare_group_unread(self, app: int, gid: str, user: str) -> None:
        got = await self.core.reads.group_unread(app, user, gid)
        assert got == self.model.group_unread(app, user, gid), (app, gid, user, got)

    async def _compare_peer_read(self, conv: ConvKey, viewer: str) -> None:
        """In ``viewer``'s C2C history, exactly its own messages the peer has read are peer-read."""
        _, app, a, b = conv
        history = await self.core.messages.c2c_history(
            app, viewer, b if viewer == a else a, count=100
        )
        assert {i.message.id: i.peer_read for i in history} == {
            self.ids[m.id]: m.sender == viewer and self.model.peer_read(m)
            for m in self.model.messages
            if m.conv == conv
        }, (conv, viewer)

    async def _compare_receipts(self, msg: Msg) -> None:
        core_id = self.ids[msg.id]
        try:
            expected = self.model.counts(msg.app, msg.sender, [msg.id])
        except ModelError as e:
            # A sender who left its group may not ask; the totals are still there for an admin.
            try:
                await self.core.receipts.counts_ids(msg.app, msg.sender, [core_id])
            except CoreError as err:
                assert err.reason is REASONS[e.err], (err, e)
            else:
                raise AssertionError(
                    f"core gave counts of {msg} to its sender, the model: {e}"
                ) from None
            got = await self.core.receipts.counts_ids(msg.app, "admin", [core_id], as_admin=True)
        else:
            got = await self.core.receipts.counts_ids(msg.app, msg.sender, [core_id])
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
        assert await self._page(msg, ReadFilter.UNREAD) == dict.fromkeys(unread), msg

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


def _on_core(scenario: Callable[[Core], Awaitable[None]]) -> None:
    """Run ``scenario`` on a fresh core (Flagship ``APP`` with the accounts ``USERS``)."""

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="receipts-stateful-") as tmp:
            db = Database(str(Path(tmp) / "im.sqlite3"))
            await db.open()
            try:
                core = Core(Store(db), FakeClock(), {APP: AppPolicy(APP)})
                await core.directory.import_accounts(APP, [NewAccount(u) for u in USERS])
                await scenario(core)
            finally:
                await db.close()

    asyncio.run(main())


def test_a_c2c_message_in_the_millisecond_of_a_read_mark_is_read_or_not() -> None:
    """A C2C message sent in the same millisecond as, but after, the receiver's read mark is
    either read on both sides (peer-read for the sender, not unread for the receiver) or on
    neither."""

    async def scenario(core: Core) -> None:
        await core.reads.mark_c2c(APP, "u0", "u1")
        sent = await core.messages.send_c2c(APP, "u1", "u0", BODY)  # the clock has not moved
        history = await core.messages.c2c_history(APP, "u1", "u0", count=10)
        peer_read = {item.message.id: item.peer_read for item in history}[sent.message.id]
        unread = (await core.reads.c2c_unread(APP, "u0")).get("u1", 0)
        assert (peer_read, unread) in {(True, 0), (False, 1)}, (peer_read, unread)

    _on_core(scenario)


def test_a_c2c_read_up_to_a_seq_without_a_message_fails_cleanly() -> None:
    """Reading a C2C conversation up to a message number nobody sent is clamped or refused with
    a CoreError, never a crash."""

    async def scenario(core: Core) -> None:
        await core.messages.send_c2c(APP, "u1", "u0", BODY)
        try:
            await core.reads.mark_c2c(APP, "u0", "u1", upto_seq=5)
        except CoreError:
            pass

    _on_core(scenario)

"""A pure reference model of the read-receipt rules, for comparison with the server.

No I/O and nothing from ``server/``: plain sets and dicts stating the rules of
``../shared/reference/tim.md`` section 7 (and our choices where the vendor is silent) as
directly as possible. ``tests/core/test_stateful.py`` drives this model and the real core with
the same random operations and compares them after every step.

The rules held here:

- A message keeps receipt state only if it asked for receipts, its app is Flagship and, for a
  group, the group type allows receipts and the group (sender included) has at most ``cap``
  members when it is sent.
- The receivers are snapshotted at send time: the group's members less the sender (C2C: the
  peer). Later joins and leaves change nothing; ``read + unread == len(snapshot)`` always.
- A receipt call names messages of one conversation. Checked in this order: unknown (or
  another app's) messages, mixed conversations, Flagship, the reader's access (a group reader
  must be a current member, a C2C reader a party), then the reader's own messages and messages
  without receipt state are dropped and an empty remainder is refused. A receipt is idempotent,
  and a reader outside a message's snapshot changes nothing.
- Looking up counts passes the same checks (but an empty result is fine) and reports only the
  caller's own messages. A member list is for the sender of a group message with receipt
  state; it does not need the sender to be a member still (the server's current choice,
  although counts do need it: an open question, the vendor is silent).
- Conversation reads are separate from receipts. A group member's unread count is the others'
  messages after its read seq; joining sets the read seq to the group's last seq (unread
  starts at 0). A C2C unread count is the peer's messages sent after the read time, and the
  sender sees a message as peer-read when it was sent at or before that time (rules 20, 22).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

ConvKey = tuple[str, int, str, str]  # ("group", app, group_id, "") or ("c2c", app, user_a, user_b)


class Err(enum.Enum):
    """Why the model refuses an operation."""

    UNKNOWN_MESSAGE = "unknown_message"
    MIXED = "mixed"  # messages of more than one conversation in one call
    NOT_FLAGSHIP = "not_flagship"
    NOT_MEMBER = "not_member"  # not a current member of the group
    NOT_ALLOWED = "not_allowed"  # not a party to the C2C conversation, not the sender
    EMPTY = "empty"  # nothing left to acknowledge
    INVALID = "invalid"
    NOT_FOUND = "not_found"  # the message keeps no receipt state


class ModelError(Exception):
    def __init__(self, err: Err, why: str) -> None:
        super().__init__(f"{err.name}: {why}")
        self.err = err


@dataclass(frozen=True)
class AppRules:
    flagship: bool = True
    cap: int = 200  # largest group (sender included) whose messages keep receipt state


@dataclass
class Group:
    app: int
    group_id: str
    receipts: bool  # the group type may keep receipts at all
    members: list[str]  # current members, in join order
    last_seq: int = 0
    read_seq: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> ConvKey:
        return ("group", self.app, self.group_id, "")


@dataclass
class Msg:
    id: int
    app: int
    conv: ConvKey
    sender: str
    receiver: str | None  # C2C only
    seq: int
    time_ms: int
    need_receipt: bool
    state: bool  # receipt state is kept
    snapshot: tuple[str, ...]  # receivers at send time (empty without state)
    readers: dict[str, int] = field(default_factory=dict)  # receiver -> when it sent its receipt

    @property
    def is_group(self) -> bool:
        return self.conv[0] == "group"

    @property
    def read(self) -> int:
        return len(self.readers)

    @property
    def unread(self) -> int:
        return len(self.snapshot) - len(self.readers)


@dataclass(frozen=True)
class Ack:
    """The outcome of one receipt for one message that survived the filter."""

    msg: int
    newly_read: bool
    is_receiver: bool
    read: int
    receivers: int


def c2c_key(app: int, a: str, b: str) -> ConvKey:
    lo, hi = sorted((a, b))
    return ("c2c", app, lo, hi)


class Model:
    def __init__(self, apps: dict[int, AppRules], now_ms: int) -> None:
        self.apps = apps
        self.now_ms = now_ms
        self.groups: dict[tuple[int, str], Group] = {}
        self.messages: list[Msg] = []
        self.c2c_seq: dict[ConvKey, int] = {}
        self.c2c_read_ms: dict[tuple[ConvKey, str], int] = {}
        self.c2c_read_seq: dict[tuple[ConvKey, str], int] = {}

    # -- setup and membership ---------------------------------------------------------------

    def add_group(self, app: int, group_id: str, *, receipts: bool, members: list[str]) -> Group:
        group = Group(app, group_id, receipts, list(dict.fromkeys(members)))
        group.read_seq = dict.fromkeys(group.members, 0)
        self.groups[(app, group_id)] = group
        return group

    def join(self, app: int, group_id: str, user: str) -> bool:
        """Add a member (False if it already was one); its unread count starts at 0."""
        group = self.groups[(app, group_id)]
        if user in group.members:
            return False
        group.members.append(user)
        group.read_seq[user] = max(group.read_seq.get(user, 0), group.last_seq)
        return True

    def leave(self, app: int, group_id: str, user: str) -> bool:
        """Remove a member (False if it was not one); snapshots keep it as they were."""
        group = self.groups[(app, group_id)]
        if user not in group.members:
            return False
        group.members.remove(user)
        return True

    def advance_time(self, ms: int) -> None:
        self.now_ms += ms

    # -- sending ----------------------------------------------------------------------------

    def send_group(self, app: int, sender: str, group_id: str, need_receipt: bool) -> Msg:
        group = self.groups[(app, group_id)]
        if sender not in group.members:
            raise ModelError(Err.NOT_MEMBER, f"{sender} is not a member of {group_id}")
        rules = self.apps[app]
        state = (
            need_receipt and rules.flagship and group.receipts and len(group.members) <= rules.cap
        )
        group.last_seq += 1
        snapshot = tuple(u for u in group.members if u != sender) if state else ()
        return self._store(
            app, group.key, sender, None, group.last_seq, need_receipt, state, snapshot
        )

    def send_c2c(self, app: int, sender: str, receiver: str, need_receipt: bool) -> Msg:
        if sender == receiver:
            raise ModelError(Err.INVALID, f"{sender} cannot write to itself")
        key = c2c_key(app, sender, receiver)
        self.c2c_seq[key] = seq = self.c2c_seq.get(key, 0) + 1
        state = need_receipt and self.apps[app].flagship
        return self._store(
            app, key, sender, receiver, seq, need_receipt, state, (receiver,) if state else ()
        )

    def _store(
        self,
        app: int,
        conv: ConvKey,
        sender: str,
        receiver: str | None,
        seq: int,
        need_receipt: bool,
        state: bool,
        snapshot: tuple[str, ...],
    ) -> Msg:
        msg = Msg(
            len(self.messages),
            app,
            conv,
            sender,
            receiver,
            seq,
            self.now_ms,
            need_receipt,
            state,
            snapshot,
        )
        self.messages.append(msg)
        return msg

    # -- receipts ---------------------------------------------------------------------------

    def _load(self, app: int, user: str, ids: list[int]) -> list[Msg]:
        """The checks shared by sending and looking up receipts, in the order they apply."""
        if not ids:
            raise ModelError(Err.EMPTY, "no message given")
        msgs = []
        for i in dict.fromkeys(ids):
            if not 0 <= i < len(self.messages) or self.messages[i].app != app:
                raise ModelError(Err.UNKNOWN_MESSAGE, f"message {i} is not in app {app}")
            msgs.append(self.messages[i])
        if len({m.conv for m in msgs}) > 1:
            raise ModelError(Err.MIXED, "messages of several conversations")
        if not self.apps[app].flagship:
            raise ModelError(Err.NOT_FLAGSHIP, f"app {app} is not Flagship")
        first = msgs[0]
        if first.is_group:
            if user not in self.groups[(app, first.conv[2])].members:
                raise ModelError(Err.NOT_MEMBER, f"{user} is not a member of {first.conv[2]}")
        elif user not in (first.sender, first.receiver):
            raise ModelError(Err.NOT_ALLOWED, f"{user} is not a party of {first.conv}")
        return msgs

    def receipt(self, app: int, reader: str, ids: list[int]) -> list[Ack]:
        """``reader`` has read these messages; one :class:`Ack` per message kept."""
        msgs = self._load(app, reader, ids)
        wanted = [m for m in msgs if m.sender != reader and m.state]
        if not wanted:
            raise ModelError(Err.EMPTY, "only own messages or messages without receipt state")
        acks = []
        for m in wanted:
            receiver = reader in m.snapshot
            newly = receiver and reader not in m.readers
            if newly:
                m.readers[reader] = self.now_ms
            acks.append(Ack(m.id, newly, receiver, m.read, len(m.snapshot)))
        return acks

    def counts(self, app: int, user: str, ids: list[int]) -> list[tuple[int, int, int]]:
        """``(id, read, unread)`` of the caller's own messages with receipt state among ``ids``."""
        msgs = self._load(app, user, ids)
        return [(m.id, m.read, m.unread) for m in msgs if m.sender == user and m.state]

    def members(self, app: int, user: str, msg_id: int) -> tuple[dict[str, int], set[str]]:
        """(readers with their read times, non-readers) of a group message, for its sender."""
        if not 0 <= msg_id < len(self.messages) or self.messages[msg_id].app != app:
            raise ModelError(Err.UNKNOWN_MESSAGE, f"message {msg_id} is not in app {app}")
        m = self.messages[msg_id]
        if not m.is_group:
            raise ModelError(Err.INVALID, f"message {msg_id} is not a group message")
        if not self.apps[app].flagship:
            raise ModelError(Err.NOT_FLAGSHIP, f"app {app} is not Flagship")
        if user != m.sender:
            raise ModelError(Err.NOT_ALLOWED, f"{user} did not send message {msg_id}")
        if not m.state:
            raise ModelError(Err.NOT_FOUND, f"message {msg_id} keeps no receipt state")
        return dict(m.readers), set(m.snapshot) - set(m.readers)

    # -- conversation reads -----------------------------------------------------------------

    def mark_group_read(self, app: int, user: str, group_id: str) -> None:
        group = self.groups[(app, group_id)]
        if user not in group.members:
            raise ModelError(Err.NOT_MEMBER, f"{user} is not a member of {group_id}")
        group.read_seq[user] = max(group.read_seq[user], group.last_seq)

    def mark_c2c_read(self, app: int, user: str, peer: str) -> None:
        if user == peer:
            raise ModelError(Err.INVALID, f"{user} has no conversation with itself")
        conv = c2c_key(app, user, peer)
        key = (conv, user)
        self.c2c_read_ms[key] = max(self.c2c_read_ms.get(key, 0), self.now_ms)
        # the position: every message of the conversation so far (all were sent at or before now)
        self.c2c_read_seq[key] = max(self.c2c_read_seq.get(key, 0), self.c2c_seq.get(conv, 0))

    def group_unread(self, app: int, user: str, group_id: str) -> int:
        group = self.groups[(app, group_id)]
        if user not in group.members:
            raise ModelError(Err.NOT_MEMBER, f"{user} is not a member of {group_id}")
        return sum(
            1
            for m in self.messages
            if m.conv == group.key and m.sender != user and m.seq > group.read_seq[user]
        )

    def peer_read(self, msg: Msg) -> bool:
        """C2C ``isPeerRead`` (conversation level): the receiver's read position covers the
        message (every message up to the newest one at the read time)."""
        assert msg.receiver is not None
        return msg.seq <= self.c2c_read_seq.get((msg.conv, msg.receiver), 0)

    def c2c_unread(self, app: int, user: str) -> dict[str, int]:
        """``{peer: unread}`` over ``user``'s C2C conversations with unread messages."""
        out: dict[str, int] = {}
        for m in self.messages:
            if m.app == app and not m.is_group and m.receiver == user:
                if m.seq > self.c2c_read_seq.get((m.conv, user), 0):
                    out[m.sender] = out.get(m.sender, 0) + 1
        return out

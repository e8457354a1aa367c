"""SQL for messages, including the receiver snapshot taken when a receipt message is sent."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from server.core.errors import CoreError, Reason
from server.core.events import Event
from server.core.model import ConvKind, Element, Message
from server.store import events as event_sql
from server.store.db import Database
from server.store.reads import c2c_unread_add

_body_encoder = msgspec.json.Encoder()
_body_decoder = msgspec.json.Decoder(tuple[Element, ...])
_mentions_decoder = msgspec.json.Decoder(list[str])

_COLS = (
    "m.id, c.app, m.conv_id, c.kind, c.group_id, m.sender, m.receiver, m.seq, m.random, m.time_ms,"
    " m.body, m.need_receipt, m.receipt_code, m.online_only, m.receivers, m.recalled,"
    " m.parent_id, m.root_id, m.mentions, m.client_seq, m.client_ms"
)
_FROM = "messages m JOIN conversations c ON c.id = m.conv_id"


def _message(row: Sequence[object]) -> Message:
    return Message(
        id=row[0],  # type: ignore[arg-type]
        app=row[1],  # type: ignore[arg-type]
        conv_id=row[2],  # type: ignore[arg-type]
        kind=ConvKind(row[3]),
        group_id=row[4],  # type: ignore[arg-type]
        sender=row[5],  # type: ignore[arg-type]
        receiver=row[6],  # type: ignore[arg-type]
        seq=row[7],  # type: ignore[arg-type]
        random=row[8],  # type: ignore[arg-type]
        time_ms=row[9],  # type: ignore[arg-type]
        body=_body_decoder.decode(row[10]),  # type: ignore[arg-type]
        need_receipt=bool(row[11]),
        receipt_code=row[12],  # type: ignore[arg-type]
        online_only=bool(row[13]),
        receivers=row[14],  # type: ignore[arg-type]
        recalled=bool(row[15]),
        parent_id=row[16],  # type: ignore[arg-type]
        root_id=row[17],  # type: ignore[arg-type]
        mentions=tuple(_mentions_decoder.decode(row[18])) if row[18] else (),  # type: ignore[arg-type]
        client_seq=row[19],  # type: ignore[arg-type]
        client_ms=row[20],  # type: ignore[arg-type]
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """What the caller wants stored; the store assigns id, seq and the snapshot."""

    sender: str
    time_ms: int
    random: int
    body: tuple[Element, ...]
    need_receipt: bool
    receipt_code: str | None  # already known reason for no receipt state, else None
    online_only: bool
    parent_id: int | None = None
    root_id: int | None = None
    mentions: tuple[str, ...] = ()
    send_key: tuple[str, str] | None = (
        None  # (scope, key): a repeated key returns the first message
    )
    send_key_ttl_ms: int = 3_600_000  # ...if it was used less than this long ago
    client_seq: int | None = None  # the sender's own number for it, kept as sent
    client_ms: int | None = None  # the sender's clock when it sent it, kept as sent


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    recipients: tuple[str, ...]  # everyone to deliver to (group: current members; C2C: receiver)
    duplicate: bool = False  # the send key was used before: ``message`` is that first message


# Makes the events of a stored message; the int is the receiver's C2C unread total (0 for groups).
EventBuilder = Callable[[Message, int], Sequence[Event]]


def _insert(
    conn: sqlite3.Connection,
    conv_id: int,
    app: int,
    kind: ConvKind,
    group_id: str | None,
    receiver: str | None,
    new: NewMessage,
    receivers: Sequence[str],
    receipt_code: str | None,
    build_events: EventBuilder,
    receiver_unread: Callable[[], int] = lambda: 0,
) -> Message:
    (seq,) = conn.execute(
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
        (conv_id,),
    ).fetchone()
    snapshot = new.need_receipt and receipt_code is None
    cur = conn.execute(
        "INSERT INTO messages (conv_id, seq, sender, receiver, time_ms, random, body, need_receipt,"
        " receipt_code, online_only, receivers, parent_id, root_id, mentions, client_seq, client_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conv_id,
            seq,
            new.sender,
            receiver,
            new.time_ms,
            new.random,
            _body_encoder.encode(new.body),
            int(new.need_receipt),
            receipt_code,
            int(new.online_only),
            len(receivers) if snapshot else 0,
            new.parent_id,
            new.root_id,
            _body_encoder.encode(list(new.mentions)) if new.mentions else None,
            new.client_seq,
            new.client_ms,
        ),
    )
    msg_id = cur.lastrowid
    assert msg_id is not None
    if snapshot:
        conn.executemany(
            "INSERT INTO receipts (msg_id, idx, user_id) VALUES (?, ?, ?)",
            [(msg_id, i, user) for i, user in enumerate(receivers, start=1)],
        )
    message = Message(
        id=msg_id,
        app=app,
        conv_id=conv_id,
        kind=kind,
        group_id=group_id,
        sender=new.sender,
        receiver=receiver,
        seq=seq,
        random=new.random,
        time_ms=new.time_ms,
        body=new.body,
        need_receipt=new.need_receipt,
        receipt_code=receipt_code,
        online_only=new.online_only,
        receivers=len(receivers) if snapshot else 0,
        recalled=False,
        parent_id=new.parent_id,
        root_id=new.root_id,
        mentions=new.mentions,
        client_seq=new.client_seq,
        client_ms=new.client_ms,
    )
    if new.send_key is not None:
        conn.execute(
            "INSERT INTO send_keys (scope, key, msg_id, created_ms) VALUES (?, ?, ?, ?)",
            (*new.send_key, msg_id, new.time_ms),
        )
    event_sql.append(conn, app, build_events(message, receiver_unread()), new.time_ms)
    return message


def _earlier(conn: sqlite3.Connection, new: NewMessage) -> Message | None:
    """The message first sent with ``new.send_key``, if any."""
    if new.send_key is None:
        return None
    row = conn.execute(
        f"SELECT {_COLS}, k.created_ms FROM {_FROM} JOIN send_keys k ON k.msg_id = m.id"
        " WHERE k.scope = ? AND k.key = ?",
        new.send_key,
    ).fetchone()
    if row is None:
        return None
    if new.time_ms - row[-1] >= new.send_key_ttl_ms:
        conn.execute("DELETE FROM send_keys WHERE scope = ? AND key = ?", new.send_key)
        return None
    return _message(row)


def _send_group(
    conn: sqlite3.Connection,
    app: int,
    conv_id: int,
    group_id: str,
    new: NewMessage,
    sender_must_be_member: bool,
    receipt_cap: int,
    build_events: EventBuilder,
) -> Sent:
    earlier = _earlier(conn, new)
    if earlier is not None:
        return Sent(earlier, (), duplicate=True)
    members = [
        r[0]
        for r in conn.execute(
            "SELECT user_id FROM members WHERE conv_id = ? ORDER BY joined_ms, user_id", (conv_id,)
        )
    ]
    if sender_must_be_member and new.sender not in members:
        raise CoreError(
            Reason.NOT_GROUP_MEMBER, f"{new.sender!r} is not a member of group {group_id!r}"
        )
    receipt_code = new.receipt_code
    if new.need_receipt and receipt_code is None and len(members) > receipt_cap:
        receipt_code = Reason.RECEIPT_GROUP_TOO_LARGE.value
    receivers = [m for m in members if m != new.sender]
    message = _insert(
        conn,
        conv_id,
        app,
        ConvKind.GROUP,
        group_id,
        None,
        new,
        receivers,
        receipt_code,
        build_events,
    )
    return Sent(message, tuple(members))


def _send_c2c(
    conn: sqlite3.Connection, app: int, receiver: str, new: NewMessage, build_events: EventBuilder
) -> Sent:
    earlier = _earlier(conn, new)
    if earlier is not None:
        return Sent(earlier, (), duplicate=True)
    a, b = sorted((new.sender, receiver))
    row = conn.execute(
        "SELECT id FROM conversations WHERE app = ? AND kind = 'c2c' AND user_a = ? AND user_b = ?",
        (app, a, b),
    ).fetchone()
    if row:
        conv_id = int(row[0])
    else:
        cur = conn.execute(
            "INSERT INTO conversations (app, kind, user_a, user_b, created_ms) VALUES (?, 'c2c', ?, ?, ?)",
            (app, a, b, new.time_ms),
        )
        assert cur.lastrowid is not None
        conv_id = cur.lastrowid
    message = _insert(
        conn,
        conv_id,
        app,
        ConvKind.C2C,
        None,
        receiver,
        new,
        [receiver],
        new.receipt_code,
        build_events,
        lambda: c2c_unread_add(conn, app, receiver, 1),
    )
    return Sent(message, (receiver,))


def _recall(
    conn: sqlite3.Connection, app: int, msg_id: int, now_ms: int, events: Sequence[Event]
) -> bool:
    cur = conn.execute("UPDATE messages SET recalled = 1 WHERE id = ? AND recalled = 0", (msg_id,))
    if not cur.rowcount:
        return False
    row = conn.execute(
        "SELECT m.seq, m.sender, c.user_a, c.user_b, coalesce(r.read_seq, 0)"
        " FROM messages m JOIN conversations c ON c.id = m.conv_id AND c.kind = 'c2c'"
        " LEFT JOIN reads r ON r.conv_id = c.id"
        " AND r.user_id = CASE WHEN m.sender = c.user_a THEN c.user_b ELSE c.user_a END"
        " WHERE m.id = ?",
        (msg_id,),
    ).fetchone()
    if row is not None:  # a one-to-one message: unread by its receiver until now?
        seq, sender, user_a, user_b, read_seq = row
        if seq > read_seq:
            c2c_unread_add(conn, app, user_b if sender == user_a else user_a, -1)
    event_sql.append(conn, app, events, now_ms)
    return True


class MessageStore:
    """Messages, with a bounded cache of rows (a message never changes but for ``recalled``)."""

    def __init__(self, db: Database, cache_size: int = 200_000) -> None:
        self.db = db
        self._cache: OrderedDict[int, Message] = OrderedDict()
        self._cache_size = cache_size
        # (conversation, seq) -> id of the cached messages: receipts by sequence number (REST
        # group_msg_receipt, Tencent's SDK) then make no read query either
        self._seqs: dict[tuple[int, int], int] = {}

    def _remember(self, message: Message) -> None:
        self._cache[message.id] = message
        self._seqs[(message.conv_id, message.seq)] = message.id
        if len(self._cache) > self._cache_size:
            _, old = self._cache.popitem(last=False)
            self._seqs.pop((old.conv_id, old.seq), None)

    async def send_group(
        self,
        app: int,
        conv_id: int,
        group_id: str,
        new: NewMessage,
        *,
        sender_must_be_member: bool,
        receipt_cap: int,
        build_events: EventBuilder,
    ) -> Sent:
        """Store a group message and its receiver snapshot (members at this instant, less the
        sender) in one transaction, with the events ``build_events`` makes of it."""
        sent = await self.db.write(
            _send_group,
            app,
            conv_id,
            group_id,
            new,
            sender_must_be_member,
            receipt_cap,
            build_events,
        )
        self._remember(sent.message)
        return sent

    async def send_c2c(
        self, app: int, receiver: str, new: NewMessage, *, build_events: EventBuilder
    ) -> Sent:
        sent = await self.db.write(_send_c2c, app, receiver, new, build_events)
        self._remember(sent.message)
        return sent

    async def get(self, msg_id: int) -> Message | None:
        cached = self._cache.get(msg_id)
        if cached is not None:
            return cached
        row = await self.db.fetchone(f"SELECT {_COLS} FROM {_FROM} WHERE m.id = ?", (msg_id,))
        if row is None:
            return None
        message = _message(row)
        self._remember(message)
        return message

    async def get_many(self, msg_ids: Sequence[int]) -> dict[int, Message]:
        out: dict[int, Message] = {}
        missing = []
        for msg_id in msg_ids:
            cached = self._cache.get(msg_id)
            if cached is not None:
                out[msg_id] = cached
            else:
                missing.append(msg_id)
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_COLS} FROM {_FROM} WHERE m.id IN ({','.join('?' * len(chunk))})", chunk
            )
            for row in rows:
                message = _message(row)
                self._remember(message)
                out[message.id] = message
        return out

    async def by_seq(self, conv_id: int, seqs: Sequence[int]) -> dict[int, Message]:
        """Messages of one conversation by sequence number (missing seqs are left out)."""
        out: dict[int, Message] = {}
        unique = []
        for seq in dict.fromkeys(seqs):
            msg_id = self._seqs.get((conv_id, seq))
            cached = self._cache.get(msg_id) if msg_id is not None else None
            if cached is not None:
                out[seq] = cached
            else:
                unique.append(seq)
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_COLS} FROM {_FROM} WHERE m.conv_id = ? AND m.seq IN ({','.join('?' * len(chunk))})",
                (conv_id, *chunk),
            )
            for row in rows:
                message = _message(row)
                self._remember(message)
                out[message.seq] = message
        return out

    async def by_random(self, conv_id: int, randoms: Sequence[int]) -> list[Message]:
        """Messages of one conversation whose random is one of ``randoms``."""
        out: list[Message] = []
        unique = list(dict.fromkeys(randoms))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_COLS} FROM {_FROM} WHERE m.conv_id = ? AND m.random IN ({','.join('?' * len(chunk))})",
                (conv_id, *chunk),
            )
            out.extend(_message(row) for row in rows)
        return out

    async def history(
        self,
        conv_id: int,
        *,
        before_seq: int | None,
        count: int,
        after_seq: int = 0,
        min_ms: int = 0,
        max_ms: int | None = None,
        ascending: bool = False,
    ) -> list[Message]:
        """Up to ``count`` messages with ``after_seq < seq < before_seq`` and
        ``min_ms <= time <= max_ms``, newest first (oldest first when ``ascending``)."""
        order = "ASC" if ascending else "DESC"
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM {_FROM} WHERE m.conv_id = ? AND m.seq < ? AND m.seq > ?"
            f" AND m.time_ms >= ? AND m.time_ms <= ? ORDER BY m.seq {order} LIMIT ?",
            (
                conv_id,
                before_seq if before_seq is not None else 2**62,
                after_seq,
                min_ms,
                max_ms if max_ms is not None else 2**62,
                count,
            ),
        )
        return [_message(r) for r in rows]

    async def c2c_since(self, app: int, user: str, after_id: int, limit: int) -> list[Message]:
        """One-to-one messages ``user`` sent or received after message ``after_id``, oldest
        first, at most ``limit``."""
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM {_FROM} WHERE m.id > ? AND m.conv_id IN"
            " (SELECT id FROM conversations WHERE app = ? AND kind = 'c2c' AND user_a = ?"
            "  UNION ALL SELECT id FROM conversations WHERE app = ? AND kind = 'c2c' AND user_b = ?)"
            " ORDER BY m.id LIMIT ?",
            (after_id, app, user, app, user, limit),
        )
        return [_message(r) for r in rows]

    async def last_of(self, conv_ids: Sequence[int]) -> dict[int, Message]:
        """The newest message of each conversation that has one."""
        out: dict[int, Message] = {}
        unique = list(dict.fromkeys(conv_ids))
        for i in range(0, len(unique), 500):
            chunk = unique[i : i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_COLS} FROM {_FROM} JOIN (SELECT conv_id AS c, max(seq) AS s"
                f" FROM messages WHERE conv_id IN ({','.join('?' * len(chunk))}) GROUP BY conv_id)"
                " last ON last.c = m.conv_id AND last.s = m.seq",
                chunk,
            )
            for row in rows:
                message = _message(row)
                out[message.conv_id] = message
        return out

    async def newest_id(self) -> int:
        """The number of the newest message of the database (0: none yet)."""
        row = await self.db.fetchone("SELECT coalesce(max(id), 0) FROM messages")
        return int(row[0])

    async def recall(self, message: Message, now_ms: int, events: Sequence[Event]) -> bool:
        """Mark a message recalled (with its events); False if it already was."""
        done = await self.db.write(_recall, message.app, message.id, now_ms, events)
        self.forget(message.id)
        return done

    async def send_key_age(self, scope: str, key: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT created_ms FROM send_keys WHERE scope = ? AND key = ?", (scope, key)
        )
        return int(row[0]) if row else None

    def forget(self, msg_id: int) -> None:
        old = self._cache.pop(msg_id, None)
        if old is not None:
            self._seqs.pop((old.conv_id, old.seq), None)

    def cached_replace(self, message: Message, **changes: object) -> None:
        if message.id in self._cache:
            self._cache[message.id] = msgspec.structs.replace(message, **changes)

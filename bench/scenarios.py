"""The measurements: memory per connection, receipt throughput, receipt-to-push latency.

Every scenario seeds fresh needReadReceipt messages first (a receipt is idempotent, so each
(reader, message) pair can be acknowledged only once), then offers receipts and measures over a
window after a warm-up. Server CPU comes from /proc (all its threads), generator CPU from
``time.process_time`` (this process), so one can tell which side ran out of CPU.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bench import server as srv
from bench.client import Conn, Frame, ReceiptItem
from bench.population import Population, Sent, seed, wait_new_message_pushes

# -- helpers ----------------------------------------------------------------------------------


def percentile(sorted_values: list[int], p: float) -> float:
    if not sorted_values:
        return math.nan
    k = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return float(sorted_values[k])


def ms_stats(ns_values: list[int]) -> dict[str, float]:
    v = sorted(ns_values)
    return {
        "count": len(v),
        "p50_ms": percentile(v, 50) / 1e6,
        "p90_ms": percentile(v, 90) / 1e6,
        "p99_ms": percentile(v, 99) / 1e6,
        "max_ms": (v[-1] / 1e6) if v else math.nan,
        "mean_ms": (sum(v) / len(v) / 1e6) if v else math.nan,
    }


@dataclass
class Usage:
    """CPU of both processes and the server's write statistics at one instant."""

    t: float
    server_cpu: float
    gen_cpu: float
    write_batches: int
    write_units: int
    threads: dict[int, float]
    machine_busy: float
    machine_steal: float

    thread_names: ClassVar[dict[int, str]] = {}  # filled once the server's threads exist

    @classmethod
    async def take(cls, pid: int | None, base_url: str) -> Usage:
        """Time and CPU figures are read at once (before any await), so counters read just
        before this call line up with them; the server's write statistics follow a moment
        later (an HTTP request to a busy server)."""
        t = time.monotonic()
        server_cpu = srv.cpu_seconds(pid) if pid else math.nan
        gen_cpu = time.process_time()
        threads = srv.thread_cpu_seconds(pid) if pid else {}
        busy, steal = srv.machine_cpu_seconds()
        stats = await asyncio.to_thread(srv.healthz, base_url)
        return cls(
            t,
            server_cpu,
            gen_cpu,
            int(stats.get("write_batches", 0)),
            int(stats.get("write_units", 0)),
            threads,
            busy,
            steal,
        )

    def since(self, before: Usage) -> dict[str, Any]:
        dt = self.t - before.t
        units = self.write_units - before.write_units
        batches = self.write_batches - before.write_batches
        threads: dict[str, float] = {}
        for tid, cpu in self.threads.items():
            used = 100 * (cpu - before.threads.get(tid, 0.0)) / dt
            name = self.thread_names.get(tid, f"thread {tid}")
            if used >= 0.5:
                threads[name] = threads.get(name, 0.0) + used
        server = 100 * (self.server_cpu - before.server_cpu) / dt
        gen = 100 * (self.gen_cpu - before.gen_cpu) / dt
        busy = 100 * (self.machine_busy - before.machine_busy) / dt
        return {
            "server_cpu_pct": server,
            "server_thread_cpu_pct": dict(sorted(threads.items(), key=lambda kv: -kv[1])),
            "generator_cpu_pct": gen,
            # everything else the machine ran meanwhile, in % of one core (other users' work,
            # the kernel's softirq share of loopback traffic not charged to either process)
            "machine_busy_pct": busy,
            "other_load_pct": busy - server - (gen if math.isfinite(gen) else 0),
            "steal_pct": 100 * (self.machine_steal - before.machine_steal) / dt,
            "write_units_per_s": units / dt,
            "units_per_commit": units / batches if batches else math.nan,
        }


def receivers_work(population: Population, sent: list[Sent]) -> dict[str, list[str]]:
    """For each member, the seeded messages of its group that it did not send itself, rotated
    by its position so that members of a group do not all start on the same message."""
    by_group: dict[int, list[Sent]] = defaultdict(list)
    for s in sent:
        by_group[s.group].append(s)
    work: dict[str, list[str]] = {}
    for g, group in enumerate(population.groups):
        msgs = by_group[g]
        for idx, user in enumerate(group.members):
            mine = [s.msg_id for s in msgs if s.sender != user]
            if mine:
                shift = (idx * len(mine)) // len(group.members)
                mine = mine[shift:] + mine[:shift]
            work[user] = mine
    return work


async def seed_and_settle(
    population: Population, per_group: int, tag: str, pid: int | None, base_url: str
) -> tuple[list[Sent], dict[str, Any]]:
    """Seed fresh messages and wait until every member has its onRecvNewMessage push."""
    before = sum(c.new_message_pushes for c in population.conns.values())
    use0 = await Usage.take(pid, base_url)
    sent, seconds = await seed(population, per_group, tag=tag)
    expected = before + sum(s.receivers for s in sent)
    got = await wait_new_message_pushes(population, expected)
    use1 = await Usage.take(pid, base_url)
    usage = use1.since(use0)
    info = {
        "messages": len(sent),
        "per_group": per_group,
        "seconds": seconds,
        "messages_per_s": len(sent) / seconds if seconds else math.nan,
        "pushes_expected": expected - before,
        "pushes_received": got - before,
        "server_cpu_pct": usage["server_cpu_pct"],
        "server_thread_cpu_pct": usage["server_thread_cpu_pct"],
        "generator_cpu_pct": usage["generator_cpu_pct"],
    }
    return sent, info


async def poll_until(
    done: Callable[[], bool],
    limit: float,
    *,
    stall: float | None = None,
    progress: Callable[[], int] | None = None,
) -> None:
    """Wait until ``done()``, for at most ``limit`` seconds, or ``stall`` seconds without
    ``progress()`` changing. Polls: the counters are bumped by callbacks of many connections."""
    deadline = time.monotonic() + limit
    last_value = progress() if progress else 0
    last_change = time.monotonic()
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if progress is not None and stall is not None:
            value = progress()
            if value != last_value:
                last_value, last_change = value, time.monotonic()
            elif time.monotonic() - last_change > stall:
                return


async def check_counts(
    population: Population,
    sent: list[Sent],
    acked: dict[str, int],
    readcounts: dict[str, list[int]],
) -> dict[str, Any]:
    """Compare getMessageReadReceipts (asked by each sender) and the pushes the senders got with
    the receipts the server acknowledged."""
    by_sender: dict[str, list[Sent]] = defaultdict(list)
    for s in sent:
        by_sender[s.sender].append(s)
    wrong: list[str] = []
    checked = 0

    async def one(sender: str, mine: list[Sent]) -> None:
        nonlocal checked
        conn = population.conns[sender]
        for i in range(0, len(mine), 100):
            chunk = mine[i : i + 100]
            got = {r.msgID: r for r in await conn.get_receipts([s.msg_id for s in chunk])}
            for s in chunk:
                checked += 1
                want = acked.get(s.msg_id, 0)
                r = got.get(s.msg_id)
                if r is None or r.readCount != want or r.unreadCount != s.receivers - want:
                    wrong.append(
                        f"{s.msg_id}: want read {want} unread {s.receivers - want}, got "
                        + (f"read {r.readCount} unread {r.unreadCount}" if r else "nothing")
                    )

    sem = asyncio.Semaphore(50)

    async def limited(sender: str, mine: list[Sent]) -> None:
        async with sem:
            await one(sender, mine)

    await asyncio.gather(*(limited(u, m) for u, m in by_sender.items()))
    push_bad = 0
    for s in sent:
        want = acked.get(s.msg_id, 0)
        if sorted(readcounts.get(s.msg_id, ())) != list(range(1, want + 1)):
            push_bad += 1
    return {
        "messages_checked": checked,
        "count_mismatches": len(wrong),
        "examples": wrong[:5],
        "messages_with_wrong_pushes": push_bad,
        "ok": not wrong and push_bad == 0,
    }


def messages_needed(rate: float, seconds: float, population: Population, margin: float) -> int:
    """Messages per group so that ``rate`` receipts/s for ``seconds`` never run out."""
    members = len(population.groups[0].members)
    per_message = max(1, members - 1)
    return max(2, math.ceil(rate * seconds * margin / (len(population.groups) * per_message)) + 1)


async def wait_quiet(pid: int | None, limit: float, threshold: float = 10.0) -> float:
    """On a shared machine: wait (at most ``limit`` s) until other processes use less than
    ``threshold``% of a core over one second. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        busy0, _ = srv.machine_cpu_seconds()
        own0 = (srv.cpu_seconds(pid) if pid else 0.0) + time.process_time()
        await asyncio.sleep(1.0)
        busy1, _ = srv.machine_cpu_seconds()
        own1 = (srv.cpu_seconds(pid) if pid else 0.0) + time.process_time()
        if 100 * ((busy1 - busy0) - (own1 - own0)) < threshold:
            break
    return time.monotonic() - t0


# -- memory -----------------------------------------------------------------------------------


async def settle_rss(pid: int, wait: float = 2.0) -> int:
    """RSS after a pause, re-read until two readings 0.5 s apart agree within 1%."""
    await asyncio.sleep(wait)
    last = srv.rss_kb(pid)
    for _ in range(6):
        await asyncio.sleep(0.5)
        now = srv.rss_kb(pid)
        if abs(now - last) <= 0.01 * last:
            return now
        last = now
    return last


# -- throughput -------------------------------------------------------------------------------


@dataclass
class _Tally:
    ok_calls: int = 0
    ok_receipts: int = 0
    err_calls: int = 0
    broken_conns: int = 0
    push_items: int = 0
    errors: dict[str, int] = field(default_factory=dict)


async def throughput(
    population: Population,
    *,
    pid: int | None,
    base_url: str,
    batch: int,
    inflight: int,
    warmup: float,
    duration: float,
    per_group: int,
    on_window: Callable[[float], Any] | None = None,
    before: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Closed loop: every connection keeps ``inflight`` sendMessageReadReceipts calls of
    ``batch`` msgIDs outstanding until the window ends; counts acknowledged receipts."""
    sent, seeding = await seed_and_settle(population, per_group, f"tp{batch}", pid, base_url)
    work = receivers_work(population, sent)
    queues: dict[str, deque[tuple[list[str], bytes]]] = {}
    for user, ids in work.items():
        chunks = [ids[i : i + batch] for i in range(0, len(ids), batch)]
        queues[user] = deque((c, population.conn_class.receipts_tail(c)) for c in chunks)
    available = sum(len(ids) for ids in work.values())
    if before is not None:
        await before()

    tally = _Tally()
    acked: dict[str, int] = defaultdict(int)
    readcounts: dict[str, list[int]] = defaultdict(list)
    rtts: list[int] = []
    measuring = False
    stop = False
    exhausted: dict[str, float] = {}

    def on_receipts(conn: Conn, now: int, items: list[ReceiptItem]) -> None:
        for item in items:
            tally.push_items += 1
            readcounts[item.msgID].append(item.readCount)

    for conn in population.conns.values():
        conn.on_receipts = on_receipts

    async def worker(conn: Conn, q: deque[tuple[list[str], bytes]]) -> None:
        while not stop and q:
            ids, tail = q.popleft()
            t0 = time.monotonic_ns()
            try:
                reply: Frame = await conn.send_receipts(tail)
            except Exception as exc:
                tally.broken_conns += 1
                key = f"connection error: {exc}"[:120]
                tally.errors[key] = tally.errors.get(key, 0) + 1
                return
            t1 = time.monotonic_ns()
            if reply.code == 0:
                tally.ok_calls += 1
                tally.ok_receipts += len(ids)
                for m in ids:
                    acked[m] += 1
            else:
                tally.err_calls += 1
                key = f"{reply.code} {reply.desc}"[:120]
                tally.errors[key] = tally.errors.get(key, 0) + 1
            if measuring:
                rtts.append(t1 - t0)
        if not stop:
            exhausted.setdefault(conn.user, time.monotonic())

    t_start = time.monotonic()
    tasks = [
        asyncio.create_task(worker(population.conns[user], q))
        for user, q in queues.items()
        for _ in range(inflight)
    ]
    await asyncio.sleep(warmup)
    a_calls, a_receipts, a_errs = tally.ok_calls, tally.ok_receipts, tally.err_calls
    measuring = True
    a_use = await Usage.take(pid, base_url)
    if on_window is not None:
        on_window(duration)
    await asyncio.sleep(duration)
    b_calls, b_receipts, b_errs = tally.ok_calls, tally.ok_receipts, tally.err_calls
    measuring = False
    b_use = await Usage.take(pid, base_url)
    stop = True
    window = b_use.t - a_use.t
    t_window_end = b_use.t
    await asyncio.wait(tasks, timeout=30)
    # let the last pushes arrive before checking them
    await poll_until(
        lambda: tally.push_items >= tally.ok_receipts,
        60,
        stall=5,
        progress=lambda: tally.push_items,
    )
    correctness = await check_counts(population, sent, acked, readcounts)
    for conn in population.conns.values():
        conn.on_receipts = None
    early = [t for t in exhausted.values() if t < t_window_end]
    return {
        "batch": batch,
        "inflight_per_connection": inflight,
        "connections": len(queues),
        "seeding": seeding,
        "receipts_available": available,
        "window_s": window,
        "receipts_per_s": (b_receipts - a_receipts) / window,
        "calls_per_s": (b_calls - a_calls) / window,
        "error_calls_in_window": b_errs - a_errs,
        "call_rtt": ms_stats(rtts),
        **b_use.since(a_use),
        "server_cpu_us_per_receipt": (
            (b_use.server_cpu - a_use.server_cpu) / max(1, b_receipts - a_receipts) * 1e6
        ),
        "readers_exhausted_before_window_end": len(early),
        "total_ok_receipts": tally.ok_receipts,
        "total_ok_calls": tally.ok_calls,
        "total_error_calls": tally.err_calls,
        "broken_connections": tally.broken_conns,
        "errors": tally.errors,
        "push_items_received": tally.push_items,
        "correctness": correctness,
        "elapsed_s": time.monotonic() - t_start,
    }


# -- latency ----------------------------------------------------------------------------------


def _pair_order(population: Population, work: dict[str, list[str]]) -> Iterator[tuple[str, str]]:
    """(reader, msgID) pairs, each once, interleaved so that back-to-back receipts land in
    different groups and members of one group read different messages at a time."""
    members = max(len(g.members) for g in population.groups)
    r = 0
    while True:
        produced = False
        for idx in range(members):
            for group in population.groups:
                if idx >= len(group.members):
                    continue
                user = group.members[idx]
                ids = work[user]
                if r < len(ids):
                    produced = True
                    yield user, ids[r]
        if not produced:
            return
        r += 1


async def latency(
    population: Population,
    *,
    pid: int | None,
    base_url: str,
    rate: float,
    batch: int,
    warmup: float,
    duration: float,
    per_group: int,
    before: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Open loop: ``rate`` receipts/s on a fixed schedule, ``batch`` msgIDs a call. For every
    receipt, the time from its send to the sender's onRecvMessageReadReceipts push carrying
    that msgID and the readCount it should produce."""
    sent, seeding = await seed_and_settle(population, per_group, f"lat{int(rate)}", pid, base_url)
    work = receivers_work(population, sent)
    # pending[(msgID, readCount)] = (scheduled ns, sent ns, in window)
    pending: dict[tuple[str, int], tuple[int, int, bool]] = {}
    next_count: dict[str, int] = defaultdict(int)
    lat_send: list[int] = []
    lat_sched: list[int] = []
    counts = {
        "unmatched_push_items": 0,
        "error_calls": 0,
        "in_window_sent": 0,
        "in_window_matched": 0,
        "pushes_in_window": 0,
    }
    errors: dict[str, int] = {}
    window = (0, 0)

    def on_receipts(conn: Conn, now: int, items: list[ReceiptItem]) -> None:
        for item in items:
            if window[0] <= now < window[1]:
                counts["pushes_in_window"] += 1
            v = pending.pop((item.msgID, item.readCount), None)
            if v is None:
                counts["unmatched_push_items"] += 1
                continue
            if v[2]:
                counts["in_window_matched"] += 1
                lat_send.append(now - v[1])
                lat_sched.append(now - v[0])

    def on_reply(fut: asyncio.Future[Frame]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            key = f"connection error: {exc}"[:120]
        elif fut.result().code != 0:
            key = f"{fut.result().code} {fut.result().desc}"[:120]
        else:
            return
        counts["error_calls"] += 1
        errors[key] = errors.get(key, 0) + 1

    for conn in population.conns.values():
        conn.on_receipts = on_receipts

    # group the pair stream into calls of ``batch`` msgIDs by the same reader
    def calls() -> Iterator[tuple[str, list[str]]]:
        if batch == 1:
            for user, m in _pair_order(population, work):
                yield user, [m]
            return
        buffered: dict[str, list[str]] = defaultdict(list)
        for user, m in _pair_order(population, work):
            b = buffered[user]
            b.append(m)
            if len(b) == batch:
                yield user, b
                buffered[user] = []

    stream = calls()
    if before is not None:
        await before()
    interval = 1e9 * batch / rate
    t0 = time.monotonic_ns() + 1_000_000
    w0 = t0 + int(warmup * 1e9)
    w1 = w0 + int(duration * 1e9)
    window = (w0, w1)
    k = 0
    lags: list[int] = []
    exhausted_at: float | None = None
    a_use: Usage | None = None
    use_task: asyncio.Task[Usage] | None = None
    conns = population.conns
    while True:
        now = time.monotonic_ns()
        if now >= w1:
            break
        if a_use is None and use_task is None and now >= w0:
            use_task = asyncio.create_task(Usage.take(pid, base_url))
        due = t0 + int(k * interval)
        while due <= now and due < w1:
            nxt = next(stream, None)
            if nxt is None:
                exhausted_at = (now - t0) / 1e9
                break
            user, ids = nxt
            in_window = w0 <= due
            t_send = time.monotonic_ns()
            for m in ids:
                c = next_count[m] + 1
                next_count[m] = c
                pending[(m, c)] = (due, t_send, in_window)
            fut = conns[user].send_receipts_nowait(population.conn_class.receipts_tail(ids))
            fut.add_done_callback(on_reply)
            if in_window:
                counts["in_window_sent"] += len(ids)
                lag = t_send - due
                lags.append(lag)
            k += 1
            due = t0 + int(k * interval)
        if exhausted_at is not None:
            break
        if use_task is not None and use_task.done():
            a_use = use_task.result()
            use_task = None
        # at least 1 ms: shorter sleeps return at once on uvloop (1 ms timer resolution) and the
        # scheduler would spin; sends that came due meanwhile go out together
        await asyncio.sleep(max(0.001, (due - time.monotonic_ns()) / 1e9))
    if use_task is not None:
        a_use = await use_task
    b_use = await Usage.take(pid, base_url)
    # wait for the stragglers of the window (a saturated server may have a long backlog)
    await poll_until(
        lambda: not any(v[2] for v in pending.values()), 90, stall=5, progress=lambda: len(pending)
    )
    missing = sum(1 for v in pending.values() if v[2])
    for conn in population.conns.values():
        conn.on_receipts = None
    usage = b_use.since(a_use) if a_use is not None else {}
    return {
        "rate_offered": rate,
        "batch": batch,
        "seeding": seeding,
        "window_s": duration,
        "achieved_send_rate": counts["in_window_sent"] / duration,
        "achieved_push_rate": counts["pushes_in_window"] / duration,
        "receipt_to_push": ms_stats(lat_send),
        "receipt_to_push_from_schedule": ms_stats(lat_sched),
        "scheduler_lag": ms_stats(lags),
        "in_window_sent": counts["in_window_sent"],
        "in_window_matched": counts["in_window_matched"],
        "in_window_missing_pushes": missing,
        "unmatched_push_items": counts["unmatched_push_items"],
        "error_calls": counts["error_calls"],
        "errors": errors,
        "ran_out_of_messages_at_s": exhausted_at,
        **usage,
    }

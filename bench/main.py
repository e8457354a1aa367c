"""``scripts/bench``: start the server (or use a running one), populate it, measure, report."""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import feishu, report, scenarios
from bench import population as pop_mod
from bench import profile as prof_mod
from bench import server as srv
from bench.client import Conn
from bench.sdk_client import SdkConn
from clients.tim_rest import TimRestClient
from server.settings import DEFAULT_ADMIN, DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY

# Rough sustained receipts/s, used only to decide how many messages to seed so that readers do
# not run out during a run (the run warns if they do; raise --messages then).
EXPECTED_RATE = {1: 10_000, "batch": 25_000}


def _rates(text: str) -> list[float]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate or list of rates: {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be positive: {text!r}")
    return rates


def _choices(*allowed: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(allowed)} (comma-separated)"
            )
        return items

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark read receipts over the TIM WebSocket: memory per connection, "
        "receipt throughput (closed loop) and receipt-to-push latency (open loop).",
    )
    p.add_argument(
        "--scenario",
        choices=["all", "tim", "sdk", "tim-sdk", "throughput", "latency", "memory", "feishu"],
        default="all",
        help="tim: throughput, latency and memory of TIM receipts over /tim/ws; sdk: the same "
        "over Tencent's Chat SDK protocol (/tim/sdk, SDK-shaped pre-encoded frames); feishu: "
        "event delivery by webhook and long connection; tim-sdk: tim and sdk side by side in "
        "one run (their ratio is printed); all (default): the three",
    )
    p.add_argument("--groups", type=int, default=5, help="Work groups (default 5)")
    p.add_argument("--members", type=int, default=200, help="members per group (default 200)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    p.add_argument(
        "--rate",
        type=_rates,
        default=None,
        help="latency: receipts/s offered (default 5000 over /tim/ws, 2000 over the SDK); a "
        "comma-separated list runs the latency scenario once per rate",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=10,
        help="throughput: msgIDs per sendMessageReadReceipts call (default 10; "
        "a second run with 1 follows unless it is 1)",
    )
    p.add_argument(
        "--latency-batch", type=int, default=1, help="latency: msgIDs per call (default 1)"
    )
    p.add_argument(
        "--inflight",
        type=int,
        default=1,
        help="throughput: calls in flight per connection (default 1; the server "
        "handles one connection's requests in order)",
    )
    p.add_argument(
        "--messages",
        type=int,
        default=0,
        help="throughput: messages seeded per group (default: enough for the run)",
    )
    p.add_argument(
        "--compression",
        choices=["none", "deflate"],
        default="none",
        help="WebSocket permessage-deflate for the clients (default none)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other processes "
        "on the machine to go quiet (default 0: don't wait)",
    )
    g = p.add_argument_group("feishu", "Feishu event delivery (--scenario feishu or all)")
    g.add_argument(
        "--delivery",
        type=_choices("webhook", "longconn"),
        default=["webhook", "longconn"],
        help="delivery modes, comma-separated (default webhook,longconn)",
    )
    g.add_argument(
        "--kind",
        type=_choices("message", "read"),
        default=["message", "read"],
        help="user actions, comma-separated: message (a p2p text to the bot -> "
        "im.message.receive_v1) and read (a receipt for a bot message -> "
        "im.message.message_read_v1); default both",
    )
    g.add_argument(
        "--event-rate",
        type=_rates,
        default=[500.0, 2000.0],
        help="latency: actions/s offered (default 500,2000); a comma-separated list runs one each",
    )
    g.add_argument("--event-users", type=int, default=200, help="users acting (default 200)")
    g.add_argument(
        "--event-inflight",
        type=int,
        default=1,
        help="capacity burst: actions in flight per user (default 1)",
    )
    g.add_argument(
        "--max-in-flight",
        type=int,
        default=16,
        help="the bots' max_in_flight: events delivered at once (default 16; the server's "
        "default is 1, strictly in order)",
    )
    g.add_argument(
        "--burst",
        type=float,
        default=8.0,
        help="capacity: seconds of closed-loop actions that pile up the backlog whose "
        "delivery is timed (default 8)",
    )
    g.add_argument(
        "--expected-event-rate",
        type=float,
        default=6000.0,
        help="capacity burst: actions/s to seed bot messages for (read; default 6000)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument(
        "--profile",
        metavar="PATH",
        help="record the server with py-spy during the first throughput window "
        "(collapsed stacks; opens in speedscope) and print the top functions",
    )
    p.add_argument(
        "--server-url", help="use this running server (http://HOST:PORT) instead of starting one"
    )
    p.add_argument(
        "--server-pid", type=int, help="with --server-url: its pid, for memory and CPU figures"
    )
    p.add_argument("--server-config", help="TOML config for the started server")
    p.add_argument("--sdkappid", type=int, default=DEFAULT_SDKAPPID)
    p.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    p.add_argument("--admin", default=DEFAULT_ADMIN)
    p.add_argument(
        "--keep", action="store_true", help="keep the started server's directory (database and log)"
    )
    args = p.parse_args(argv)
    if args.scenario in ("all", "feishu") and args.server_url:
        p.error(
            "the Feishu benchmark starts its own server (it needs its bots configured): "
            "use --scenario tim with --server-url"
        )
    if args.members < 2 or args.groups < 1:
        p.error("need at least 1 group of 2 members")
    if not 1 <= args.batch <= 100 or not 1 <= args.latency_batch <= 100:
        p.error("--batch and --latency-batch must be 1..100 (TIM's limit per call)")
    return args


async def _quiet(args: argparse.Namespace, pid: int | None) -> None:
    if args.wait_quiet > 0:
        waited = await scenarios.wait_quiet(pid, args.wait_quiet)
        if waited > 1.5:
            print(f"  waited {waited:.0f} s for the machine to go quiet", file=sys.stderr)


def _check_machine(warnings: list[str], what: str, usage: dict[str, Any]) -> None:
    other = usage.get("other_load_pct", math.nan)
    if math.isfinite(other) and other > 15:
        warnings.append(
            f"{what}: other processes used {other:.0f}% of a core during the window "
            f"(steal {usage.get('steal_pct', 0):.0f}%): the machine was not quiet, figures "
            f"are lower than they would be"
        )


PROTOCOLS = {"tim": (Conn, "/tim/ws", 5000.0), "sdk": (SdkConn, "/tim/sdk", 2000.0)}


async def run(
    args: argparse.Namespace,
    base_url: str,
    ws_url: str,
    pid: int | None,
    result: dict[str, Any],
    *,
    phase: str = "tim",
) -> None:
    """The receipt benchmarks over one protocol (``phase``: tim = /tim/ws, sdk = Tencent's
    SDK protocol); their figures go in ``result`` (tim) or ``result["sdk"]``."""
    tag = secrets.token_hex(3)
    conn_class, _, default_rate = PROTOCOLS[phase]
    population = pop_mod.Population(
        args.sdkappid,
        args.secret_key,
        ws_url,
        pop_mod.plan(tag, args.groups, args.members),
        conn_class=conn_class,
    )
    all_warnings: list[str] = result["warnings"]
    top = result
    if phase != "tim":
        result = result.setdefault(phase, {"throughput": [], "latency": [], "warnings": []})
    warnings: list[str] = result["warnings"] if phase != "tim" else all_warnings
    wants = (
        {"memory", "throughput", "latency"}
        if args.scenario in ("all", "tim", "sdk", "tim-sdk")
        else {args.scenario}
    )
    rates = args.rate or [default_rate]
    compression = "deflate" if args.compression == "deflate" else None
    try:
        t0 = time.monotonic()
        async with TimRestClient(
            base_url, args.sdkappid, args.secret_key, admin=args.admin
        ) as rest:
            await pop_mod.create(rest, population)
        rest_s = time.monotonic() - t0
        rss_before = await scenarios.settle_rss(pid, 1.0) if pid else None
        connect_s = await pop_mod.connect_all(population, compression=compression)
        n = len(population.conns)
        if pid:
            scenarios.Usage.thread_names = srv.thread_names(pid, prof_mod.py_spy())
        result["setup"] = {"rest_s": rest_s, "connect_s": connect_s, "connections": n}
        print(
            f"setup: {n} users logged in ({rest_s:.1f} s REST, {connect_s:.1f} s connect)",
            file=sys.stderr,
        )
        if pid and rss_before is not None:
            rss_after = await scenarios.settle_rss(pid, 2.0)
            result["memory"] = {
                "connections": n,
                "compression": args.compression,
                "rss_before_kb": rss_before,
                "rss_after_kb": rss_after,
                "per_connection_kb": (rss_after - rss_before) / n,
                "server_threads": srv.thread_count(pid),
            }
        elif "memory" in wants:
            warnings.append("memory not measured: the server pid is unknown (--server-pid)")
        gc.collect()
        gc.freeze()  # setup objects live for the whole run: keep them out of GC passes

        if "throughput" in wants:
            batches = [args.batch] + ([1] if args.batch != 1 else [])
            for i, batch in enumerate(batches):
                expected = EXPECTED_RATE[1] if batch == 1 else EXPECTED_RATE["batch"]
                per_group = args.messages or scenarios.messages_needed(
                    expected, args.warmup + args.duration, population, 1.5
                )
                recorder: prof_mod.Recorder | None = None
                on_window = None
                if args.profile and i == 0 and pid:
                    recorder = prof_mod.Recorder(pid, Path(args.profile))
                    started: list[asyncio.Task[bool]] = []

                    def on_window(
                        duration: float,
                        rec: prof_mod.Recorder = recorder,
                        started: list[asyncio.Task[bool]] = started,
                    ) -> None:
                        started.append(asyncio.ensure_future(rec.start(duration)))

                print(
                    f"throughput k={batch}: seeding {per_group} messages/group, "
                    f"{args.warmup:g} s warm-up, {args.duration:g} s window",
                    file=sys.stderr,
                )
                tp = await scenarios.throughput(
                    population,
                    pid=pid,
                    base_url=base_url,
                    batch=batch,
                    inflight=args.inflight,
                    warmup=args.warmup,
                    duration=args.duration,
                    per_group=per_group,
                    on_window=on_window,
                    before=lambda: _quiet(args, pid),
                )
                result["throughput"].append(tp)
                print(
                    f"  {tp['receipts_per_s']:,.0f} receipts/s, {tp['calls_per_s']:,.0f} "
                    f"calls/s, correctness {'OK' if tp['correctness']['ok'] else 'FAILED'}",
                    file=sys.stderr,
                )
                if tp["readers_exhausted_before_window_end"]:
                    warnings.append(
                        f"throughput k={batch}: {tp['readers_exhausted_before_window_end']} "
                        f"readers ran out of messages before the window ended; the figure is "
                        f"low, raise --messages (was {per_group})"
                    )
                _check_machine(warnings, f"throughput k={batch}", tp)
                if tp["generator_cpu_pct"] > 90:
                    warnings.append(
                        f"throughput k={batch}: the generator used "
                        f"{tp['generator_cpu_pct']:.0f}% of a core: it may be the bottleneck"
                    )
                if recorder is not None:
                    ok = await recorder.wait()
                    info: dict[str, Any] = {
                        "scenario": f"throughput k={batch}",
                        "path": str(recorder.output),
                    }
                    if ok:
                        info |= prof_mod.summarize(recorder.output.read_text())
                    else:
                        info["error"] = recorder.error
                    top["profile"] = info

        for rate in rates if "latency" in wants else []:
            per_group = scenarios.messages_needed(
                rate, args.warmup + args.duration, population, 1.2
            )
            print(
                f"latency: {rate:g} receipts/s offered, seeding {per_group} messages/group",
                file=sys.stderr,
            )
            lat = await scenarios.latency(
                population,
                pid=pid,
                base_url=base_url,
                rate=rate,
                batch=args.latency_batch,
                warmup=args.warmup,
                duration=args.duration,
                per_group=per_group,
                before=lambda: _quiet(args, pid),
            )
            result["latency"].append(lat)
            what = f"latency {rate:g}/s"
            _check_machine(warnings, what, lat)
            p99 = lat["receipt_to_push"]["p99_ms"]
            print(
                f"  achieved {lat['achieved_send_rate']:,.0f}/s, p99 {p99:.1f} ms", file=sys.stderr
            )
            if lat["ran_out_of_messages_at_s"] is not None:
                warnings.append(
                    f"{what}: ran out of seeded messages at {lat['ran_out_of_messages_at_s']:.1f} s"
                )
            elif lat["achieved_send_rate"] < 0.95 * rate:
                warnings.append(
                    f"{what}: only {lat['achieved_send_rate']:,.0f} receipts/s were sent "
                    f"(the generator could not keep the schedule)"
                )
            if not math.isnan(p99) and lat["achieved_push_rate"] < 0.95 * rate:
                warnings.append(
                    f"{what}: pushes came back at {lat['achieved_push_rate']:,.0f}/s, below "
                    f"the offered rate: the server is saturated and latency grows with the "
                    f"backlog"
                )
        closed = [c for c in population.conns.values() if c.closed]
        if closed:
            codes: dict[str, int] = {}
            for c in closed:
                codes[str(c.closed_code)] = codes.get(str(c.closed_code), 0) + 1
            warnings.append(
                f"{len(closed)} connections were closed by the server during "
                f"the run (close codes {codes})"
            )
    finally:
        await pop_mod.close_all(population)
        if phase != "tim":
            all_warnings.extend(f"{phase}: {w}" for w in warnings)


def _source_version() -> str:
    """The commit the server code comes from, and whether server/ or protocol/ differ from it
    (read-only git queries; "" outside a checkout)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "server", "protocol"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + (" (server/ or protocol/ modified)" if dirty else "")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM: clean up (stop the server) as for Ctrl-C


def _phase(phase: str, args: argparse.Namespace, result: dict[str, Any], loop_factory: Any) -> int:
    """Run the TIM or the Feishu benchmarks against a server of their own (or, for TIM, the
    one at --server-url); returns the exit code."""
    server: srv.ServerProcess | None = None
    env: dict[str, Any] = result["environment"].setdefault(phase, {})
    code = 0
    runner = asyncio.Runner(loop_factory=loop_factory)
    try:
        hook: feishu.WebhookReceiver | None = None
        path = PROTOCOLS[phase][1] if phase in PROTOCOLS else "/tim/ws"
        if args.server_url:
            base_url = args.server_url.rstrip("/")
            ws_url = base_url.replace("http", "ws", 1) + path
            pid = args.server_pid
            env["server"] = base_url
        else:
            server = srv.ServerProcess(config=args.server_config, keep_dir=args.keep)
            if phase == "feishu":
                hook = feishu.WebhookReceiver(feishu.ENCRYPT_KEY)
                config = server.dir / "feishu-bench.toml"
                feishu.write_config(config, hook.url, args.max_in_flight)
                server.config = str(config)
                # listening before the server starts: its url_verification challenge waits in
                # the socket's backlog until the loop runs again, and is answered then
                runner.run(hook.start())
            print(f"starting server on {server.base_url} (db {server.db})", file=sys.stderr)
            server.start()
            base_url, pid = server.base_url, server.pid
            ws_url = base_url.replace("http", "ws", 1) + path
            env["server"] = f"python -m server serve on {base_url}"
        env["server_pid"] = pid
        with runner:
            if phase in PROTOCOLS:
                runner.run(run(args, base_url, ws_url, pid, result, phase=phase))
            else:
                assert hook is not None
                if pid:
                    scenarios.Usage.thread_names = srv.thread_names(pid, prof_mod.py_spy())
                runner.run(feishu.run(args, base_url, ws_url, pid, result, hook, args.secret_key))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        result["warnings"].append(f"{phase} benchmark failed: {type(exc).__name__}: {exc}")
        code = 1
        import traceback

        traceback.print_exc()
    finally:
        runner.close()
        if server is not None:
            if server.proc is not None and server.proc.poll() is not None:
                result["warnings"].append(
                    f"the {phase} server exited by itself with code {server.proc.returncode}"
                )
            exit_code = server.stop()
            result.setdefault("server_log_problems", []).extend(server.log_problems())
            env["server_exit_code"] = exit_code
            if args.keep:
                print(f"server files kept in {server.dir}", file=sys.stderr)
            server.cleanup()
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
        loop_name = "uvloop"
    except ImportError:
        loop_factory = None
        loop_name = "asyncio"
    result: dict[str, Any] = {
        "config": {
            k: getattr(args, k)
            for k in (
                "scenario",
                "groups",
                "members",
                "duration",
                "warmup",
                "rate",
                "batch",
                "latency_batch",
                "inflight",
                "messages",
                "compression",
            )
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "generator_pid": os.getpid(),
            "loop": loop_name,
            "source": _source_version(),
        },
        "throughput": [],
        "latency": [],
        "warnings": [],
    }
    code = 0
    phases = []
    if args.scenario not in ("feishu", "sdk"):
        phases.append("tim")
    if args.scenario in ("all", "sdk", "tim-sdk"):
        phases.append("sdk")
    if args.scenario in ("all", "feishu"):
        phases.append("feishu")
    for phase in phases:
        code = _phase(phase, args, result, loop_factory)
        if code:
            break
    print(report.render(result))
    if args.json:
        report.write_json(result, args.json)
        print(f"results written to {args.json}", file=sys.stderr)
    return code

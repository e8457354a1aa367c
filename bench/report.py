"""The summary table printed at the end, and the JSON written with ``--json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in rows), default=0)
    return [f"  {k.ljust(width)}  {v}" for k, v in rows]


def _threads(d: dict[str, Any]) -> str:
    threads = d.get("server_thread_cpu_pct") or {}
    if not threads:
        return ""
    return " (" + ", ".join(f"{k} {v:.0f}%" for k, v in threads.items()) + ")"


def _machine(d: dict[str, Any], cpus: int) -> str:
    return (
        f"{_f(d.get('machine_busy_pct'), 0)}% busy of {cpus * 100}%; other processes "
        f"{_f(d.get('other_load_pct'), 0)}%, steal {_f(d.get('steal_pct'), 0)}%"
    )


def _lat(s: dict[str, Any]) -> str:
    return (
        f"p50 {_f(s['p50_ms'], 2)}  p90 {_f(s['p90_ms'], 2)}  p99 {_f(s['p99_ms'], 2)}  "
        f"max {_f(s['max_ms'], 2)} ms  (n={_f(s['count'])})"
    )


_EVENT = {"message": "im.message.receive_v1", "read": "im.message.message_read_v1"}
_ACTION = {
    "message": "a p2p text to the bot (sendMessage over /tim/ws)",
    "read": "a receipt for a bot message (sendMessageReadReceipts)",
}


def _feishu(result: dict[str, Any], cpus: int) -> list[str]:
    runs = result.get("feishu", [])
    env = result["environment"].get("feishu")
    if not env:
        return []
    out = ["=" * 78]
    out.append(
        "Feishu event delivery: webhook (encrypted + signed) and long connection (pbbp2 + ack); "
        f"server {env.get('server', '?')} (pid {env.get('server_pid') or '?'})"
    )
    out.append("=" * 78)
    for r in runs:
        what = f"{r['delivery']}, {_EVENT[r['kind']]} <- {_ACTION[r['kind']]}"
        if r["scenario"] == "drain":
            out.append(
                f"Delivery capacity: a {_f(r['window_s'], 0)} s burst ({r['users']} users x "
                f"{r['inflight_per_user']} action in flight), then its backlog drained: {what}"
            )
            rows = [
                (
                    "events/s delivered",
                    f"{_f(r['events_per_s'], 0)}  ({_f(r['drained'])} events in "
                    f"{_f(r['drain_s'], 2)} s, nothing else to do)",
                ),
                (
                    "during the burst",
                    f"{_f(r['actions_per_s'], 0)} actions/s accepted, "
                    f"{_f(r['events_during_burst_per_s'], 0)} events/s delivered meanwhile",
                ),
            ]
        else:
            out.append(f"Latency, open loop, {_f(r['rate_offered'], 0)} actions/s: {what}")
            rows = [
                (
                    "achieved",
                    f"{_f(r['achieved_action_rate'], 0)} actions/s, "
                    f"{_f(r['events_per_s'], 0)} events/s arrived",
                ),
                ("action -> arrival", _lat(r["action_to_arrival"])),
                ("  from scheduled time", _lat(r["action_to_arrival_from_schedule"])),
                ("scheduler lag", _lat(r["scheduler_lag"])),
            ]
        rows += [
            ("server CPU", f"{_f(r.get('server_cpu_pct'))}% of one core" + _threads(r)),
            ("generator CPU", f"{_f(r.get('generator_cpu_pct'))}% of one core (+ receiver)"),
            ("machine", _machine(r, cpus)),
            (
                "correctness",
                (
                    "OK"
                    if not (
                        r["missing_events"]
                        or r["duplicate_events"]
                        or r["bad_deliveries"]
                        or r["unmatched_events"]
                        or r["action_errors"]
                    )
                    else "FAILED"
                )
                + f": {_f(r['missing_events'])} missing, {_f(r['duplicate_events'])} duplicate, "
                f"{_f(r['unmatched_events'])} unmatched, {_f(r['bad_deliveries'])} bad "
                f"signature/decryption, action errors {r['action_errors'] or 0}",
            ),
        ]
        out += _table(rows)
    return out


def _ratios(tim: dict[str, Any], sdk: dict[str, Any]) -> list[str]:
    """The SDK protocol's figures as a share of /tim/ws's, measured in the same run."""
    rows = []
    for a in tim.get("throughput", []):
        for b in sdk.get("throughput", []):
            if a["batch"] == b["batch"] and a["receipts_per_s"]:
                rows.append(
                    (
                        f"receipts/s, k={a['batch']}",
                        f"{b['receipts_per_s'] / a['receipts_per_s']:.0%} of /tim/ws "
                        f"({_f(b['receipts_per_s'], 0)} vs {_f(a['receipts_per_s'], 0)})",
                    )
                )
    mem_a, mem_b = tim.get("memory"), sdk.get("memory")
    if mem_a and mem_b:
        rows.append(
            (
                "memory per connection",
                f"{_f(mem_b['per_connection_kb'])} KB vs {_f(mem_a['per_connection_kb'])} KB",
            )
        )
    if not rows:
        return []
    return ["SDK protocol / /tim/ws, side by side in this run", *_table(rows)]


def _receipt_runs(result: dict[str, Any], cfg: dict[str, Any], env: dict[str, Any]) -> list[str]:
    """Setup, memory, throughput and latency of one protocol's receipt runs."""
    out: list[str] = []
    setup = result.get("setup", {})
    if setup:
        out.append("Setup")
        out += _table(
            [
                ("REST accounts + groups", f"{_f(setup.get('rest_s'), 2)} s"),
                (
                    "connect + login all",
                    f"{_f(setup.get('connect_s'), 2)} s "
                    f"({_f(setup.get('connections'))} connections)",
                ),
            ]
        )
    mem = result.get("memory")
    if mem:
        out.append("Memory (server VmRSS)")
        out += _table(
            [
                ("before connections", f"{_f(mem['rss_before_kb'])} KB"),
                (
                    "after connections",
                    f"{_f(mem['rss_after_kb'])} KB  "
                    f"({_f(mem['connections'])} logged in, compression "
                    f"{mem['compression']})",
                ),
                ("per connection", f"{_f(mem['per_connection_kb'], 1)} KB"),
            ]
        )
    for tp in result.get("throughput", []):
        c = tp["correctness"]
        out.append(
            f"Throughput, closed loop, batch k={tp['batch']} msgIDs/call, "
            f"{tp['connections']} connections x {tp['inflight_per_connection']} in flight"
        )
        out += _table(
            [
                (
                    "seeding",
                    f"{tp['seeding']['messages']} messages in "
                    f"{_f(tp['seeding']['seconds'], 2)} s ({_f(tp['seeding']['messages_per_s'])}"
                    f" msg/s, each pushed to {cfg['members'] - 1}); pushes "
                    f"{_f(tp['seeding']['pushes_received'])}/"
                    f"{_f(tp['seeding']['pushes_expected'])}; server CPU "
                    f"{_f(tp['seeding']['server_cpu_pct'])}%",
                ),
                ("receipts/s", f"{_f(tp['receipts_per_s'], 0)}  over {_f(tp['window_s'], 2)} s"),
                ("calls/s", f"{_f(tp['calls_per_s'], 0)}"),
                ("call round trip", _lat(tp["call_rtt"])),
                (
                    "server CPU",
                    f"{_f(tp['server_cpu_pct'])}% of one core, "
                    f"{_f(tp['server_cpu_us_per_receipt'])} us/receipt" + _threads(tp),
                ),
                ("generator CPU", f"{_f(tp['generator_cpu_pct'])}% of one core"),
                ("machine", _machine(tp, env["cpus"])),
                (
                    "group commit",
                    f"{_f(tp['units_per_commit'])} units/commit, "
                    f"{_f(tp['write_units_per_s'], 0)} units/s",
                ),
                (
                    "errors",
                    f"{_f(tp['total_error_calls'])} error replies, "
                    f"{_f(tp['broken_connections'])} broken connections"
                    + (f": {tp['errors']}" if tp["errors"] else ""),
                ),
                (
                    "readers out of work",
                    f"{_f(tp['readers_exhausted_before_window_end'])} before the window ended",
                ),
                (
                    "correctness",
                    ("OK" if c["ok"] else "FAILED")
                    + f": {_f(c['messages_checked'])} messages, {_f(c['count_mismatches'])} count "
                    f"mismatches, {_f(c['messages_with_wrong_pushes'])} with wrong pushes; "
                    f"{_f(tp['push_items_received'])}/{_f(tp['total_ok_receipts'])} push items",
                ),
            ]
        )
        if c["examples"]:
            out += ["    " + e for e in c["examples"]]
    for lat in result.get("latency", []):
        out.append(
            f"Latency, open loop, {_f(lat['rate_offered'], 0)} receipts/s offered, "
            f"k={lat['batch']}: sendMessageReadReceipts -> sender's push"
        )
        out += _table(
            [
                (
                    "achieved",
                    f"{_f(lat['achieved_send_rate'], 0)} receipts/s sent, "
                    f"{_f(lat['achieved_push_rate'], 0)} push items/s received",
                ),
                ("receipt -> push", _lat(lat["receipt_to_push"])),
                ("  from scheduled time", _lat(lat["receipt_to_push_from_schedule"])),
                ("scheduler lag", _lat(lat["scheduler_lag"])),
                ("server CPU", f"{_f(lat.get('server_cpu_pct'))}% of one core" + _threads(lat)),
                ("generator CPU", f"{_f(lat.get('generator_cpu_pct'))}% of one core"),
                ("machine", _machine(lat, env["cpus"])),
                (
                    "missing / unmatched",
                    f"{_f(lat['in_window_missing_pushes'])} pushes missing, "
                    f"{_f(lat['unmatched_push_items'])} unmatched, "
                    f"{_f(lat['error_calls'])} error replies"
                    + (f": {lat['errors']}" if lat["errors"] else ""),
                ),
            ]
        )
    return out


def render(result: dict[str, Any]) -> str:
    out: list[str] = []
    cfg = result["config"]
    env = result["environment"]
    out.append("=" * 78)
    out.append(
        f"generator pid {env['generator_pid']} ({env['loop']}), {env['cpus']} CPUs, "
        f"Python {env['python']}" + (f", code {env['source']}" if env.get("source") else "")
    )
    tim_env = env.get("tim")
    if tim_env:
        out.append("=" * 78)
        out.append(
            f"TIM read-receipt benchmark: {cfg['groups']} Work groups x {cfg['members']} "
            f"members = {cfg['groups'] * cfg['members']} users, one WebSocket each"
        )
        out.append(f"server {tim_env.get('server', '?')} (pid {tim_env.get('server_pid') or '?'})")
        out.append("=" * 78)
    out += _receipt_runs(result, cfg, env)
    sdk_env, sdk = env.get("sdk"), result.get("sdk")
    if sdk_env and sdk:
        out.append("=" * 78)
        out.append(
            f"The same over Tencent's Chat SDK protocol (/tim/sdk/binfo, SDK-shaped frames: "
            f"group_msg_receipt -> Event-5 push): {cfg['groups'] * cfg['members']} sockets"
        )
        out.append(f"server {sdk_env.get('server', '?')} (pid {sdk_env.get('server_pid') or '?'})")
        out.append("=" * 78)
        out += _receipt_runs(sdk, cfg, env)
        out += _ratios(result, sdk)
    out += _feishu(result, env["cpus"])
    prof = result.get("profile")
    if prof:
        out.append(f"Server profile (py-spy, {prof.get('scenario')}): {prof.get('path')}")
        if prof.get("error"):
            out.append(f"  {prof['error']}")
        else:
            out.append(
                f"  {prof['samples']} samples ({prof['waiting_samples_dropped']} of "
                f"threads waiting for work left out); by thread: "
                + ", ".join(f"{k} {v:.0f}%" for k, v in prof["threads"])
            )
            out.append("  top self time:")
            out += [f"    {v:5.1f}%  {k}" for k, v in prof["self"]]
            out.append("  top inclusive time, server code (server/, protocol/):")
            out += [f"    {v:5.1f}%  {k}" for k, v in prof["inclusive_server_code"]]
    warnings = result.get("warnings", [])
    problems = result.get("server_log_problems", [])
    if warnings or problems:
        out.append("Warnings")
        out += [f"  {w}" for w in warnings]
        out += [f"  server log: {p}" for p in problems]
    out.append("=" * 78)
    return "\n".join(out)


def write_json(result: dict[str, Any], path: str) -> None:
    def default(obj: Any) -> Any:
        return str(obj)

    def clean(v: Any) -> Any:  # NaN is not JSON
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    data = msgspec.json.format(msgspec.json.encode(clean(result), enc_hook=default), indent=2)
    Path(path).write_bytes(data + b"\n")

"""``python -m server``: run the server, mint a UserSig, print the WebSocket JSON Schema."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from pathlib import Path

from protocol.tim import usersig
from server import settings as settings_mod


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    try:
        settings = settings_mod.load(
            args.config, host=args.host, port=args.port, db=args.db, log_level=args.log_level
        )
    except settings_mod.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = settings.server
    # The SQLite writer thread and the event loop share the GIL: switch every 1 ms instead of
    # 5 ms so a long write batch cannot hold a push back for more than that (tail latency).
    sys.setswitchinterval(0.001)
    logging.basicConfig(
        level=s.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if s.db != ":memory:":
        Path(s.db).parent.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=s.host,
        port=s.port,
        log_level=s.log_level,
        ws="websockets-sansio",
        ws_max_size=max(s.max_frame_bytes * 4, 1 << 20),
        loop="auto",
        http=s.http,
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    for a in settings.all_apps():
        print(
            f"app {a.sdkappid}: admin {a.admin!r}, flagship {a.flagship}, "
            f"group receipts for {', '.join(a.normalized_group_types()) or 'no group type'}, "
            f"cap {a.receipt_group_cap}"
            + (f", callbacks to {a.callback.url}" if a.callback else ""),
            file=sys.stderr,
        )
    for f in settings.feishu_apps():
        delivery = f"webhook {f.event_url}" if f.event_url else "long connection"
        print(
            f"feishu app {f.app_id} in workspace {f.workspace}: events by {delivery}"
            + (", encrypted" if f.event_url and f.encrypt_key else ""),
            file=sys.stderr,
        )
    print(
        f"TIM REST:      http://{s.host}:{s.port}/v4/<service>/<command>?sdkappid=...\n"
        f"TIM WebSocket: ws://{s.host}:{s.port}/tim/ws\n"
        f"Tencent SDK:   proxyServer: 'ws://{s.host}:{s.port}/tim/sdk'  (@tencentcloud/chat, docs/tim-sdk.md)\n"
        + (
            f"Feishu domain: http://{s.host}:{s.port}  (lark-oapi: .domain(...), no trailing slash)\n"
            if settings.feishu.apps
            else ""
        )
        + f"simulation:    http://{s.host}:{s.port}/sim/v1/...  (docs/simulation.md)\n"
        f"database:      {s.db}",
        file=sys.stderr,
    )
    # What exists now (modules, settings, the app) lives as long as the process: move it out
    # of the collector's generations so that full collections, which stall the event loop,
    # do not walk it again and again.
    gc.collect()
    gc.freeze()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown
        pass
    return 0


def _usersig(args: argparse.Namespace) -> int:
    try:
        settings = settings_mod.load(args.config)
    except settings_mod.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    apps = {a.sdkappid: a for a in settings.all_apps()}
    app = apps.get(args.sdkappid)
    if app is None:
        print(f"error: no app {args.sdkappid} is configured", file=sys.stderr)
        return 2
    print(
        usersig.gen_usersig(
            app.sdkappid, app.secret_key, args.user, expire=args.expire, now=int(time.time())
        )
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    from protocol.tim.ws import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--db", help="SQLite file (default data/im.sqlite3)")
    serve.add_argument("--config", help="TOML config file (see docs/configuration.md)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)
    sig = sub.add_parser("usersig", help="mint a UserSig with a configured app's key")
    sig.add_argument("user")
    sig.add_argument("--sdkappid", type=int, default=settings_mod.DEFAULT_SDKAPPID)
    sig.add_argument("--expire", type=int, default=180 * 86400, help="seconds (default 180 days)")
    sig.add_argument("--config")
    sig.set_defaults(func=_usersig)
    schema = sub.add_parser("schema", help="print the JSON Schema of the TIM WebSocket frames")
    schema.set_defaults(func=_schema)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

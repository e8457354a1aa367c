"""``python -m server``: run the server, mint a UserSig, print the WebSocket JSON Schema."""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import re
import socket
import sys
import time
from importlib import metadata

import msgspec

from protocol.tim import usersig
from server import settings as settings_mod
from server.store import lock


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
    for warning in settings.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    s = settings.server
    # The SQLite writer thread and the event loop share the GIL: switch every 1 ms instead of
    # 5 ms so a long write batch cannot hold a push back for more than that (tail latency).
    sys.setswitchinterval(0.001)
    _configure_logging(s.log_level)
    try:  # before migrating and before "ready": a port in use is one line, not a traceback
        sock = _listen(s.host, s.port)
    except OSError as exc:
        hint = (
            "; is another server running? Pick another --port, or --port 0 for a free one"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        print(f"error: cannot listen on {s.host}:{s.port}: {exc.strerror}{hint}", file=sys.stderr)
        return 2
    if s.db != ":memory:":
        try:  # held until the process ends: a second server on this file refuses to start
            lock.hold(s.db)
        except lock.DatabaseUnusable as exc:
            print(f"error: {exc}", file=sys.stderr)
            sock.close()
            return 2
    if s.port == 0:  # the banner, the log and the app name the port actually bound
        real = sock.getsockname()[1]
        s = msgspec.structs.replace(s, port=real)
        settings = msgspec.structs.replace(settings, server=s)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level=s.log_level,
        ws="websockets-sansio",
        ws_max_size=max(s.max_frame_bytes * 4, 1 << 20),
        loop="auto",
        http=s.http,
        lifespan="on",
        access_log=False,
    )
    # uvicorn logs every WebSocket path with its query on its own logger and handler
    logging.getLogger("uvicorn.error").addFilter(_RedactSecrets())
    server = _server_class()(config)
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
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after a clean shutdown
        pass
    return 0


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, which logs where it listens even when given the socket."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and sockets:
                host, port = sockets[0].getsockname()[:2]
                # uvicorn's own wording: tools (and our tests) wait for this line
                logging.getLogger("uvicorn.error").info(
                    "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port
                )

    return Server


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (as uvicorn would bind it). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


_SECRET_PARAM = re.compile(r"((?:access_key|ticket|usersig|userSig)=)([^&\s\"]{6})[^&\s\"]*")


class _RedactSecrets(logging.Filter):
    """Shortens credentials in logged URLs (uvicorn logs every WebSocket path with its query,
    and the long connection's carries ``access_key`` and ``ticket``) to their first 6
    characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PARAM.sub(r"\1\2…", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _SECRET_PARAM.sub(r"\1\2…", record.msg)
        return True


# Our loggers follow --log-level; libraries' own (aiosqlite logs every statement at debug,
# websockets every frame) stay at info however verbose ours are.
_OWN_LOGGERS = ("server", "protocol", "clients", "uvicorn")


def _configure_logging(level_name: str) -> None:
    level = logging.getLevelName(level_name.upper())
    logging.basicConfig(
        level=max(level, logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in _OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_RedactSecrets())


def _version() -> str:
    try:
        return metadata.version("imreceipts")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


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
    parser.add_argument("--version", action="version", version=f"imreceipts {_version()}")
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

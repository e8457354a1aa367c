"""Server settings: one frozen object built from the defaults, a TOML file and the command line.

The embedded default workspace uses Tencent's published sample credentials (SDKAppID
1400000000 and the key from tls-sig-api-v2's README), so any UserSig that tls-sig-api-v2 mints
with that key is accepted out of the box. docs/configuration.md documents every key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec
import msgspec.inspect

DEFAULT_SDKAPPID = 1400000000
DEFAULT_SECRET_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
DEFAULT_ADMIN = "administrator"

CALLBACK_COMMANDS = (
    "Group.CallbackAfterSendMsg",
    "C2C.CallbackAfterSendMsg",
    "Group.CallbackAfterReadReceipt",
    "C2C.CallbackAfterMsgReport",
)

GROUP_TYPE_ALIASES = {
    "work": "Work",
    "private": "Work",
    "public": "Public",
    "meeting": "Meeting",
    "chatroom": "Meeting",
    "avchatroom": "AVChatRoom",
    "community": "Community",
}


class CallbackSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where TIM callbacks (webhooks) of one app go."""

    url: str
    token: str = ""  # webhook authentication: adds Sign and RequestTime when set
    timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0  # TIM's is 2 s
    # Retries (at-least-once): first after retry_initial s, doubling up to retry_max s, for at most
    # give_up_after s since the event; then the event is logged as given up and skipped.
    retry_initial: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    retry_max: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    give_up_after: Annotated[float, msgspec.Meta(gt=0)] = 86_400.0
    commands: list[str] | None = None  # None: all four; else only these CallbackCommands


class AppSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One TIM app (a workspace)."""

    sdkappid: Annotated[int, msgspec.Meta(ge=1, le=2**32 - 1)]
    secret_key: Annotated[str, msgspec.Meta(min_length=1)]
    admin: str = DEFAULT_ADMIN
    flagship: bool = True
    receipt_group_types: list[str] = msgspec.field(
        default_factory=lambda: ["Work", "Public", "Meeting"]
    )
    receipt_group_cap: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 200
    users: list[str] = msgspec.field(default_factory=list)  # accounts created at start
    callback: CallbackSettings | None = None

    def check(self) -> None:
        """Raise ValueError naming the first invalid value."""
        self.normalized_group_types()
        if self.callback is not None and self.callback.commands is not None:
            unknown = sorted(set(self.callback.commands) - set(CALLBACK_COMMANDS))
            if unknown:
                raise ValueError(
                    f"unknown callback command(s) {', '.join(unknown)} in apps.callback.commands of "
                    f"app {self.sdkappid}; known: {', '.join(CALLBACK_COMMANDS)}"
                )

    def normalized_group_types(self) -> list[str]:
        out = []
        for name in self.receipt_group_types:
            canonical = GROUP_TYPE_ALIASES.get(name.lower())
            if canonical is None:
                raise ValueError(
                    f"unknown group type {name!r} in receipt_group_types of app {self.sdkappid}; "
                    f"use Work, Public, Meeting (AVChatRoom and Community never keep receipts)"
                )
            out.append(canonical)
        return out


class ServerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    db: str = "data/im.sqlite3"
    synchronous: str = "NORMAL"  # SQLite synchronous: NORMAL survives kill -9; FULL also power loss
    log_level: str = "info"
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 64 * 1024  # larger WS frames: error
    session_queue: Annotated[int, msgspec.Meta(ge=1)] = (
        1000  # pushes queued per session before cut-off
    )
    login_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0  # seconds to send the login frame
    # uvicorn's HTTP parser. "h11" keeps response header names as written (Feishu's SDK looks up
    # "X-Tt-Logid" case-sensitively); "httptools" is faster but lowercases them.
    http: Literal["h11", "httptools"] = "h11"
    # Retention of delivered events and of delivery attempts: kept for retention_days, and at
    # most retention_rows per app (events) or per channel (attempts); pruned every
    # prune_interval seconds in the background. Undelivered events are always kept.
    retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7.0
    retention_rows: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    prune_interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0


SCOPE_USER_ID = "contact:user.employee_id:readonly"  # user_id fields appear in ids
SCOPE_GROUP_MSG = "im:message.group_msg"  # the bot receives every group message, not only @s
DEFAULT_FEISHU_SCOPES = ("im:message", SCOPE_USER_ID)


FEISHU_EVENT_TYPES: Final = (
    "im.message.receive_v1",
    "im.message.message_read_v1",
    "im.message.reaction.created_v1",
    "im.message.reaction.deleted_v1",
)
"""The events the server emits; an app subscribes to all of them unless it says otherwise."""


FEISHU_APP_ID: Final = re.compile(r"cli_[0-9a-f]{16}")
"""The shape of a Feishu app id (the vendor's, and the one its Node SDK insists on)."""


class FeishuAppSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One Feishu/Lark app with a bot, living in a workspace (a TIM app)."""

    app_id: Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[!-~]+$")]
    app_secret: Annotated[str, msgspec.Meta(min_length=1)]
    encrypt_key: str = ""  # set: webhook bodies are AES-256-CBC encrypted and signed
    verification_token: str = ""  # set: sent as header.token in events
    event_url: str | None = None  # webhook URL; None: events go over the long connection
    workspace: int = DEFAULT_SDKAPPID  # the SDKAppID of the workspace the bot lives in
    name: str = ""  # the bot's display name (default: the app id)
    bot_enabled: bool = True  # False: APIs answer 230006 "Bot ability is not activated"
    scopes: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_FEISHU_SCOPES))
    reach: list[str] | None = None  # users the bot may reach (its availability); None: everyone
    timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 3.0  # webhook answer timeout, s
    retry_initial: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    retry_max: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    give_up_after: Annotated[float, msgspec.Meta(gt=0)] = 86_400.0
    ping_interval: Annotated[int, msgspec.Meta(ge=1)] = 120  # long connection ClientConfig, s
    reconnect_interval: Annotated[int, msgspec.Meta(ge=1)] = 120
    reconnect_nonce: Annotated[int, msgspec.Meta(ge=0)] = 30
    # the events the app subscribes to (the console's "Add events"); others are never sent
    events: list[str] = msgspec.field(default_factory=lambda: list(FEISHU_EVENT_TYPES))
    # events delivered at once (webhook POSTs or long-connection pushes awaiting their ack);
    # 1 keeps them strictly in order
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def subscribes(self, event_type: str) -> bool:
        return event_type in self.events


class FeishuSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    apps: list[FeishuAppSettings] = msgspec.field(default_factory=list)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    server: ServerSettings = ServerSettings()
    apps: list[AppSettings] = msgspec.field(default_factory=list)
    default_app: bool = True  # keep the embedded sample workspace beside the configured apps
    feishu: FeishuSettings = FeishuSettings()

    def feishu_apps(self) -> list[FeishuAppSettings]:
        """Configured Feishu apps, each checked to live in a configured workspace."""
        workspaces = {a.sdkappid for a in self.all_apps()}
        seen: set[str] = set()
        for f in self.feishu.apps:
            unknown = sorted(set(f.events) - set(FEISHU_EVENT_TYPES))
            if unknown:
                raise ValueError(
                    f"feishu app {f.app_id!r} subscribes to {', '.join(map(repr, unknown))}: "
                    f"not an event this server sends (it sends {', '.join(FEISHU_EVENT_TYPES)})"
                )
            if f.app_id in seen:
                raise ValueError(f"feishu app {f.app_id!r} is configured twice")
            seen.add(f.app_id)
            if f.workspace not in workspaces:
                raise ValueError(
                    f"feishu app {f.app_id!r} lives in workspace {f.workspace}, which is not an "
                    f"[[apps]] entry (known: {', '.join(map(str, sorted(workspaces)))})"
                )
        return list(self.feishu.apps)

    def warnings(self) -> list[str]:
        """What is allowed but likely to bite: each a line to print at start-up."""
        out = []
        for f in self.feishu.apps:
            if not FEISHU_APP_ID.fullmatch(f.app_id):
                out.append(
                    f"feishu app id {f.app_id!r} is not shaped like Feishu's (cli_ and 16 hex "
                    "digits, e.g. cli_a1b2c3d4e5f60718): Feishu's Node SDK WSClient refuses "
                    "such an id ('invalid appId') and never connects"
                )
        return out

    def all_apps(self) -> list[AppSettings]:
        """Configured apps, plus the embedded default unless disabled or overridden."""
        apps = list(self.apps)
        if self.default_app and all(a.sdkappid != DEFAULT_SDKAPPID for a in apps):
            apps.insert(0, default_app())
        seen: set[int] = set()
        for a in apps:
            if a.sdkappid in seen:
                raise ValueError(f"app {a.sdkappid} is configured twice")
            seen.add(a.sdkappid)
            a.check()
        if not apps:
            raise ValueError("no app is configured (default_app = false and no [[apps]])")
        return apps


def default_app() -> AppSettings:
    return AppSettings(sdkappid=DEFAULT_SDKAPPID, secret_key=DEFAULT_SECRET_KEY)


class ConfigError(ValueError):
    """The config file is unreadable or invalid; the message says where."""


def _unknown_keys(value: object, t: msgspec.inspect.Type, where: str = "") -> list[str]:
    """Every key of ``value`` (decoded TOML) that ``t`` has no field for, with where it is and
    the keys that would be known there: all of them at once, not only the first."""
    if isinstance(t, msgspec.inspect.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in t.fields}
        out: list[str] = []
        for key, item in value.items():
            at = f"{where}.{key}" if where else key
            if key in fields:
                out += _unknown_keys(item, fields[key], at)
            else:
                out.append(f"{at} (known {'in ' + where if where else 'at the top'}: "
                           f"{', '.join(fields)})")  # fmt: skip
        return out
    if isinstance(t, msgspec.inspect.ListType) and isinstance(value, list):
        return [
            k
            for i, item in enumerate(value)
            for k in _unknown_keys(item, t.item_type, f"{where}[{i}]")
        ]
    if isinstance(t, msgspec.inspect.UnionType):
        structs = [x for x in t.types if isinstance(x, msgspec.inspect.StructType)]
        return _unknown_keys(value, structs[0], where) if structs else []
    return []


def load(path: str | Path | None = None, **overrides: object) -> Settings:
    """Settings from the defaults, then ``path`` (TOML), then ``overrides`` for [server] keys
    (those given as None are ignored). Raises ConfigError with the offending key."""
    settings = Settings()
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            unknown = _unknown_keys(msgspec.toml.decode(raw), msgspec.inspect.type_info(Settings))
        except msgspec.DecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        if unknown:
            raise ConfigError(f"{path}: unknown keys (check their spelling): {'; '.join(unknown)}")
        try:
            settings = msgspec.toml.decode(raw, type=Settings)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except msgspec.DecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    server_overrides = {k: v for k, v in overrides.items() if v is not None}
    if server_overrides:
        settings = msgspec.structs.replace(
            settings, server=msgspec.structs.replace(settings.server, **server_overrides)
        )
    try:
        settings.all_apps()
        settings.feishu_apps()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return settings

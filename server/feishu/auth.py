"""Access tokens and rate limits of the open-apis.

Tokens are stateless, so they stay valid for their whole lifetime across server restarts (the
Python SDK never refreshes a token early, even on 99991663): a token is its kind's prefix
(``t-`` tenant, ``a-`` app), the issue time, a tag naming the app and an HMAC of them keyed with
the app's secret. The issue time is rounded down to 30 minutes, so the same token is handed out
again within a window; it lives 2 hours from then, so ``expire`` is always 5400..7200 s (the
SDK caches for ``expire - 600`` s). Changing an app's secret revokes its tokens.

Rate limits are token buckets on the injected clock, per app and API: 50 calls a second and
1000 a minute, as Feishu documents for the im/v1 APIs; a call over either answers HTTP 429 with
``x-ogw-ratelimit-limit``/``x-ogw-ratelimit-reset`` and code 99991400.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from protocol.feishu import errors as E
from server.core.clock import Clock
from server.feishu.errors import FeishuError
from server.settings import FeishuAppSettings

WINDOW_S: Final = 1800  # a token is re-issued unchanged within one window
LIFETIME_S: Final = 7200  # from the start of its window

Kind = Literal["tenant", "app"]
_PREFIX: Final[dict[Kind, str]] = {"tenant": "t-", "app": "a-"}


def _tag(app_id: str) -> str:
    return hashlib.sha256(f"app:{app_id}".encode()).hexdigest()[:8]


def _mac(app: FeishuAppSettings, kind: Kind, start: int) -> str:
    text = f"{kind}:{app.app_id}:{start}".encode()
    return hmac.new(app.app_secret.encode(), text, hashlib.sha256).hexdigest()[:24]


class Tokens:
    """Issues and checks ``tenant_access_token`` / ``app_access_token`` values."""

    def __init__(self, apps: Iterable[FeishuAppSettings], clock: Clock) -> None:
        self.apps = {a.app_id: a for a in apps}
        self.clock = clock
        self._by_tag: dict[str, list[FeishuAppSettings]] = {}
        for app in self.apps.values():
            self._by_tag.setdefault(_tag(app.app_id), []).append(app)

    def app(self, app_id: str, app_secret: str) -> FeishuAppSettings:
        """The app these credentials name. Raises FeishuError 10003 (unknown app) or 10014."""
        app = self.apps.get(app_id)
        if app is None:
            raise FeishuError(E.AUTH_INVALID_PARAM, f"invalid param: app_id {app_id!r} not found")
        if not hmac.compare_digest(app.app_secret.encode(), app_secret.encode()):
            raise FeishuError(E.AUTH_APP_SECRET_INVALID, f"app secret invalid for {app_id!r}")
        return app

    def issue(self, app: FeishuAppSettings, kind: Kind) -> tuple[str, int]:
        """``(token, expire)``: the token of the current window and its seconds left."""
        now = self.clock.now_ms() // 1000
        start = now - now % WINDOW_S
        token = f"{_PREFIX[kind]}g{start:08x}{_tag(app.app_id)}{_mac(app, kind, start)}"
        return token, start + LIFETIME_S - now

    def check(self, token: str, kind: Kind = "tenant") -> FeishuAppSettings | None:
        """The app ``token`` was issued to, if it is a live token of ``kind``."""
        prefix = _PREFIX[kind] + "g"
        if not token.startswith(prefix) or len(token) != len(prefix) + 40:
            return None
        body = token[len(prefix) :]
        try:
            start = int(body[:8], 16)
        except ValueError:
            return None
        now = self.clock.now_ms() // 1000
        if not start <= now < start + LIFETIME_S:
            return None
        for app in self._by_tag.get(body[8:16], ()):
            if hmac.compare_digest(body[16:], _mac(app, kind, start)):
                return app
        return None

    def bearer(self, authorization: str | None) -> FeishuAppSettings:
        """The app of an ``Authorization: Bearer <tenant_access_token>`` header.

        Raises FeishuError 99991661 (no token) or 99991663 (unknown, forged or expired)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise FeishuError(
                E.TOKEN_MISSING,
                "Missing access token for authorization. Please make a request with token attached.",
            )
        app = self.check(token)
        if app is None:
            raise FeishuError(
                E.TOKEN_INVALID,
                f"Invalid access token for authorization. Please make a request with token "
                f"attached: {token[:12]}... is not a live tenant_access_token",
            )
        return app


@dataclass
class Bucket:
    """``capacity`` calls at once, refilled at ``capacity`` per ``period_ms``."""

    capacity: int
    period_ms: int
    tokens: float = field(init=False)
    at_ms: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    def refill(self, now_ms: int) -> None:
        if self.at_ms is not None and now_ms > self.at_ms:
            self.tokens = min(
                self.capacity, self.tokens + (now_ms - self.at_ms) * self.capacity / self.period_ms
            )
        self.at_ms = now_ms if self.at_ms is None else max(self.at_ms, now_ms)

    def wait_s(self) -> int:
        """Whole seconds until the next call is allowed (at least 1)."""
        return max(1, math.ceil((1 - self.tokens) * self.period_ms / self.capacity / 1000))


class RateLimits:
    """Per (app, API): 50 calls a second and 1000 a minute."""

    def __init__(
        self, clock: Clock, limits: tuple[tuple[int, int], ...] = ((50, 1000), (1000, 60_000))
    ) -> None:
        self.clock = clock
        self.limits = limits
        self._buckets: dict[tuple[str, str], list[Bucket]] = {}

    def take(self, app_id: str, api: str) -> None:
        """Count one call. Raises FeishuError 99991400 (HTTP 429) when over a limit."""
        buckets = self._buckets.get((app_id, api))
        if buckets is None:
            buckets = [Bucket(n, ms) for n, ms in self.limits]
            self._buckets[(app_id, api)] = buckets
        now = self.clock.now_ms()
        for bucket in buckets:
            bucket.refill(now)
        for bucket in buckets:
            if bucket.tokens < 1:
                raise FeishuError(
                    E.RATE_LIMITED,
                    f"request trigger frequency limit: {api} allows {bucket.capacity} calls "
                    f"per {bucket.period_ms // 1000} s per app",
                    status=429,
                    headers={
                        "x-ogw-ratelimit-limit": str(bucket.capacity),
                        "x-ogw-ratelimit-reset": str(bucket.wait_s()),
                    },
                )
        for bucket in buckets:
            bucket.tokens -= 1

"""The outbox channel of an app in long-connection mode: ``feishu-ws:<app_id>``.

It renders an outbox event for its app, pushes each body to the newest connected client of the
app (``longconn.LongConnHub``) and waits for the ack: 200 is delivered; 500 (the handler raised,
or none is registered), no ack in time, or no client at all is a failure that the outbox retries
with the app's backoff. With no client connected an attempt holds the event until one connects
(at most :data:`HOLD` seconds), and the next attempt follows at once: delivery resumes as soon as
a client is back rather than after a long backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from server.core.events import StoredEvent
from server.feishu.events import RENDERED_TYPES
from server.outbox import Outcome, RetryPolicy
from server.settings import FeishuAppSettings

if TYPE_CHECKING:
    from server.feishu.longconn import LongConnHub

ACK_TIMEOUT: Final = 5.0
"""Seconds a pushed event waits for its ack before the attempt counts as failed."""
HOLD: Final = 10.0
"""Seconds a delivery attempt waits for a client of the app to connect before it fails."""
AFTER_HOLD: Final = 0.01
"""Seconds before the attempt after one that waited the whole hold (not the backoff)."""

Render = Callable[[FeishuAppSettings, StoredEvent], Awaitable[list[bytes]]]


class LongConnChannel:
    """The outbox channel of one app in long-connection mode (``feishu-ws:<app_id>``)."""

    def __init__(
        self,
        hub: LongConnHub,
        feishu_app: FeishuAppSettings,
        render: Render,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        hold: float = HOLD,
    ) -> None:
        self.hub = hub
        self.feishu_app = feishu_app
        self.render = render
        self.ack_timeout = ack_timeout
        self.hold = hold
        self._policy = RetryPolicy(
            feishu_app.retry_initial, feishu_app.retry_max, feishu_app.give_up_after
        )
        self.window = feishu_app.max_in_flight
        self._acked: dict[int, set[int]] = {}  # by outbox id: the bodies its client acked

    @property
    def name(self) -> str:
        return f"feishu-ws:{self.feishu_app.app_id}"

    @property
    def app(self) -> int | None:
        return self.feishu_app.workspace

    @property
    def types(self) -> tuple[str, ...]:
        return RENDERED_TYPES  # only what can become a Feishu event is read

    @property
    def retry(self) -> RetryPolicy:
        return self._policy

    async def deliver(self, event: StoredEvent) -> Outcome | None:
        """Push every body the app receives for ``event``; ok once each was acked 200.

        A redelivery skips the bodies already acked (the event ids inside are the same)."""
        bodies = await self.render(self.feishu_app, event)
        if not bodies:
            return None
        if len(self._acked) >= 1024 and event.id not in self._acked:  # given up since
            del self._acked[next(iter(self._acked))]
        acked = self._acked.setdefault(event.id, set())
        detail = "already acked"
        for index, body in enumerate(bodies):
            if index in acked:
                continue
            connection = await self.hub.client(self.feishu_app.app_id, self.hold)
            if connection is None:
                # this attempt already waited `hold` s for a client: the next one follows at once
                return Outcome(
                    False,
                    None,
                    f"no long-connection client of app {self.feishu_app.app_id!r} "
                    f"(waited {self.hold:g} s)",
                    retry_after=AFTER_HOLD,
                )
            ack = await connection.push(body, self.ack_timeout)
            if len(bodies) > 1:
                detail = f"event {index + 1}/{len(bodies)}: {ack.detail}"
            else:
                detail = ack.detail
            if ack.code != 200:
                return Outcome(False, ack.code, detail)
            acked.add(index)
        del self._acked[event.id]
        return Outcome(True, 200, detail)

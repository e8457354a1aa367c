"""The Feishu dialect, assembled: routes, WebSocket endpoints and outbox channels."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from protocol.feishu import ids
from protocol.feishu.ids import FeishuIds
from server.core.clock import Clock
from server.core.directory import NewAccount
from server.core.service import Core
from server.feishu import inspect, longconn, rest
from server.feishu.events import EventRenderer
from server.feishu.identity import Identity
from server.feishu.webhook import WebhookChannel
from server.outbox import Channel
from server.settings import FeishuAppSettings, Settings

log = logging.getLogger("server.feishu")


class FeishuDialect:
    def __init__(self, settings: Settings, core: Core, clock: Clock) -> None:
        self.settings = settings
        self.core = core
        self.clock = clock
        self.apps: dict[str, FeishuAppSettings] = {a.app_id: a for a in settings.feishu_apps()}
        self.http: aiohttp.ClientSession | None = None
        self.identity = Identity(core)
        self.renderer = EventRenderer(self)
        self.webhooks: dict[str, WebhookChannel] = {}  # app_id -> its channel, once built
        self.instance = ""  # the database's random id, which event ids derive from (start)
        self._ids: FeishuIds | None = None

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Create each bot's account in its workspace (the bot is an account named by app id)."""
        self.http = http
        self.instance = await self.core.event_log.instance()
        self._ids = FeishuIds(self.instance)
        for app in self.apps.values():
            await self.core.directory.import_accounts(
                app.workspace, [NewAccount(app.app_id, app.name or app.app_id)]
            )

    async def stop(self) -> None:
        pass

    @property
    def ids(self) -> FeishuIds:
        """The database's ``om_``/``oc_``/``rc_`` ids (from :meth:`start` on)."""
        if self._ids is None:
            raise RuntimeError("FeishuDialect.ids is known from start() on")
        return self._ids

    def event_id(self, app: FeishuAppSettings, outbox_id: int) -> str:
        """``header.event_id`` of an outbox event as ``app`` receives it."""
        return ids.event_id(outbox_id, app.app_id, self.instance)

    def routes(self) -> list[BaseRoute]:
        """HTTP routes (``/open-apis/...``, ``/callback/ws/endpoint``, inspection)."""
        return [*rest.routes(self), *longconn.routes(self), *inspect.routes(self)]

    def websockets(self) -> dict[str, ASGIApp]:
        """Raw ASGI WebSocket endpoints by path (the long connection)."""
        return longconn.websockets(self)

    def channels(self) -> list[Channel]:
        """One outbox channel per app: its webhook, or its long connection.

        Called once, after :meth:`start`, in the running loop: each webhook channel sends its
        url_verification challenge in the background as it is built."""
        assert self.http is not None, "start() first"
        out: list[Channel] = []
        for app in self.apps.values():
            if app.event_url is not None:
                channel = WebhookChannel(
                    app, self.renderer, self.http, self.clock, self.core.event_log
                )
                channel.start_verification()
                self.webhooks[app.app_id] = channel
                out.append(channel)
        out.extend(longconn.channels(self))  # long connection: apps without event_url (longconn.py)
        return out

    def stats(self) -> dict[str, Any]:
        # the database's random id: om_/oc_ ids and event ids derive from it (FeishuIds), so a
        # test or benchmark that must predict them can, and two databases are told apart
        return {"feishu_apps": len(self.apps), "instance": self.instance}

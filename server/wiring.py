"""The one place where the parts are built and connected (dependencies by constructor)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from server.core.clock import Clock
from server.core.directory import NewAccount
from server.core.model import GroupType
from server.core.policy import AppPolicy
from server.core.service import Core
from server.fanout import Fanout
from server.feishu.dialect import FeishuDialect
from server.outbox import Consumer, Outbox
from server.retention import Retention
from server.settings import Settings
from server.store.db import Database
from server.store.store import Store
from server.tim.auth import TimApps
from server.tim.callbacks import TimCallbackChannel
from server.tim.push import TimPush
from server.tim.rest import TimRest
from server.tim.sdk_push import SdkPush
from server.tim.sdk_session import SdkSessions
from server.tim.session import TimSessions

log = logging.getLogger("server")


def policies(settings: Settings) -> dict[int, AppPolicy]:
    return {
        a.sdkappid: AppPolicy(
            app=a.sdkappid,
            flagship=a.flagship,
            receipt_group_types=frozenset(GroupType(t) for t in a.normalized_group_types()),
            receipt_group_cap=a.receipt_group_cap,
            admins=frozenset({a.admin}),
        )
        for a in settings.all_apps()
    }


class Wiring:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.apps = {a.sdkappid: a for a in settings.all_apps()}
        self.db = Database(settings.server.db, synchronous=settings.server.synchronous)
        self.store = Store(self.db)
        self.core = Core(self.store, clock, policies(settings))
        self.fanout = Fanout()  # /tim/ws sessions
        self.sdk_fanout = Fanout()  # Tencent Chat SDK sessions (/tim/sdk)
        self.outbox = Outbox()
        self.core.listeners.add(TimPush(self.fanout))
        self.core.listeners.add(SdkPush(self.sdk_fanout))
        self.core.listeners.add(self.outbox)
        tim_apps = TimApps(self.apps, clock)
        self.tim_rest = TimRest(self.core, tim_apps)
        self.tim_ws = TimSessions(self.core, tim_apps, self.fanout, settings.server)
        self.tim_sdk = SdkSessions(self.core, tim_apps, self.sdk_fanout, settings.server)
        self.feishu = FeishuDialect(settings, self.core, clock)
        self.http: aiohttp.ClientSession | None = None
        self.retention = Retention(self.core.event_log, settings.server)

    async def start(self) -> None:
        await self.db.open()
        for app in self.apps.values():
            accounts = [NewAccount(app.admin)] + [NewAccount(u) for u in app.users]
            await self.core.directory.import_accounts(app.sdkappid, accounts)
        # No pool-wide limit (aiohttp's default is 100 connections): each channel has at most
        # its window of requests open, so receivers that hang cannot starve the others.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        await self.feishu.start(self.http)
        for channel in self.feishu.channels():
            self.outbox.add(Consumer(channel, self.store.events, self.clock))
        for app in self.apps.values():
            if app.callback is not None:
                channel = TimCallbackChannel(app, app.callback, self.http, self.clock)
                self.outbox.add(Consumer(channel, self.store.events, self.clock))
        await self.outbox.start()
        self.retention.start()
        log.info(
            "ready: apps %s, database %s",
            ", ".join(str(a) for a in self.apps),
            self.settings.server.db,
        )

    async def stop(self) -> None:
        await self.retention.stop()
        await self.outbox.stop()
        await self.feishu.stop()
        if self.http is not None:
            await self.http.close()
        await self.db.close()

    def stats(self) -> dict[str, Any]:
        return {
            "ok": True,
            "online_sessions": self.fanout.online() + self.sdk_fanout.online(),
            "online_sdk_sessions": self.sdk_fanout.online(),
            "write_batches": self.db.batches,
            "write_units": self.db.units,
            **self.feishu.stats(),
            "outbox": self.outbox.stats(),
        }

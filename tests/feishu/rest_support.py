"""The Feishu REST tests' harness: a real server with Feishu apps, the official lark-oapi
``Client`` pointed at it (only the domain changed), and shortcuts for the typed calls.

The SDK is blocking, so every call runs in a worker thread (``asyncio.to_thread``), never on the
loop the server runs on. Its token cache is process-wide and keyed by app id: each test's apps
get fresh app ids (:func:`app_id`), and :meth:`Env.forget_token` drops a cached token when a test
moves the server's clock past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lark_oapi as lark
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    CreateMessageResponse,
    ReadUsersMessageRequest,
    ReadUsersMessageResponse,
)
from lark_oapi.core.token.manager import TokenManager

from clients.tim_rest import TimRestClient
from server.core.clock import Clock
from server.settings import DEFAULT_SDKAPPID, AppSettings, FeishuAppSettings
from tests.harness import Running, running_server

WORKSPACE = DEFAULT_SDKAPPID
OTHER_WORKSPACE = 1400000001
OTHER_KEY = "1" * 64
T = TypeVar("T")

_serial = itertools.count()


def app_id(name: str = "bot") -> str:
    """A fresh app id (the SDK caches tokens per app id for the whole process)."""
    return f"cli_{name}_{os.getpid()}_{next(_serial)}"[:32]


def app(name: str = "bot", **settings: Any) -> FeishuAppSettings:
    new = app_id(name)
    return FeishuAppSettings(app_id=new, app_secret=f"secret-of-{new}", **settings)


def text(value: str) -> str:
    return json.dumps({"text": value})


@dataclass
class Env:
    srv: Running
    apps: list[FeishuAppSettings]
    admin: TimRestClient
    clients: dict[str, lark.Client] = field(default_factory=dict)

    @property
    def bot(self) -> FeishuAppSettings:
        """The first app."""
        return self.apps[0]

    def client(self, app: FeishuAppSettings | None = None) -> lark.Client:
        app = app or self.bot
        if app.app_id not in self.clients:
            self.clients[app.app_id] = (
                lark.Client.builder()
                .app_id(app.app_id)
                .app_secret(app.app_secret)
                .domain(self.srv.base_url)
                .log_level(lark.LogLevel.CRITICAL)
                .build()
            )
        return self.clients[app.app_id]

    @staticmethod
    async def call(fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking SDK call in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    @staticmethod
    def forget_token(app: FeishuAppSettings) -> None:
        """Drop the SDK's cached tokens of ``app``."""
        for kind in ("self_tenant_token", "self_app_token"):
            TokenManager.cache.set(f"{kind}:{app.app_id}", "", 0)

    def open_id(self, user: str, app: FeishuAppSettings | None = None) -> str:
        return self.srv.wiring.feishu.identity.ids_of(app or self.bot, user).open_id

    async def send(
        self,
        receive_id: str,
        content: str = text("hi"),
        *,
        receive_id_type: str = "user_id",
        msg_type: str = "text",
        uuid: str | None = None,
        app: FeishuAppSettings | None = None,
    ) -> CreateMessageResponse:
        body = CreateMessageRequestBody.builder().receive_id(receive_id).msg_type(msg_type)
        body = body.content(content)
        if uuid is not None:
            body = body.uuid(uuid)
        request = (
            CreateMessageRequest.builder()
            .receive_id_type(receive_id_type)
            .request_body(body.build())
            .build()
        )
        return await self.call(self.client(app).im.v1.message.create, request)

    async def sent_id(self, receive_id: str, value: str = "hi", **kwargs: Any) -> str:
        """Send text as the bot and return the message id (the send must succeed)."""
        resp = await self.send(receive_id, text(value), **kwargs)
        assert resp.success(), (resp.code, resp.msg)
        assert resp.data is not None and resp.data.message_id is not None
        return resp.data.message_id

    async def read_users(
        self,
        message_id: str,
        user_id_type: str | None = "user_id",
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        app: FeishuAppSettings | None = None,
    ) -> ReadUsersMessageResponse:
        builder = ReadUsersMessageRequest.builder().message_id(message_id)
        if user_id_type is not None:
            builder = builder.user_id_type(user_id_type)
        if page_size is not None:
            builder = builder.page_size(page_size)
        if page_token is not None:
            builder = builder.page_token(page_token)
        return await self.call(self.client(app).im.v1.message.read_users, builder.build())

    async def readers(self, message_id: str, **kwargs: Any) -> list[tuple[str, str]]:
        """``[(user_id, timestamp)]`` of one read_users page that must succeed."""
        resp = await self.read_users(message_id, **kwargs)
        assert resp.success(), (resp.code, resp.msg)
        assert resp.data is not None
        return [(r.user_id, r.timestamp) for r in resp.data.items or []]

    async def mark_read(self, user: str, app: FeishuAppSettings | None = None) -> None:
        """``user`` reads its p2p chat with the bot (TIM REST admin_set_msg_read)."""
        await self.admin.call(
            "openim",
            "admin_set_msg_read",
            {"Report_Account": user, "Peer_Account": (app or self.bot).app_id},
        )


@contextlib.asynccontextmanager
async def feishu_server(
    tmp_path: Path,
    *apps: FeishuAppSettings,
    users: tuple[str, ...] = ("alice", "bob", "carol"),
    clock: Clock | None = None,
    db: str = "im.sqlite3",
) -> AsyncIterator[Env]:
    """A server with ``apps`` (default: one bot in the default workspace), a second workspace
    (1400000001) for other-tenant tests, and ``users`` in the default workspace."""
    apps = apps or (app(),)
    async with running_server(
        tmp_path / db,
        clock=clock,
        apps=[AppSettings(sdkappid=OTHER_WORKSPACE, secret_key=OTHER_KEY, users=list(users))],
        feishu_apps=list(apps),
    ) as srv:
        async with srv.admin() as admin:
            if users:
                await admin.import_accounts(*users)
            yield Env(srv, list(apps), admin)

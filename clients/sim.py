"""An async client of the simulation API (docs/simulation.md): act as any account.

::

    async with SimClient("http://127.0.0.1:8080") as sim:
        sent = await sim.send("alice", to_user="cli_a1b2c3d4e5f60718", text="hello @bob", mentions=["bob"])
        await sim.read("bob", peer="alice")                     # bob reads everything from alice
        reaction = await sim.react("bob", sent.message_id, "THUMBSUP")
        await sim.unreact("bob", sent.message_id, reaction)
        items, _, _ = await sim.events("cli_a1b2c3d4e5f60718")                # what the bot receives
        attempts = await sim.deliveries("cli_a1b2c3d4e5f60718")              # and each delivery attempt

Each method raises :class:`SimError` (with the answer's ``code``, ``msg`` and HTTP status) when
the server refuses the request.
"""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from protocol import sim as S

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class SimError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg} (HTTP {status})")
        self.status = status
        self.code = code
        self.msg = msg


class SimClient:
    def __init__(self, base_url: str, *, workspace: int = S.DEFAULT_WORKSPACE) -> None:
        self.base_url = base_url.rstrip("/")
        self.workspace = workspace
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send(
        self,
        sender: str,
        *,
        to_user: str | None = None,
        chat_id: str | None = None,
        group_id: str | None = None,
        text: str | None = None,
        msg_type: str | None = None,
        content: str | dict[str, Any] | None = None,
        mentions: list[str] | None = None,
        reply_to: str | None = None,
        need_receipt: bool = False,
    ) -> S.SendResult:
        """Send as ``sender`` to exactly one of ``to_user``/``chat_id``/``group_id``."""
        body = S.SendRequest(
            sender=sender,
            workspace=self.workspace,
            to_user=to_user,
            chat_id=chat_id,
            group_id=group_id,
            text=text,
            msg_type=msg_type,
            content=content,
            mentions=mentions or [],
            reply_to=reply_to,
            need_receipt=need_receipt,
        )
        return await self._call("POST", "/sim/v1/messages", body, S.SendResult)

    async def read(
        self,
        user: str,
        *,
        peer: str | None = None,
        chat_id: str | None = None,
        group_id: str | None = None,
        up_to: str | None = None,
    ) -> S.ReadResult:
        """``user`` reads one conversation, up to the message ``up_to`` (default: all)."""
        body = S.ReadRequest(
            user=user,
            workspace=self.workspace,
            peer=peer,
            chat_id=chat_id,
            group_id=group_id,
            up_to=up_to,
        )
        return await self._call("POST", "/sim/v1/reads", body, S.ReadResult)

    async def react(self, user: str, message_id: str, emoji_type: str) -> str:
        """Add a reaction; its ``reaction_id``."""
        body = S.ReactRequest(user, message_id, emoji_type, workspace=self.workspace)
        result = await self._call("POST", "/sim/v1/reactions", body, S.ReactResult)
        return result.reaction_id

    async def unreact(self, user: str, message_id: str, reaction_id: str) -> None:
        """Remove one's own reaction."""
        body = S.UnreactRequest(user, message_id, reaction_id, workspace=self.workspace)
        await self._call("DELETE", "/sim/v1/reactions", body, S.ReactResult)

    async def events(
        self, app_id: str, *, after: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """The Feishu events ``app_id`` receives, oldest first, after outbox id ``after``:
        ``(items, next_after, has_more)``; each item has ``outbox_id``, ``event_id``,
        ``event_type``, ``create_time`` and ``payload`` (the plaintext schema-2.0 event)."""
        data = await self._inspect("/sim/v1/events", app_id=app_id, after=after, limit=limit)
        return list(data["items"]), int(data["next_after"]), bool(data["has_more"])

    async def deliveries(self, app_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest delivery attempts of ``app_id``'s channel, oldest first: ``time``, ``ok``,
        ``status``, ``detail``, ``outbox_id``, ``event_id`` ("url_verification" for the
        webhook's challenge)."""
        data = await self._inspect("/sim/v1/deliveries", app_id=app_id, limit=limit)
        return list(data["items"])

    async def pruned(self, app_id: str) -> dict[str, int]:
        """What retention has deleted of ``app_id``'s deliveries: ``attempts`` and
        ``attempts_upto`` (the newest time pruned, ms), ``events`` and ``events_upto`` (the
        delivered events of its workspace)."""
        data = await self._inspect("/sim/v1/deliveries", app_id=app_id, limit=1)
        return dict(data["pruned"])

    async def _inspect(self, path: str, **params: str | int) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        query = {k: str(v) for k, v in params.items()}
        async with self._http.get(self.base_url + path, params=query) as resp:
            answer: dict[str, Any] = await resp.json(content_type=None)
        if resp.status != 200 or answer.get("code") != 0:
            raise SimError(resp.status, int(answer.get("code", -1)), str(answer.get("msg", "")))
        data: dict[str, Any] = answer["data"]
        return data

    async def raw(
        self, method: str, path: str, body: bytes | dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Send any body as is; the HTTP status and the decoded answer (for tests of errors)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        data = body if isinstance(body, bytes) else _encoder.encode(body)
        headers = {"Content-Type": "application/json"}
        async with self._http.request(
            method, self.base_url + path, data=data, headers=headers
        ) as resp:
            answer: dict[str, Any] = await resp.json(content_type=None)
            return resp.status, answer

    async def _call(self, method: str, path: str, body: msgspec.Struct, result: type[T]) -> T:
        status, answer = await self.raw(method, path, _encoder.encode(body))
        if status != 200:
            raise SimError(status, int(answer.get("code", -1)), str(answer.get("msg", "")))
        return msgspec.convert(answer, result)

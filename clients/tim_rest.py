"""A small async client for the TIM REST API that mints its own admin UserSig.

::

    async with TimRestClient("http://127.0.0.1:8080", 1400000000, SECRET_KEY) as admin:
        await admin.call("im_open_login_svc", "multiaccount_import", {"Accounts": ["alice", "bob"]})
        await admin.create_group("Work", "team", ["alice", "bob"], group_id="team1")

:meth:`call` returns the decoded response body and raises :class:`TimRestError` when
``ActionStatus`` is ``FAIL``; :meth:`raw` returns the body whatever it says.
"""

from __future__ import annotations

import random
import time
from typing import Any

import aiohttp

from protocol.tim import usersig


class TimRestError(Exception):
    def __init__(self, command: str, code: int, info: str, body: dict[str, Any]) -> None:
        super().__init__(f"{command} failed: {code} {info}")
        self.command = command
        self.code = code
        self.info = info
        self.body = body


class TimRestClient:
    def __init__(
        self,
        base_url: str,
        sdkappid: int,
        secret_key: str,
        *,
        admin: str = "administrator",
        expire: int = 86400,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sdkappid = sdkappid
        self.secret_key = secret_key
        self.admin = admin
        self.expire = expire
        self._sig = ""
        self._sig_until = 0.0
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TimRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def usersig(self) -> str:
        """The admin UserSig, minted locally and renewed before it expires."""
        now = time.time()
        if now > self._sig_until:
            self._sig = usersig.gen_usersig(
                self.sdkappid, self.secret_key, self.admin, expire=self.expire, now=int(now)
            )
            self._sig_until = now + self.expire / 2
        return self._sig

    def url(self, service: str, command: str) -> str:
        return (
            f"{self.base_url}/v4/{service}/{command}?sdkappid={self.sdkappid}"
            f"&identifier={self.admin}&usersig={self.usersig()}"
            f"&random={random.randrange(2**32)}&contenttype=json"
        )

    async def raw(self, service: str, command: str, body: dict[str, Any] | bytes) -> dict[str, Any]:
        """POST and return the decoded response, success or not."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with self._http.post(self.url(service, command), **kwargs) as resp:
            result: dict[str, Any] = await resp.json(content_type=None)
            return result

    async def call(self, service: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST and return the response; raise TimRestError if it failed."""
        result = await self.raw(service, command, body)
        if result.get("ActionStatus") != "OK":
            raise TimRestError(
                command, result.get("ErrorCode", -1), result.get("ErrorInfo", ""), result
            )
        return result

    # conveniences for the commands a walk-through needs

    async def import_accounts(self, *user_ids: str) -> None:
        await self.call("im_open_login_svc", "multiaccount_import", {"Accounts": list(user_ids)})

    async def create_group(
        self,
        group_type: str,
        name: str,
        members: list[str],
        *,
        group_id: str | None = None,
        owner: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "Type": group_type,
            "Name": name,
            "MemberList": [{"Member_Account": m} for m in members],
        }
        if group_id:
            body["GroupId"] = group_id
        if owner:
            body["Owner_Account"] = owner
        result = await self.call("group_open_http_svc", "create_group", body)
        return str(result["GroupId"])

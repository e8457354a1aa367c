"""Who is calling: the state a TIM handler gets, whichever transport the call came by."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.service import Core
from server.settings import AppSettings


@dataclass(frozen=True, slots=True)
class Caller:
    core: Core
    app: AppSettings
    user: str  # the REST identifier (an admin) or the logged-in WebSocket user
    platform: str  # OptPlatform of callbacks: "RESTAPI" or "Web"

    @property
    def sdkappid(self) -> int:
        return self.app.sdkappid

    @property
    def is_admin(self) -> bool:
        return self.user == self.app.admin

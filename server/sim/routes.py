"""``/sim/v1/...`` routes (docs/simulation.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from server.wiring import Wiring


def routes(wiring: Wiring) -> list[BaseRoute]:
    return []

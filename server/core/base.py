"""What every core service is built from: the store, the clock, app policies, listeners."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.core.clock import Clock
from server.core.errors import CoreError, Reason
from server.core.listeners import Listeners
from server.core.policy import AppPolicy
from server.store.store import Store


@dataclass
class Deps:
    store: Store
    clock: Clock
    policies: Mapping[int, AppPolicy]
    listeners: Listeners

    def policy(self, app: int) -> AppPolicy:
        try:
            return self.policies[app]
        except KeyError:
            raise CoreError(Reason.INVALID, f"unknown app {app}") from None

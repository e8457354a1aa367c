"""The core, assembled: one object holding every service, built from its dependencies."""

from __future__ import annotations

from collections.abc import Mapping

from server.core.base import Deps
from server.core.clock import Clock
from server.core.directory import Directory
from server.core.eventlog import EventLog
from server.core.groups import Groups
from server.core.listeners import Listeners
from server.core.messages import Messaging
from server.core.policy import AppPolicy
from server.core.reactions import Reactions
from server.core.reads import Reads
from server.core.receipts import Receipts
from server.core.sync import Sync
from server.store.store import Store


class Core:
    def __init__(self, store: Store, clock: Clock, policies: Mapping[int, AppPolicy]) -> None:
        self.listeners = Listeners()
        self.deps = Deps(store, clock, policies, self.listeners)
        self.store = store
        self.clock = clock
        self.policies = policies
        self.directory = Directory(self.deps)
        self.groups = Groups(self.deps)
        self.messages = Messaging(self.deps, self.groups)
        self.receipts = Receipts(self.deps, self.groups)
        self.reads = Reads(self.deps, self.groups, self.messages)
        self.reactions = Reactions(self.deps, self.groups, self.messages)
        self.event_log = EventLog(self.deps)
        self.sync = Sync(self.deps, self.groups)

"""The store facade: one object per noun, all on one :class:`~server.store.db.Database`."""

from __future__ import annotations

from server.store.accounts import AccountStore
from server.store.db import Database
from server.store.events import EventStore
from server.store.groups import GroupStore
from server.store.messages import MessageStore
from server.store.reactions import ReactionStore
from server.store.reads import ReadStore
from server.store.receipts import ReceiptStore


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = AccountStore(db)
        self.groups = GroupStore(db)
        self.messages = MessageStore(db)
        self.receipts = ReceiptStore(db)
        self.reads = ReadStore(db)
        self.events = EventStore(db)
        self.reactions = ReactionStore(db)

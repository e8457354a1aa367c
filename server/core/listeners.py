"""After-commit notifications from the core to whoever delivers them (sessions, the outbox).

The core calls these only after the transaction that made the change has committed, so a
listener never announces something that could still be rolled back. Listeners must not block:
they queue work (a push on a bounded session queue, a wake-up of an outbox consumer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.core.model import Message, ReceiptCount


class Listener(Protocol):
    def message_sent(self, message: Message, recipients: Sequence[str]) -> None:
        """A message was stored; ``recipients`` are the accounts to deliver it to."""

    def receipts_changed(self, app: int, reader: str, counts: Sequence[ReceiptCount]) -> None:
        """``reader``'s receipts changed these messages' totals (each message's sender hears)."""

    def c2c_read(self, app: int, reader: str, peer: str, read_ms: int) -> None:
        """``reader`` marked its C2C conversation with ``peer`` read up to ``read_ms``."""

    def events_appended(self, app: int) -> None:
        """New events of workspace ``app`` are in the outbox."""


class Listeners:
    """Fans one notification out to every registered listener."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def message_sent(self, message: Message, recipients: Sequence[str]) -> None:
        for listener in self._listeners:
            listener.message_sent(message, recipients)

    def receipts_changed(self, app: int, reader: str, counts: Sequence[ReceiptCount]) -> None:
        for listener in self._listeners:
            listener.receipts_changed(app, reader, counts)

    def c2c_read(self, app: int, reader: str, peer: str, read_ms: int) -> None:
        for listener in self._listeners:
            listener.c2c_read(app, reader, peer, read_ms)

    def events_appended(self, app: int) -> None:
        for listener in self._listeners:
            listener.events_appended(app)

"""Reactions (emoji replies) on messages, by users or bots."""

from __future__ import annotations

from server.core.base import Deps
from server.core.errors import CoreError, Reason
from server.core.events import ReactionChanged
from server.core.groups import Groups
from server.core.messages import Messaging
from server.core.model import Message, Reaction

MAX_EMOJI = 64


class Reactions:
    def __init__(self, deps: Deps, groups: Groups, messages: Messaging) -> None:
        self.d = deps
        self.groups = groups
        self.messages = messages

    async def _visible(self, app: int, operator: str, msg_id: int) -> Message:
        """The message, if ``operator`` is in its conversation and it is not recalled."""
        message = await self.messages.get_visible(app, operator, msg_id)
        if message.recalled:
            raise CoreError(Reason.MESSAGE_RECALLED, f"message {msg_id} was recalled")
        return message

    async def add(self, app: int, operator: str, msg_id: int, emoji_type: str) -> Reaction:
        """Add a reaction; adding the same emoji twice returns the existing one (no event).

        Raises CoreError: INVALID, UNKNOWN_MESSAGE, MESSAGE_RECALLED, NOT_ALLOWED, NOT_GROUP_MEMBER."""
        if not emoji_type or len(emoji_type) > MAX_EMOJI:
            raise CoreError(Reason.INVALID, f"emoji_type {emoji_type!r} must be 1 to 64 characters")
        message = await self._visible(app, operator, msg_id)
        now = self.d.clock.now_ms()

        def event(reaction_id: int) -> ReactionChanged:
            return ReactionChanged(message.id, reaction_id, operator, emoji_type, True, now)

        reaction, created = await self.d.store.reactions.add(
            app, message.id, operator, emoji_type, now, event
        )
        if created:
            self.d.listeners.events_appended(app)
        return reaction

    async def remove(self, app: int, operator: str, msg_id: int, reaction_id: int) -> Reaction:
        """Remove one's own reaction. Raises CoreError: UNKNOWN_REACTION, NOT_ALLOWED, ..."""
        message = await self._visible(app, operator, msg_id)
        reaction = await self.d.store.reactions.get(reaction_id)
        if reaction is None or reaction.msg_id != message.id or reaction.deleted_ms is not None:
            raise CoreError(
                Reason.UNKNOWN_REACTION,
                f"reaction {reaction_id} of message {msg_id} does not exist",
            )
        if reaction.operator != operator:
            raise CoreError(Reason.NOT_ALLOWED, f"reaction {reaction_id} was added by someone else")
        now = self.d.clock.now_ms()
        event = ReactionChanged(message.id, reaction_id, operator, reaction.emoji_type, False, now)
        removed = await self.d.store.reactions.remove(app, reaction_id, now, event)
        if removed is None:
            raise CoreError(Reason.UNKNOWN_REACTION, f"reaction {reaction_id} was already removed")
        self.d.listeners.events_appended(app)
        return removed

    async def list(
        self,
        app: int,
        viewer: str,
        msg_id: int,
        *,
        emoji_type: str | None,
        after_id: int,
        limit: int,
    ) -> list[Reaction]:
        """Live reactions of a message, oldest first, after reaction ``after_id``."""
        message = await self._visible(app, viewer, msg_id)
        return await self.d.store.reactions.list(message.id, emoji_type, after_id, limit)

"""im/v1 message reactions: add, delete and list, by the calling bot."""

from __future__ import annotations

from protocol.feishu import errors as E
from protocol.feishu import rest as R
from protocol.feishu.emoji import unknown_emoji
from server.core.errors import CoreError, Reason
from server.feishu.context import Bot
from server.feishu.convert import message_number, reaction_out
from server.feishu.errors import FeishuError


async def create(bot: Bot, p: R.MessageParams, body: R.CreateReactionBody) -> R.MessageReaction:
    """``POST /open-apis/im/v1/messages/:message_id/reactions``; the same emoji twice is one.
    An ``emoji_type`` that is not Feishu's is 231001."""
    _check_emoji(body.reaction_type.emoji_type)
    reaction = await bot.core.reactions.add(
        bot.workspace, bot.app_id, message_number(bot, p.message_id), body.reaction_type.emoji_type
    )
    return reaction_out(bot, reaction)


def _check_emoji(emoji_type: str) -> None:
    why = unknown_emoji(emoji_type)
    if why is not None:
        raise FeishuError(E.REACTION_TYPE_INVALID, why)


async def delete(bot: Bot, p: R.ReactionParams, _: None) -> R.MessageReaction:
    """``DELETE /open-apis/im/v1/messages/:message_id/reactions/:reaction_id``: one of the
    bot's own reactions; answers the reaction deleted."""
    number = bot.ids.parse_reaction_id(p.reaction_id)
    if number is None:
        raise CoreError(Reason.UNKNOWN_REACTION, f"invalid reaction_id {p.reaction_id!r}")
    reaction = await bot.core.reactions.remove(
        bot.workspace, bot.app_id, message_number(bot, p.message_id), number
    )
    return reaction_out(bot, reaction)


async def list_(bot: Bot, p: R.ListReactionsParams, _: None) -> R.ReactionPage:
    """``GET /open-apis/im/v1/messages/:message_id/reactions``: live reactions, oldest first,
    of one ``reaction_type`` if given."""
    after = 0
    if p.page_token is not None:
        position = R.parse_position(R.parse_page_token(p.page_token))
        if position is None:
            raise FeishuError(E.REACTION_PAGE_TOKEN_INVALID, f"invalid page_token {p.page_token!r}")
        after = position
    bot.require_id_type(p.user_id_type)
    if p.reaction_type:
        _check_emoji(p.reaction_type)
    found = await bot.core.reactions.list(
        bot.workspace,
        bot.app_id,
        message_number(bot, p.message_id),
        emoji_type=p.reaction_type or None,
        after_id=after,
        limit=p.page_size + 1,
    )
    page = found[: p.page_size]
    more = len(found) > p.page_size
    return R.ReactionPage(
        items=[reaction_out(bot, r, p.user_id_type) for r in page],
        has_more=more,
        page_token=R.page_token(str(page[-1].id)) if more else None,
    )

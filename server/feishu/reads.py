"""im/v1 ``read_users``: who has read a message the calling bot sent.

Only readers are listed (nobody who has not read it), each once, with the time they first read
it, by a receipt or by reading the conversation (server/core/reads.py), ordered by that time.
Feishu's rules (docs, read_users page): only the bot's own messages (230012), within 7 days of
sending (230033), the bot still in the chat (230002), not recalled (230110), the p2p user within
the bot's availability (230013), the message of the bot's tenant (230027).
"""

from __future__ import annotations

from typing import Final

from protocol.feishu import errors as E
from protocol.feishu import rest as R
from server.feishu.context import Bot
from server.feishu.convert import message_number, peer_of
from server.feishu.errors import FeishuError

READ_WINDOW_MS: Final = 7 * 86_400_000


def _after(token: str | None) -> tuple[int, str] | None:
    """The (read time, user) a page token continues after. Raises FeishuError 230001."""
    if token is None:
        return None
    text = R.parse_page_token(token)
    ms, sep, user = (text or "").partition(":")
    position = R.parse_position(ms)
    if not sep or position is None or not user:
        raise FeishuError(E.MSG_INVALID_PARAM, f"invalid page_token {token!r}")
    return position, user


async def read_users(bot: Bot, p: R.ReadUsersParams, _: None) -> R.ReadUsersPage:
    """``GET /open-apis/im/v1/messages/:message_id/read_users?user_id_type=&page_size=&page_token=``"""
    bot.require_id_type(p.user_id_type)
    after = _after(p.page_token)
    message, readers = await bot.core.reads.sender_readers(
        bot.workspace,
        bot.app_id,
        message_number(bot, p.message_id),
        within_ms=READ_WINDOW_MS,
        after=after,
        limit=p.page_size + 1,
        exclude=bot.bots(),  # read_users lists users; a bot reading is no read receipt
    )
    peer = peer_of(bot, message)
    if peer is not None and not bot.reaches(peer):
        raise FeishuError(
            E.MSG_USER_UNREACHABLE,
            f"Bot has NO availability to this user: {peer!r} is outside app {bot.app_id}'s reach",
        )
    page = readers[: p.page_size]
    more = len(readers) > p.page_size
    last = page[-1] if page else None
    return R.ReadUsersPage(
        items=[
            R.ReadUser(
                user_id_type=p.user_id_type,
                user_id=bot.id_of(r.user_id, p.user_id_type)[0],
                timestamp=str(r.read_ms),
                tenant_key=bot.tenant_key,
            )
            for r in page
        ],
        has_more=more,
        page_token=R.page_token(f"{last.read_ms}:{last.user_id}") if more and last else None,
    )

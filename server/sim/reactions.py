"""``POST``/``DELETE /sim/v1/reactions``: add or remove a reaction as any account."""

from __future__ import annotations

from protocol import sim as S
from protocol.feishu import ids as feishu_ids
from server.core.errors import CoreError, Reason
from server.core.service import Core
from server.sim import resolve


async def react(core: Core, req: S.ReactRequest) -> S.ReactResult:
    app = await resolve.workspace(core, req.workspace, req.user)
    message = await resolve.message(core, app, req.message_id)
    reaction = await core.reactions.add(app, req.user, message.id, req.emoji_type)
    return S.ReactResult(reaction_id=feishu_ids.reaction_id(reaction.id))


async def unreact(core: Core, req: S.UnreactRequest) -> S.ReactResult:
    app = await resolve.workspace(core, req.workspace, req.user)
    message = await resolve.message(core, app, req.message_id)
    number = feishu_ids.parse_reaction_id(req.reaction_id)
    if number is None:
        raise CoreError(
            Reason.UNKNOWN_REACTION, f"{req.reaction_id!r} is not a reaction id of this server"
        )
    await core.reactions.remove(app, req.user, message.id, number)
    return S.ReactResult(reaction_id=req.reaction_id)

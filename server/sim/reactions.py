"""``POST``/``DELETE /sim/v1/reactions``: add or remove a reaction as any account."""

from __future__ import annotations

from protocol import sim as S
from protocol.feishu.emoji import unknown_emoji
from server.core.errors import CoreError, Reason
from server.sim import resolve


async def react(sim: resolve.Sim, req: S.ReactRequest) -> S.ReactResult:
    core = sim.core
    app = await resolve.workspace(core, req.workspace, req.user)
    why = unknown_emoji(req.emoji_type)  # what a Feishu user can react with, nothing else
    if why is not None:
        raise CoreError(Reason.INVALID, why)
    message = await resolve.message(sim, app, req.message_id)
    reaction = await core.reactions.add(app, req.user, message.id, req.emoji_type)
    return S.ReactResult(reaction_id=sim.ids.reaction_id(reaction.id))


async def unreact(sim: resolve.Sim, req: S.UnreactRequest) -> S.ReactResult:
    core = sim.core
    app = await resolve.workspace(core, req.workspace, req.user)
    message = await resolve.message(sim, app, req.message_id)
    number = sim.ids.parse_reaction_id(req.reaction_id)
    if number is None:
        raise CoreError(
            Reason.UNKNOWN_REACTION, f"{req.reaction_id!r} is not a reaction id of this server"
        )
    await core.reactions.remove(app, req.user, message.id, number)
    return S.ReactResult(reaction_id=req.reaction_id)

"""``POST /sim/v1/reads``: read a conversation as any account (the same core read as TIM's)."""

from __future__ import annotations

from protocol import sim as S
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind
from server.sim import resolve


async def read(sim: resolve.Sim, req: S.ReadRequest) -> S.ReadResult:
    core = sim.core
    app = await resolve.workspace(core, req.workspace, req.user)
    peer, group_id, conv_id = req.peer, req.group_id, None
    if req.chat_id is not None:
        conv = await resolve.chat(sim, app, req.chat_id)
        if conv.kind is ConvKind.GROUP:
            group_id, conv_id = conv.group_id, conv.id
        elif conv.has_party(req.user):
            peer = conv.peer_of(req.user)
        else:
            raise CoreError(
                Reason.NOT_ALLOWED, f"{req.user!r} is not in the p2p chat {req.chat_id!r}"
            )
    elif group_id is not None:
        conv_id = (await core.groups.get(app, group_id)).conv_id
    upto_seq = None
    if req.up_to is not None:
        found = await resolve.message(sim, app, req.up_to)
        if not resolve.in_conversation(found, conv_id, req.user, peer):
            raise CoreError(
                Reason.INVALID, f"message {req.up_to!r} is not in the conversation being read"
            )
        upto_seq = found.seq
    if group_id is not None:
        change = await core.reads.mark_group(
            app, req.user, group_id, upto_seq=upto_seq, platform=resolve.PLATFORM
        )
    else:
        assert peer is not None  # exactly one target, checked at decode
        change = await core.reads.mark_c2c(
            app, req.user, peer, upto_seq=upto_seq, platform=resolve.PLATFORM
        )
    return S.ReadResult(
        read_seq=change.read_seq,
        read_ms=change.read_ms,
        newly_read=[sim.ids.message_id(i) for i in change.newly_read],
        unread_total=change.unread_total,
    )

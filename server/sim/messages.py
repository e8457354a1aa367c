"""``POST /sim/v1/messages``: send as any account, through the same core calls as TIM."""

from __future__ import annotations

from protocol import sim as S
from protocol.tim import ids as tim_ids
from server.core.errors import CoreError, Reason
from server.core.model import ConvKind
from server.sim import resolve


async def send(sim: resolve.Sim, req: S.SendRequest) -> S.SendResult:
    core = sim.core
    app = await resolve.workspace(core, req.workspace, req.sender)
    elements = resolve.body(req)
    reply_to = await resolve.message(sim, app, req.reply_to) if req.reply_to else None
    receiver, group_id = req.to_user, req.group_id
    if req.chat_id is not None:
        conv = await resolve.chat(sim, app, req.chat_id)
        if conv.kind is ConvKind.GROUP:
            group_id = conv.group_id
        elif conv.has_party(req.sender):
            receiver = conv.peer_of(req.sender)
        else:
            raise CoreError(
                Reason.NOT_ALLOWED, f"{req.sender!r} is not in the p2p chat {req.chat_id!r}"
            )
    if group_id is not None:
        sent = await core.messages.send_group(
            app,
            req.sender,
            group_id,
            elements,
            need_receipt=req.need_receipt,
            platform=resolve.PLATFORM,
            reply_to=reply_to,
            mentions=req.mentions,
        )
    else:
        assert receiver is not None  # exactly one target, checked at decode
        sent = await core.messages.send_c2c(
            app,
            req.sender,
            receiver,
            elements,
            need_receipt=req.need_receipt,
            platform=resolve.PLATFORM,
            reply_to=reply_to,
            mentions=req.mentions,
        )
    m = sent.message
    return S.SendResult(
        message_id=sim.ids.message_id(m.id),
        msg_id=tim_ids.format_msg_id(m.id, m.time_ms // 1000, m.random),
        seq=m.seq,
        chat_id=sim.ids.chat_id(m.conv_id),
    )

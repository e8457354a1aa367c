"""Translation between TIM shapes and the neutral core model (and nothing else)."""

from __future__ import annotations

from typing import Any

import msgspec

from protocol import codec
from protocol.tim import elements as el
from protocol.tim import ids, tickets
from protocol.tim import sdk_push as P
from protocol.tim.ws import V2TIMMessage
from server.core.errors import CoreError, Reason
from server.core.messages import HistoryItem
from server.core.model import ConvKind, Element, GroupType, Message, MessageRef
from server.tim.errors import receipt_code

# REST and callbacks use the older names; V2TIM (WebSocket) uses GroupType values.
REST_TYPE_NAMES = {
    GroupType.WORK: "Private",
    GroupType.PUBLIC: "Public",
    GroupType.MEETING: "ChatRoom",
    GroupType.AVCHATROOM: "AVChatRoom",
    GroupType.COMMUNITY: "Community",
}
_PARSE_TYPE = {
    "private": GroupType.WORK,
    "work": GroupType.WORK,
    "public": GroupType.PUBLIC,
    "chatroom": GroupType.MEETING,
    "meeting": GroupType.MEETING,
    "avchatroom": GroupType.AVCHATROOM,
    "community": GroupType.COMMUNITY,
}


def parse_group_type(name: str) -> GroupType:
    try:
        return _PARSE_TYPE[name.lower()]
    except KeyError:
        raise CoreError(Reason.INVALID, f"unknown group type {name!r}") from None


def rest_type_name(group_type: GroupType | str) -> str:
    return REST_TYPE_NAMES[GroupType(group_type)]


def to_core(body: list[el.MsgElem]) -> tuple[Element, ...]:
    out = []
    for elem in body:
        if isinstance(elem, el.TextElem):
            out.append(Element("text", text=elem.MsgContent.Text))
        else:
            tag = type(elem).__struct_config__.tag
            out.append(Element(f"tim:{tag}", data=msgspec.to_builtins(elem.MsgContent)))
    return tuple(out)


_elem_decoder = codec.Decoder(el.MsgElem)


def from_core(body: tuple[Element, ...]) -> list[el.MsgElem]:
    out: list[el.MsgElem] = []
    for e in body:
        if e.kind == "text":
            out.append(el.text(e.text or ""))
        elif e.kind.startswith("tim:"):
            raw: dict[str, Any] = {"MsgType": e.kind[4:], "MsgContent": e.data or {}}
            out.append(msgspec.convert(raw, el.MsgElem))
        else:  # an element written in another dialect: shown as TIM custom data
            out.append(
                el.CustomElem(
                    el.CustomContent(Data=msgspec.json.encode(e.data or {}).decode(), Desc=e.kind)
                )
            )
    return out


def time_s(ms: int) -> int:
    return ms // 1000


def msg_id(m: Message) -> str:
    return ids.format_msg_id(m.id, time_s(m.time_ms), m.random)


def msg_key(m: Message) -> str:
    return ids.format_msg_key(m.shown_seq, m.random, time_s(m.time_ms))


def msg_refs(texts: list[str]) -> list[MessageRef]:
    """The messages that V2TIM msgIDs name (number, second and random must all match);
    CoreError(UNKNOWN_MESSAGE) names a text that is not a msgID at all."""
    out = []
    for text in texts:
        parts = ids.parse_msg_id(text)
        if parts is None:
            raise CoreError(Reason.UNKNOWN_MESSAGE, f"{text!r} is not a msgID of this server")
        out.append(MessageRef(id=parts.id, random=parts.random, time_s=parts.time, text=text))
    return out


def msg_key_ref(text: str) -> MessageRef | None:
    """The one-to-one message a REST ``MsgKey`` (seq_random_time) names, or None."""
    key = ids.parse_msg_key(text)
    if key is None:
        return None
    return MessageRef(seq=key.seq, random=key.random, time_s=key.time, text=text)


def v2tim_message(m: Message, viewer: str, item: HistoryItem | None = None) -> V2TIMMessage:
    """The V2TIMMessage ``viewer`` sees."""
    return V2TIMMessage(
        msgID=msg_id(m),
        timestamp=time_s(m.time_ms),
        sender=m.sender,
        seq=m.seq,
        random=m.random,
        elemList=from_core(m.body),
        isSelf=m.sender == viewer,
        isRead=item.read_by_me if item else m.sender == viewer,
        isPeerRead=item.peer_read if item else False,
        needReadReceipt=m.need_receipt,
        userID=(m.receiver if m.sender == viewer else m.sender) if m.kind is ConvKind.C2C else None,
        groupID=m.group_id,
        readReceiptCode=receipt_code(m.receipt_code) if m.need_receipt else 0,
    )


# -- Tencent's Chat SDK ---------------------------------------------------------------------


def tiny(app: int, user: str) -> str:
    """The TinyId the SDK knows ``user`` by (the first part of the message ids it makes)."""
    return tickets.tiny_id(app, user)


def client_time_s(m: Message) -> int:
    """``MsgClientTime``: the sender's clock as it sent it (the server's if it gave none)."""
    return m.shown_client_ms // 1000


def sdk_c2c_item(m: Message, *, peer_read: bool = False) -> P.C2CMsgItem:
    """A one-to-one message as the SDK receives it (push, sync, roaming)."""
    assert m.receiver is not None
    t = time_s(m.time_ms)
    return P.C2CMsgItem(
        From_Account=m.sender,
        To_Account=m.receiver,
        MsgSeq=m.shown_seq,
        MsgRandom=m.random,
        MsgTimeStamp=t,
        MsgClientTime=client_time_s(m),
        TinyId=tiny(m.app, m.sender),
        MsgBody=from_core(m.body),
        IsNeedReadReceipt=int(m.need_receipt),
        MsgKey=ids.format_msg_key(m.shown_seq, m.random, t),
        IsPeerRead=int(peer_read),
    )


def sdk_group_item(m: Message) -> P.GroupMsgItem:
    """A group message as the SDK receives it (push, roaming)."""
    assert m.group_id is not None
    return P.GroupMsgItem(
        From_Account=m.sender,
        ToGroupId=m.group_id,
        GroupInfo=P.GroupInfo(GroupId=m.group_id),
        MsgSeq=m.seq,
        MsgRandom=m.random,
        MsgTimeStamp=time_s(m.time_ms),
        MsgClientTime=client_time_s(m),
        TinyId=tiny(m.app, m.sender),
        MsgBody=from_core(m.body),
        IsNeedReadReceipt=int(m.need_receipt),
    )


def sdk_receipt_ref(m: Message) -> P.ReceiptMsgRef:
    """How a receipt push names ``m``: the parts of the SDK's id for it."""
    return P.ReceiptMsgRef(
        TinyId=tiny(m.app, m.sender),
        MsgClientTime=client_time_s(m),
        MsgRandom=m.random,
        MsgSeq=m.shown_seq,
    )

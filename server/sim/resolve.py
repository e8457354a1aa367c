"""From the simulation API's names to the core's: workspaces, message ids, chat ids, bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from protocol import codec
from protocol import sim as S
from protocol.feishu.ids import FeishuIds
from protocol.tim import ids as tim_ids
from server.core.errors import CoreError, Reason
from server.core.model import Conversation, Element, Message
from server.core.service import Core
from server.sim.errors import SimError

PLATFORM = "Web"
"""What the sim's acts report as their platform (TIM ``OptPlatform``): a user's client."""


@dataclass(frozen=True, slots=True)
class Sim:
    """What a simulation handler acts through: the core, and the database's Feishu ids."""

    core: Core
    ids: FeishuIds


async def workspace(core: Core, app: int, *acting: str) -> int:
    """``app`` if it is a configured workspace whose ``acting`` accounts exist.

    Raises SimError(UNKNOWN_WORKSPACE) or CoreError(UNKNOWN_ACCOUNT)."""
    if app not in core.policies:
        known = ", ".join(str(a) for a in sorted(core.policies))
        raise SimError(404, S.UNKNOWN_WORKSPACE, f"workspace {app} does not exist (known: {known})")
    await core.directory.require(app, list(acting))
    return app


async def message(sim: Sim, app: int, text: str) -> Message:
    """The message named by a Feishu ``om_`` id or a TIM msgID.

    Raises CoreError(UNKNOWN_MESSAGE) naming ``text``."""
    core = sim.core
    number = sim.ids.parse_message_id(text)
    tim = tim_ids.parse_msg_id(text) if number is None else None
    if tim is not None:
        number = tim.id
    if number is None:
        raise CoreError(
            Reason.UNKNOWN_MESSAGE, f"{text!r} is neither an om_ message id nor a TIM msgID"
        )
    try:
        found = await core.messages.get(app, number)
    except CoreError as exc:
        if exc.reason is Reason.OTHER_APP:
            raise CoreError(exc.reason, f"message {text!r} is not in workspace {app}") from None
        found = None
    stale = tim is not None and (
        found is None or (found.random, found.time_ms // 1000) != (tim.random, tim.time)
    )
    if found is None or stale:  # a msgID names one message: its time and random must match
        raise CoreError(Reason.UNKNOWN_MESSAGE, f"message {text!r} does not exist")
    return found


async def chat(sim: Sim, app: int, chat_id: str) -> Conversation:
    """The conversation named by a Feishu ``oc_`` chat id (a group or a C2C pair).

    Raises CoreError(UNKNOWN_GROUP) naming ``chat_id``."""
    core = sim.core
    number = sim.ids.parse_chat_id(chat_id)
    if number is not None:
        try:
            return await core.groups.conversation(app, number)
        except CoreError as exc:
            if exc.reason is Reason.OTHER_APP:
                raise CoreError(exc.reason, f"chat {chat_id!r} is not in workspace {app}") from None
    raise CoreError(Reason.UNKNOWN_GROUP, f"chat {chat_id!r} does not exist")


def in_conversation(found: Message, conv_id: int | None, user: str, peer: str | None) -> bool:
    """Whether ``found`` is in the group conversation ``conv_id``, or (``conv_id`` None) in the
    C2C conversation of ``user`` and ``peer``."""
    if conv_id is not None:
        return found.conv_id == conv_id
    return found.group_id is None and {found.sender, found.receiver} == {user, peer}


_content_decoder = codec.Decoder(dict[str, Any])


def body(req: S.SendRequest) -> tuple[Element, ...]:
    """The message body: a text element, or a Feishu element kept verbatim as
    ``feishu:<msg_type>`` (a Feishu ``text`` content becomes a plain text element).

    Raises SimError(BAD_REQUEST) for a content that is not a JSON object, CoreError(INVALID)
    for an empty text."""
    if req.text is not None:
        text = req.text
    else:
        assert req.msg_type is not None and req.content is not None  # checked at decode
        content = req.content
        if isinstance(content, str):
            try:
                content = _content_decoder.decode(content)
            except msgspec.DecodeError:
                raise SimError(
                    400, S.BAD_REQUEST, f"content of msg_type {req.msg_type!r} is not a JSON object"
                ) from None
        if req.msg_type != "text":
            return (Element(f"feishu:{req.msg_type}", data=content),)
        value = content.get("text")
        if not isinstance(value, str):
            raise SimError(400, S.BAD_REQUEST, 'a text content must be {"text": "..."}')
        text = value
    if not text:
        raise CoreError(Reason.INVALID, "the text is empty")
    return (Element("text", text=text),)

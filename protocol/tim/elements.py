"""TIM message elements (``MsgBody`` items), validated by ``MsgType`` at decode.

The same element shape is used on REST (``MsgBody``) and on this server's WebSocket protocol
(``elemList``), so one codec serves both.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Str = Annotated[str, msgspec.Meta(max_length=12 * 1024)]


class TextContent(msgspec.Struct, frozen=True):
    Text: Str


class CustomContent(msgspec.Struct, frozen=True, omit_defaults=True):
    Data: Str = ""
    Desc: Str = ""
    Ext: Str = ""
    Sound: Str = ""


class FaceContent(msgspec.Struct, frozen=True):
    Index: int
    Data: Str = ""


class LocationContent(msgspec.Struct, frozen=True):
    Desc: Str
    Latitude: float
    Longitude: float


class _Elem(msgspec.Struct, frozen=True, tag_field="MsgType"):
    pass


class TextElem(_Elem, frozen=True, tag="TIMTextElem"):
    MsgContent: TextContent


class CustomElem(_Elem, frozen=True, tag="TIMCustomElem"):
    MsgContent: CustomContent


class FaceElem(_Elem, frozen=True, tag="TIMFaceElem"):
    MsgContent: FaceContent


class LocationElem(_Elem, frozen=True, tag="TIMLocationElem"):
    MsgContent: LocationContent


class ImageElem(_Elem, frozen=True, tag="TIMImageElem"):
    MsgContent: dict[str, Any]


class SoundElem(_Elem, frozen=True, tag="TIMSoundElem"):
    MsgContent: dict[str, Any]


class FileElem(_Elem, frozen=True, tag="TIMFileElem"):
    MsgContent: dict[str, Any]


class VideoFileElem(_Elem, frozen=True, tag="TIMVideoFileElem"):
    MsgContent: dict[str, Any]


MsgElem = (
    TextElem
    | CustomElem
    | FaceElem
    | LocationElem
    | ImageElem
    | SoundElem
    | FileElem
    | VideoFileElem
)
MsgBody = Annotated[list[MsgElem], msgspec.Meta(min_length=1, max_length=20)]

ELEM_TYPES: dict[str, type[_Elem]] = {
    t.__struct_config__.tag: t  # type: ignore[misc]
    for t in (
        TextElem,
        CustomElem,
        FaceElem,
        LocationElem,
        ImageElem,
        SoundElem,
        FileElem,
        VideoFileElem,
    )
}


def text(value: str) -> TextElem:
    """A text element (convenience for clients and tests)."""
    return TextElem(TextContent(value))

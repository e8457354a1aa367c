"""The dialect-neutral IM model and its rules.

Accounts, groups and conversations, messages, read receipts and conversation reads live here,
with no starlette, no SQL text and no vendor field names. Each service checks *meaning*
(membership, ownership, caps, time windows) and raises :class:`server.core.errors.CoreError`
with a neutral :class:`~server.core.errors.Reason`; each dialect maps reasons to its own codes.
"""

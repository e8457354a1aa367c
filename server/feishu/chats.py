"""im/v1 chats and chat members, as the calling bot manages them.

A chat is a core group (``Work`` for ``chat_type`` private, ``Public`` for public) created with
a fresh group id; its ``chat_id`` is minted from the group's conversation number, so a chat
id names one group for good, even if a group of the same group id is made again. The bot is
always a member of the chats it creates and owns them unless ``owner_id`` says otherwise.
Members are listed without bots, as Feishu does; a chat's description is not kept.
"""

from __future__ import annotations

import secrets

from protocol.feishu import rest as R
from server.core.errors import CoreError, Reason
from server.core.model import Group, GroupType
from server.feishu.context import Bot
from server.feishu.errors import CHAT, PAGE_TOKEN_ERROR, FeishuError


def _page_position(token: str | None) -> int:
    if token is None:
        return 0
    position = R.parse_position(R.parse_page_token(token))
    if position is None:
        raise FeishuError(PAGE_TOKEN_ERROR[CHAT], f"invalid page_token {token!r}")
    return position


async def _group(bot: Bot, chat_id: str) -> Group:
    conv_id = bot.ids.parse_chat_id(chat_id)
    if conv_id is None:
        raise CoreError(Reason.UNKNOWN_GROUP, f"invalid chat_id {chat_id!r}")
    return await bot.core.groups.by_conv(bot.workspace, conv_id)


async def _account(bot: Bot, id_type: str, value: str) -> str:
    account = await bot.account_of(id_type, value)
    if account is None or not bot.reaches(account):
        raise CoreError(Reason.UNKNOWN_ACCOUNT, f"invalid {id_type} {value!r}")
    return account


def _owner(bot: Bot, group: Group, id_type: str) -> tuple[str, str]:
    return bot.id_of(group.owner, id_type) if group.owner else ("", id_type)


async def create(bot: Bot, p: R.CreateChatParams, body: R.CreateChatBody) -> R.Chat:
    """``POST /open-apis/im/v1/chats``: a group with the bot, the users and the bots named."""
    owner = bot.app_id
    if body.owner_id:
        owner = await _account(bot, p.user_id_type, body.owner_id)
    users = [await _account(bot, p.user_id_type, u) for u in body.user_id_list]
    bots = [await _account(bot, "app_id", b) for b in body.bot_id_list]
    group = await bot.core.groups.create(
        bot.workspace,
        group_id=f"@FS#{secrets.token_hex(8).upper()}",
        group_type=GroupType.PUBLIC if body.chat_type == "public" else GroupType.WORK,
        name=body.name,
        owner=owner,
        members=[bot.app_id, *users, *bots],
    )
    owner_id, owner_id_type = _owner(bot, group, p.user_id_type)
    return R.Chat(
        chat_id=bot.ids.chat_id(group.conv_id),
        avatar="",
        name=group.name,
        description="",
        owner_id=owner_id,
        owner_id_type=owner_id_type,
        chat_mode="group",
        chat_type=body.chat_type,
        external=False,
        tenant_key=bot.tenant_key,
    )


def _chat_type(group: Group) -> str:
    return "public" if group.type is GroupType.PUBLIC else "private"


async def get(bot: Bot, p: R.ChatParams, _: None) -> R.ChatInfo:
    """``GET /open-apis/im/v1/chats/:chat_id``: a chat the bot is in."""
    group = await _group(bot, p.chat_id)
    group, members = await bot.core.groups.members(bot.workspace, group.group_id, viewer=bot.app_id)
    bots = sum(1 for m in members if bot.is_bot(m.user_id))
    owner_id, owner_id_type = _owner(bot, group, p.user_id_type)
    return R.ChatInfo(
        avatar="",
        name=group.name,
        description="",
        owner_id=owner_id,
        owner_id_type=owner_id_type,
        chat_mode="group",
        chat_type=_chat_type(group),
        external=False,
        tenant_key=bot.tenant_key,
        user_count=str(len(members) - bots),
        bot_count=str(bots),
        chat_status="normal",
    )


async def list_(bot: Bot, p: R.ListChatsParams, _: None) -> R.ChatPage:
    """``GET /open-apis/im/v1/chats``: the chats the bot is in, oldest first."""
    after = _page_position(p.page_token)
    found = await bot.core.groups.of_member(
        bot.workspace, bot.app_id, after_conv=after, limit=p.page_size + 1
    )
    page = found[: p.page_size]
    more = len(found) > p.page_size
    items = []
    for group in page:
        owner_id, owner_id_type = _owner(bot, group, p.user_id_type)
        items.append(
            R.ListChat(
                chat_id=bot.ids.chat_id(group.conv_id),
                avatar="",
                name=group.name,
                description="",
                owner_id=owner_id,
                owner_id_type=owner_id_type,
                external=False,
                tenant_key=bot.tenant_key,
                chat_status="normal",
            )
        )
    return R.ChatPage(
        items=items,
        page_token=R.page_token(str(page[-1].conv_id)) if more else None,
        has_more=more,
    )


async def _resolve(bot: Bot, id_type: str, id_list: list[str]) -> tuple[dict[str, str], list[str]]:
    """``({account: id as given}, invalid ids)``; ids outside the bot's reach are invalid."""
    accounts: dict[str, str] = {}
    invalid = []
    for value in dict.fromkeys(id_list):
        account = await bot.account_of(id_type, value)
        if account is None or not bot.reaches(account):
            invalid.append(value)
        else:
            accounts[account] = value
    return accounts, invalid


async def add_members(bot: Bot, p: R.MembersParams, body: R.MembersBody) -> R.MembersAdded:
    """``POST /open-apis/im/v1/chats/:chat_id/members``: the bot adds users or bots."""
    group = await _group(bot, p.chat_id)
    accounts, invalid = await _resolve(bot, p.member_id_type, body.id_list)
    change = await bot.core.groups.add_members(
        bot.workspace, group.group_id, list(accounts), by=bot.app_id
    )
    return R.MembersAdded(
        invalid_id_list=invalid,
        not_existed_id_list=[accounts[u] for u in change.unknown],
        pending_approval_id_list=[],
    )


async def remove_members(bot: Bot, p: R.MembersParams, body: R.MembersBody) -> R.MembersRemoved:
    """``DELETE /open-apis/im/v1/chats/:chat_id/members`` (a JSON body): ids that name no
    member are returned as invalid."""
    group = await _group(bot, p.chat_id)
    accounts, invalid = await _resolve(bot, p.member_id_type, body.id_list)
    change = await bot.core.groups.remove_members(
        bot.workspace, group.group_id, list(accounts), by=bot.app_id
    )
    return R.MembersRemoved(invalid + [accounts[u] for u in change.missing])


async def list_members(bot: Bot, p: R.ListMembersParams, _: None) -> R.MemberPage:
    """``GET /open-apis/im/v1/chats/:chat_id/members``: users (not bots), oldest member first."""
    group = await _group(bot, p.chat_id)
    bot.require_id_type(p.member_id_type)
    offset = _page_position(p.page_token)
    group, members = await bot.core.groups.members(bot.workspace, group.group_id, viewer=bot.app_id)
    users = [m.user_id for m in members if not bot.is_bot(m.user_id)]
    page = users[offset : offset + p.page_size]
    profiles = await bot.core.directory.profiles(bot.workspace, page)
    more = offset + p.page_size < len(users)
    return R.MemberPage(
        items=[
            R.ListMember(
                member_id_type=p.member_id_type,
                member_id=bot.id_of(u, p.member_id_type)[0],
                name=(profiles[u].nick if u in profiles else "") or u,
                tenant_key=bot.tenant_key,
            )
            for u in page
        ],
        page_token=R.page_token(str(offset + p.page_size)) if more else None,
        has_more=more,
        member_total=len(users),
    )

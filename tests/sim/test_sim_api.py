"""The simulation API (/sim/v1): acting as any account goes through the same core calls as TIM."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.sim import SimClient, SimError
from clients.tim import TimClient
from clients.tim_rest import TimRestClient
from protocol import sim as S
from protocol.tim import ids as tim_ids
from server.core.errors import Reason
from server.sim.errors import TABLE
from tests.harness import Running, running_server

USERS = ["alice", "bob", "carol"]


@dataclass
class World:
    srv: Running
    sim: SimClient
    admin: TimRestClient
    stack: contextlib.AsyncExitStack

    async def login(self, user: str) -> TimClient:
        client = self.srv.client(user)
        await client.login()
        self.stack.push_async_callback(client.close)
        return client


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A server with alice, bob and carol, the group "team" (all three) and "duo" (alice, bob)."""
    async with (
        running_server(tmp_path / "im.sqlite3") as srv,
        srv.admin() as admin,
        SimClient(srv.base_url) as sim,
        contextlib.AsyncExitStack() as stack,
    ):
        await admin.import_accounts(*USERS)
        await admin.create_group("Work", "team", USERS, group_id="team", owner="alice")
        await admin.create_group("Work", "duo", ["alice", "bob"], group_id="duo", owner="alice")
        yield World(srv, sim, admin, stack)


async def unread(world: World, user: str, peer: str) -> int:
    result = await world.admin.call(
        "openim", "get_c2c_unread_msg_num", {"To_Account": user, "Peer_Account": [peer]}
    )
    return int(result["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"])


# -- messages ---------------------------------------------------------------------------------


async def test_send_c2c_answers_the_ids_of_both_dialects(world: World) -> None:
    """A sim send answers the om_ id, the TIM msgID, the seq and the chat id of one stored
    message, which the receiver's TIM session gets as a new message."""
    bob = await world.login("bob")
    sent = await world.sim.send("alice", to_user="bob", text="hello")
    pushed = await bob.next_push("onRecvNewMessage")
    assert pushed.msgID == sent.msg_id and pushed.sender == "alice" and sent.seq == 1
    number = world.srv.ids.parse_message_id(sent.message_id)
    parts = tim_ids.parse_msg_id(sent.msg_id)
    assert parts is not None and number == parts.id
    message = await world.srv.wiring.core.messages.get(S.DEFAULT_WORKSPACE, number)
    assert world.srv.ids.parse_chat_id(sent.chat_id) == message.conv_id
    assert [e.text for e in message.body] == ["hello"]


async def test_send_by_group_id_and_chat_id_reaches_the_same_conversation(world: World) -> None:
    """A group message by group_id and one by its chat_id land in the same group; a p2p chat_id
    sends to the other side of the pair."""
    first = await world.sim.send("alice", group_id="team", text="one")
    second = await world.sim.send("bob", chat_id=first.chat_id, text="two")
    assert (second.chat_id, second.seq) == (first.chat_id, 2)
    hello = await world.sim.send("alice", to_user="bob", text="hi bob")
    answer = await world.sim.send("bob", chat_id=hello.chat_id, text="hi alice")
    message = await world.srv.wiring.core.messages.get(
        S.DEFAULT_WORKSPACE, world.srv.ids.parse_message_id(answer.message_id) or 0
    )
    assert (message.sender, message.receiver, answer.seq) == ("bob", "alice", 2)


async def test_send_keeps_feishu_content_mentions_and_reply(world: World) -> None:
    """A Feishu text content becomes a plain text, another msg_type is kept verbatim; mentions
    and the replied-to message are stored with the message."""
    core = world.srv.wiring.core
    parent = await world.sim.send("alice", group_id="team", text="question")
    text = await world.sim.send(
        "bob",
        group_id="team",
        msg_type="text",
        content='{"text": "hi @_user_1"}',
        mentions=["carol"],
        reply_to=parent.msg_id,
    )
    post = await world.sim.send(
        "bob", group_id="team", msg_type="post", content={"zh_cn": {"title": "T"}}
    )
    stored = await core.messages.get(S.DEFAULT_WORKSPACE, tim_ids.parse_msg_id(text.msg_id).id)  # type: ignore[union-attr]
    assert [e.text for e in stored.body] == ["hi @_user_1"]
    assert stored.mentions == ("carol",)
    assert stored.parent_id == tim_ids.parse_msg_id(parent.msg_id).id  # type: ignore[union-attr]
    stored = await core.messages.get(S.DEFAULT_WORKSPACE, tim_ids.parse_msg_id(post.msg_id).id)  # type: ignore[union-attr]
    assert [(e.kind, e.data) for e in stored.body] == [("feishu:post", {"zh_cn": {"title": "T"}})]


# -- reads ------------------------------------------------------------------------------------


async def test_sim_read_reaches_the_tim_sender_and_clears_unread(world: World) -> None:
    """A sim C2C read is the same core read as TIM's: the TIM sender gets onRecvC2CReadReceipt,
    its messages show isPeerRead, and the reader's unread count drops to zero."""
    alice = await world.login("alice")
    await alice.send_c2c_message("bob", "one")
    await alice.send_c2c_message("bob", "two")
    assert await unread(world, "bob", "alice") == 2
    result = await world.sim.read("bob", peer="alice")
    receipts = await alice.next_push("onRecvC2CReadReceipt")
    assert receipts[0].userID == "bob" and receipts[0].timestamp > 0
    assert [m.isPeerRead for m in await alice.history(user_id="bob")] == [True, True]
    assert await unread(world, "bob", "alice") == 0
    assert (result.read_seq, result.unread_total, len(result.newly_read)) == (2, 0, 2)


async def test_read_up_to_a_message_stops_there(world: World) -> None:
    """``up_to`` (an om_ id or a TIM msgID) reads up to that message and no further, in a C2C
    chat and in a group."""
    sent = [await world.sim.send("alice", to_user="bob", text=str(i)) for i in range(3)]
    result = await world.sim.read("bob", peer="alice", up_to=sent[1].message_id)
    assert result.read_seq == 2 and result.newly_read == [s.message_id for s in sent[:2]]
    assert await unread(world, "bob", "alice") == 1
    result = await world.sim.read("bob", chat_id=sent[0].chat_id, up_to=sent[2].msg_id)
    assert (result.read_seq, result.unread_total) == (3, 0)
    group = [await world.sim.send("alice", group_id="team", text=str(i)) for i in range(2)]
    result = await world.sim.read("carol", group_id="team", up_to=group[0].message_id)
    assert result.read_seq == 1
    assert await world.srv.wiring.core.reads.group_unread(S.DEFAULT_WORKSPACE, "carol", "team") == 1


async def test_read_up_to_a_message_of_another_conversation_is_refused(world: World) -> None:
    """Reading up to a message that is not in the conversation answers 400 INVALID."""
    elsewhere = await world.sim.send("alice", group_id="duo", text="x")
    with pytest.raises(SimError) as err:
        await world.sim.read("bob", peer="alice", up_to=elsewhere.message_id)
    assert (err.value.status, err.value.code) == (400, S.INVALID)
    assert elsewhere.message_id in err.value.msg


# -- reactions --------------------------------------------------------------------------------


async def test_reactions_add_and_remove(world: World) -> None:
    """A reaction is added once per emoji and account, removed by its author only, and gone
    after removal."""
    sent = await world.sim.send("alice", group_id="team", text="vote")
    reaction = await world.sim.react("bob", sent.message_id, "THUMBSUP")
    assert world.srv.ids.parse_reaction_id(reaction) is not None
    assert await world.sim.react("bob", sent.msg_id, "THUMBSUP") == reaction
    with pytest.raises(SimError) as err:
        await world.sim.unreact("carol", sent.message_id, reaction)
    assert (err.value.status, err.value.code) == (400, S.NOT_ALLOWED)
    await world.sim.unreact("bob", sent.message_id, reaction)
    with pytest.raises(SimError) as err:
        await world.sim.unreact("bob", sent.message_id, reaction)
    assert (err.value.status, err.value.code) == (404, S.UNKNOWN_REACTION)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "named"),
    [
        ("/sim/v1/messages", b"{not json", 400, S.BAD_REQUEST, "invalid body"),
        (
            "/sim/v1/messages",
            {"sender": "alice", "to_user": "bob", "group_id": "team", "text": "x"},
            400,
            S.BAD_REQUEST,
            "exactly one of",
        ),
        (
            "/sim/v1/messages",
            {"sender": "alice", "to": "bob", "text": "x"},
            400,
            S.BAD_REQUEST,
            "`to`",
        ),
        (
            "/sim/v1/messages",
            {"workspace": 7, "sender": "alice", "to_user": "bob", "text": "x"},
            404,
            S.UNKNOWN_WORKSPACE,
            "7",
        ),
        (
            "/sim/v1/messages",
            {"sender": "zed", "to_user": "bob", "text": "x"},
            404,
            S.UNKNOWN_ACCOUNT,
            "zed",
        ),
        (
            "/sim/v1/messages",
            {"sender": "alice", "to_user": "bob", "text": ""},
            400,
            S.INVALID,
            "empty",
        ),
        (
            "/sim/v1/messages",
            {"sender": "alice", "chat_id": "oc_nope", "text": "x"},
            404,
            S.UNKNOWN_CHAT,
            "oc_nope",
        ),
        (
            "/sim/v1/messages",
            {"sender": "carol", "group_id": "duo", "text": "x"},
            400,
            S.NOT_GROUP_MEMBER,
            "carol",
        ),
        (
            "/sim/v1/messages",
            {"sender": "alice", "to_user": "bob", "text": "x", "reply_to": "om_x"},
            404,
            S.UNKNOWN_MESSAGE,
            "om_x",
        ),
        ("/sim/v1/reads", {"user": "carol", "group_id": "duo"}, 400, S.NOT_GROUP_MEMBER, "duo"),
        ("/sim/v1/reads", {"user": "bob", "group_id": "nope"}, 404, S.UNKNOWN_CHAT, "nope"),
        (
            "/sim/v1/reactions",
            {"user": "bob", "message_id": "1-2-3", "emoji_type": "OK"},
            404,
            S.UNKNOWN_MESSAGE,
            "1-2-3",
        ),
    ],
)
async def test_refusals_answer_a_code_and_a_message_naming_the_problem(
    world: World, path: str, body: bytes | dict[str, object], status: int, code: int, named: str
) -> None:
    """Every refusal is HTTP 400/404 with a non-zero code and a message naming the offending
    value."""
    got_status, answer = await world.sim.raw("POST", path, body)
    assert (got_status, answer["code"]) == (status, code), answer
    assert named in answer["msg"]


async def test_p2p_chat_of_others_is_refused(world: World) -> None:
    """A third account cannot write to or read another pair's p2p chat."""
    sent = await world.sim.send("alice", to_user="bob", text="private")
    for call in (
        world.sim.send("carol", chat_id=sent.chat_id, text="hi"),
        world.sim.read("carol", chat_id=sent.chat_id),
    ):
        with pytest.raises(SimError) as err:
            await call
        assert (err.value.status, err.value.code) == (400, S.NOT_ALLOWED)


async def test_unknown_sim_route_answers_json(world: World) -> None:
    """An unknown /sim path answers 404 with a JSON code and message."""
    status, answer = await world.sim.raw("POST", "/sim/v1/nothing", {})
    assert status == 404 and answer["code"] != 0 and "/sim/v1/nothing" in answer["msg"]


def test_every_reason_has_a_sim_code() -> None:
    """The simulation API's one error table covers every neutral reason."""
    assert set(TABLE) == set(Reason)


def test_doc_names_every_route_and_error_code() -> None:
    """docs/simulation.md documents every route and every error code."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "simulation.md").read_text()
    codes = [
        v for k, v in vars(S).items() if k.isupper() and isinstance(v, int) and 40000 <= v < 50000
    ]
    assert [c for c in codes if f"| {c} |" not in doc] == []
    for route in ("POST /sim/v1/messages", "POST /sim/v1/reads", "POST /sim/v1/reactions"):
        assert route in doc
    assert "DELETE /sim/v1/reactions" in doc

"""The bad inputs found by hand before the property tests existed, each refused with its
documented code (each was an internal error, an overflow in SQLite, or accepted)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from protocol.tim import errors as E
from protocol.tim.usersig import gen_usersig
from server.settings import DEFAULT_ADMIN as ADMIN
from tests.fuzz.conftest import World
from tests.fuzz.support import snapshot
from tests.harness import KEY, SDKAPPID

DEEP = "[" * 2000 + "]" * 2000


def _rest(world: World, service: str, command: str, body: str, **query: Any) -> dict[str, Any]:
    sig = gen_usersig(SDKAPPID, KEY, ADMIN, now=int(time.time()))
    params = {"sdkappid": SDKAPPID, "identifier": ADMIN, "usersig": sig, **query}
    resp = httpx.post(
        f"{world.srv.base_url}/v4/{service}/{command}", params=params, content=body, timeout=30
    )
    assert resp.status_code == 200
    answer: dict[str, Any] = resp.json()
    return answer


REST_CASES = [
    ("group_open_http_svc", "destroy_group", '{"GroupId":"x","x":' + DEEP + "}"),
    ("openim", "admin_getroammsg",
     '{"Operator_Account":"alice","Peer_Account":"bob","MaxCnt":1,"MinTime":0,"MaxTime":1e16}'),
    ("openim", "admin_getroammsg",
     '{"Operator_Account":"alice","Peer_Account":"bob","MaxCnt":1,"MinTime":0,'
     '"MaxTime":10000000000000000}'),
    ("group_open_http_svc", "group_msg_get_simple",
     '{"GroupId":"g1","ReqMsgNumber":1,"ReqMsgSeq":9223372036854775807}'),
    ("group_open_http_svc", "get_group_msg_receipt_detail",
     '{"GroupId":"g1","MsgSeq":1,"Filter":0,"Cursor":"99999999999999999999"}'),
    ("group_open_http_svc", "get_group_msg_receipt_detail",
     '{"GroupId":"g1","MsgSeq":1,"Filter":0,"Cursor":"²"}'),
    ("openim", "c2c_msg_read_receipt",
     '{"From_Account":"bob","To_Account":"alice","MsgKey":"9999999999999999999_1_1"}'),
]  # fmt: skip


@pytest.mark.parametrize(("service", "command", "body"), REST_CASES)
def test_known_rest_inputs_are_refused_without_an_internal_error(
    world: World, service: str, command: str, body: str
) -> None:
    """Each input found by hand gets a refusal, not 10002, and changes nothing."""
    before = snapshot(world.db)
    answer = _rest(world, service, command, body)
    assert answer["ActionStatus"] == "FAIL" and answer["ErrorCode"] != E.INTERNAL, answer
    assert snapshot(world.db) == before


@pytest.mark.parametrize("sdkappid", ["²", "١٤٠٠٠٠٠٠٠٠", "１４００００００００"])
def test_only_ascii_digits_are_an_sdkappid(world: World, sdkappid: str) -> None:
    """An sdkappid of non-ASCII digits is not a number (Arabic-Indic digits are not read as
    1400000000)."""
    answer = _rest(world, "openim", "get_c2c_unread_msg_num", '{"To_Account":"bob"}',
                   sdkappid=sdkappid)  # fmt: skip
    assert answer["ErrorCode"] == E.REST_URL_ERROR, answer


WS_CASES = [
    '{"cmd":"getConversation","reqId":7,"conversationID":"c2c_alice","x":' + DEEP + "}",
    '{"cmd":"sendMessageReadReceipts","reqId":7,"msgIDList":["9999999999999999999-1-1"]}',
    '{"cmd":"getGroupHistoryMessageList","reqId":7,"groupID":"g1",'
    '"lastMsgID":"9999999999999999999-1-1"}',
    '{"cmd":"getGroupMessageReadMemberList","reqId":7,"msgID":"1-1-1","filter":0,'
    '"nextSeq":9223372036854775808}',
]


@pytest.mark.parametrize("frame", WS_CASES)
def test_known_ws_frames_are_answered_and_the_session_lives(world: World, frame: str) -> None:
    """Each frame found by hand gets a refusal on /tim/ws, addressed to its reqId, and the
    session goes on."""
    sig = gen_usersig(SDKAPPID, KEY, "bob", now=int(time.time()))
    with connect(world.srv.ws_url) as ws:
        login = {"cmd": "login", "reqId": 1, "sdkAppID": SDKAPPID, "userID": "bob",
                 "userSig": sig}  # fmt: skip
        ws.send(json.dumps(login))
        assert json.loads(ws.recv(timeout=10)).get("code", 0) == 0
        before = snapshot(world.db)
        ws.send(frame)
        answer = json.loads(ws.recv(timeout=10))
        assert answer.get("code", 0) not in (0, E.INTERNAL), answer
        assert answer["reqId"] == 7, answer  # addressed, even when the frame is not JSON
        assert snapshot(world.db) == before
        ws.send('{"cmd":"getConversation","reqId":8,"conversationID":"c2c_alice"}')
        assert json.loads(ws.recv(timeout=10)).get("reqId") == 8


SIM_CASES = [
    ("/sim/v1/reads", {"user": "bob", "peer": "alice", "up_to": "9999999999999999999-1-1"}),
    ("/sim/v1/messages",
     {"sender": "bob", "to_user": "alice", "text": "x", "reply_to": "9999999999999999999-1-1"}),
    ("/sim/v1/reactions",
     {"user": "bob", "message_id": "9999999999999999999-1-1", "emoji_type": "SMILE"}),
    ("/sim/v1/messages", {"sender": "bob", "to_user": "alice", "text": "x", "workspace": 2**64}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), SIM_CASES)
def test_known_sim_inputs_are_refused_with_a_sim_code(
    world: World, path: str, body: dict[str, Any]
) -> None:
    """Each sim input found by hand is a 4xx with the sim's error body, changing nothing."""
    before = snapshot(world.db)
    resp = httpx.post(world.srv.base_url + path, json=body, timeout=30)
    assert 400 <= resp.status_code < 500, resp.text
    assert isinstance(resp.json()["code"], int)
    assert snapshot(world.db) == before


def test_deep_nesting_is_refused_by_feishu_and_discovery_answers_200(world: World) -> None:
    """A body nested 2,000 levels is a parameter error for the token endpoint and HTTP 200 for
    long-connection discovery, as Feishu documents it."""
    base = world.srv.base_url
    token = httpx.post(f"{base}/open-apis/auth/v3/tenant_access_token/internal",
                       content='{"app_id":' + DEEP + "}", timeout=30)  # fmt: skip
    assert token.status_code == 400 and token.json()["code"] != 0, token.text
    discovery = httpx.post(f"{base}/callback/ws/endpoint", content='{"AppID":' + DEEP + "}")
    assert discovery.status_code == 200 and discovery.json()["code"] != 0, discovery.text

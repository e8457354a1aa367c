"""A Feishu bot written as Feishu's own documentation shows it, pointed at this server.

    scripts/serve --config examples/feishu.toml      # in one terminal
    .venv/bin/pip install -e '.[examples]'           # once: lark-oapi, the bot's own SDK
    .venv/bin/python examples/feishu_bot.py          # in another

Only the domain differs from a bot for the real Feishu. The bot receives its events over the
long connection (``lark.ws.Client``): it answers every message with an echo, and when a user
reads its messages (``im.message.message_read_v1``) it asks ``read_users`` who has read them.
Act as the users with the simulation API (README, docs/simulation.md). Environment:
``FEISHU_DOMAIN`` (default http://127.0.0.1:8080), ``APP_ID``, ``APP_SECRET``.
"""

from __future__ import annotations

import json
import os
import sys

try:
    import lark_oapi as lark
except ModuleNotFoundError:  # scripts/serve installs the server, not the bots' SDKs
    sys.exit("examples/feishu_bot.py needs lark-oapi: .venv/bin/pip install -e '.[examples]'")
from lark_oapi.api.im.v1 import (
    P2ImMessageMessageReadV1,
    P2ImMessageReceiveV1,
    ReadUsersMessageRequest,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)

DOMAIN = os.environ.get("FEISHU_DOMAIN", "http://127.0.0.1:8080")  # no trailing slash
APP_ID = os.environ.get("APP_ID", "cli_a1b2c3d4e5f60718")
APP_SECRET = os.environ.get("APP_SECRET", "demo-secret")

client = lark.Client.builder().app_id(APP_ID).app_secret(APP_SECRET).domain(DOMAIN).build()


def on_message(data: P2ImMessageReceiveV1) -> None:
    message = data.event.message
    text = json.loads(message.content).get("text", "")
    print(f"receive_v1: {text!r} in a {message.chat_type} chat", flush=True)
    body = (
        ReplyMessageRequestBody.builder()
        .msg_type("text")
        .content(json.dumps({"text": f"echo: {text}"}))
        .build()
    )
    request = ReplyMessageRequest.builder().message_id(message.message_id).request_body(body)
    response = client.im.v1.message.reply(request.build())
    if response.success():
        print(f"replied {response.data.message_id}", flush=True)
    else:
        print(f"reply failed: {response.code} {response.msg}", flush=True)


def on_read(data: P2ImMessageMessageReadV1) -> None:
    event = data.event
    reader = event.reader.reader_id.user_id or event.reader.reader_id.open_id
    print(f"message_read_v1: {reader} read {len(event.message_id_list)} message(s)", flush=True)
    for message_id in event.message_id_list:
        request = (
            ReadUsersMessageRequest.builder().message_id(message_id).user_id_type("user_id").build()
        )
        response = client.im.v1.message.read_users(request)
        if response.success():
            readers = [(u.user_id, u.timestamp) for u in response.data.items or []]
            print(f"read_users {message_id}: {readers}", flush=True)
        else:
            print(f"read_users failed: {response.code} {response.msg}", flush=True)


handler = (
    lark.EventDispatcherHandler.builder("", "")
    .register_p2_im_message_receive_v1(on_message)
    .register_p2_im_message_message_read_v1(on_read)
    .build()
)

if __name__ == "__main__":
    print(f"bot {APP_ID} connecting to {DOMAIN}", flush=True)
    lark.ws.Client(
        APP_ID, APP_SECRET, event_handler=handler, domain=DOMAIN, log_level=lark.LogLevel.WARNING
    ).start()

"""The README's five-minute walk-through: start the server (scripts/serve), then run
`.venv/bin/python examples/walkthrough.py`.

Two users in a group, a message that asks for read receipts, one receipt, and what the sender sees.
"""

from __future__ import annotations

import asyncio
import sys

from clients.tim import READ, UNREAD, TimClient
from clients.tim_rest import TimRestClient

SDKAPPID = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"


async def main(SERVER: str = "127.0.0.1:8080") -> None:
    # 1. As the App admin (REST): three accounts and a Work group.
    async with TimRestClient(f"http://{SERVER}", SDKAPPID, KEY) as admin:
        await admin.import_accounts("alice", "bob", "carol")
        group = await admin.create_group("Work", "walk-through", ["alice", "bob", "carol"])
        print(f"created group {group}")

    # 2. Alice and Bob log in over the WebSocket (UserSigs minted locally with the key).
    alice = TimClient(f"ws://{SERVER}/tim/ws", SDKAPPID, "alice", secret_key=KEY)
    bob = TimClient(f"ws://{SERVER}/tim/ws", SDKAPPID, "bob", secret_key=KEY)
    alice.on_recv_message_read_receipts = lambda receipts: print(
        "alice <- onRecvMessageReadReceipts:",
        [f"{r.readCount} read, {r.unreadCount} unread" for r in receipts],
    )
    await alice.login()
    await bob.login()

    # 3. Alice sends a message that asks for read receipts; Bob receives it.
    sent = await alice.send_group_message(group, "Lunch at noon?", need_read_receipt=True)
    received = await bob.next_push("onRecvNewMessage")
    print(f"bob <- onRecvNewMessage: {received.elemList[0].MsgContent} (msgID {received.msgID})")

    # 4. Bob reads it: one receipt. Alice is told "1 read, 1 unread".
    await bob.send_message_read_receipts([received])
    await alice.next_push("onRecvMessageReadReceipts")

    # 5. Alice asks who has and has not read it.
    (receipt,) = await alice.get_message_read_receipts([sent])
    read = await alice.get_group_message_read_member_list(sent, READ)
    unread = await alice.get_group_message_read_member_list(sent, UNREAD)
    print(
        f"alice: {receipt.readCount} read {[m.userID for m in read.members]}, "
        f"{receipt.unreadCount} unread {[m.userID for m in unread.members]}"
    )

    await alice.close()
    await bob.close()


if __name__ == "__main__":
    server = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
    try:
        asyncio.run(main(server))
    except OSError as exc:  # aiohttp's and websockets' connection errors are OSErrors
        sys.exit(f"cannot reach the server at {server} ({exc.__class__.__name__}); start it first"
                 " with scripts/serve")  # fmt: skip

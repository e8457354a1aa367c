"""The README walk-through, end to end: two users, a group message, receipts."""

from __future__ import annotations

from pathlib import Path

from clients.tim import READ, UNREAD
from tests.harness import running_server


async def test_group_receipt_walkthrough(tmp_path: Path) -> None:
    """A receiver's receipt reaches the sender as onRecvMessageReadReceipts with new totals."""
    async with running_server(tmp_path / "im.sqlite3") as srv:
        async with srv.admin() as admin:
            await admin.import_accounts("alice", "bob", "carol")
            await admin.create_group("Work", "team", ["alice", "bob", "carol"], group_id="team1")
        async with srv.client("alice") as alice, srv.client("bob") as bob:
            msg = await alice.send_group_message("team1", "hi team", need_read_receipt=True)
            assert msg.needReadReceipt
            pushed = await bob.next_push("onRecvNewMessage")
            assert pushed.msgID == msg.msgID
            await bob.send_message_read_receipts([pushed])
            receipts = await alice.next_push("onRecvMessageReadReceipts")
            assert [(r.msgID, r.readCount, r.unreadCount) for r in receipts] == [(msg.msgID, 1, 1)]
            got = await alice.get_message_read_receipts([msg])
            assert (got[0].readCount, got[0].unreadCount) == (1, 1)
            read = await alice.get_group_message_read_member_list(msg, READ)
            unread = await alice.get_group_message_read_member_list(msg, UNREAD)
            assert [m.userID for m in read.members] == ["bob"]
            assert [m.userID for m in unread.members] == ["carol"]
            assert read.isFinished and unread.isFinished

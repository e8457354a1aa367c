// Four SDK instances: C2C and group messages with needReadReceipt, MESSAGE_RECEIVED, receipts
// and MESSAGE_READ_RECEIPT_RECEIVED with the right counts, getMessageReadReceiptList,
// getGroupMessageReadMemberList paged until complete (each member once), setMessageRead ->
// MESSAGE_READ_BY_PEER, and the same numbers seen over TIM's REST API.
import assert from "node:assert/strict";
import { User, done, rest, step } from "./lib.mjs";

const users = ["alice", "bob", "carol", "dave", "erin"];
let alice, bob, carol, dave, c2c, onBob, group, inGroup;

await step("accounts and a Work group of five over REST", async () => {
  assert.equal((await rest("im_open_login_svc", "multiaccount_import", { Accounts: users })).ErrorCode, 0);
  const created = await rest("group_open_http_svc", "create_group", {
    Type: "Work", Name: "Team", GroupId: "team", Owner_Account: "alice",
    MemberList: users.slice(1).map((u) => ({ Member_Account: u })),
  });
  assert.equal(created.ErrorCode, 0, JSON.stringify(created));
});

await step("four SDK instances log in (erin stays offline)", async () => {
  [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map((u) => new User(u).login()));
});

await step("a C2C message with needReadReceipt reaches bob with the sender's message id", async () => {
  const got = bob.next(bob.EVENT.MESSAGE_RECEIVED);
  c2c = await alice.sendText("bob", "hello bob");
  [onBob] = await got;
  assert.equal(onBob.ID, c2c.ID);
  assert.equal(onBob.needReadReceipt, true);
  assert.equal(onBob.flow, "in");
  assert.equal(onBob.payload.text, "hello bob");
});

await step("bob's C2C receipt reaches alice: isPeerRead with a timestamp", async () => {
  const heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt([onBob]);
  const [r] = await heard;
  assert.equal(r.messageID, c2c.ID);
  assert.equal(r.userID, "bob");
  assert.equal(r.isPeerRead, true);
  assert.ok(r.timestamp > 0);
  const roamed = await rest("openim", "admin_getroammsg", {
    Operator_Account: "alice", Peer_Account: "bob", MaxCnt: 10, MinTime: 0, MaxTime: 2 ** 32,
  });
  assert.deepEqual(roamed.MsgList.map((m) => m.IsPeerRead), [1]);
});

await step("a group message reaches every online member with one id", async () => {
  const waits = [bob, carol, dave].map((u) => u.next(u.EVENT.MESSAGE_RECEIVED, (d) => d[0].conversationType === "GROUP"));
  group = await alice.sendText("team", "lunch?", { group: true });
  inGroup = (await Promise.all(waits)).map((d) => d[0]);
  for (const m of inGroup) {
    assert.equal(m.ID, group.ID);
    assert.equal(m.needReadReceipt, true);
    assert.equal(m.sequence, group.sequence);
  }
});

await step("group receipts reach alice as 1 read / 3 unread, then 2 / 2", async () => {
  let heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt([inGroup[0]]);
  let [r] = await heard;
  assert.deepEqual([r.groupID, r.messageID, r.readCount, r.unreadCount], ["team", group.ID, 1, 3]);
  heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await carol.chat.sendMessageReadReceipt([inGroup[1]]);
  [r] = await heard;
  assert.deepEqual([r.readCount, r.unreadCount], [2, 2]);
});

await step("a repeated receipt changes nothing", async () => {
  await bob.chat.sendMessageReadReceipt([inGroup[0]]).catch(() => {});
  const res = await alice.chat.getMessageReadReceiptList([group]);
  const info = res.data.messageList[0].readReceiptInfo;
  assert.deepEqual([info.readCount, info.unreadCount], [2, 2]);
});

await step("own messages cannot be acknowledged: 2114 without a request", async () => {
  await assert.rejects(alice.chat.sendMessageReadReceipt([group]), (e) => e.code === 2114);
});

for (const [filter, expected] of [[0, ["bob", "carol"]], [1, ["dave", "erin"]]]) {
  await step(`getGroupMessageReadMemberList filter ${filter} paged by 1 lists ${expected}`, async () => {
    const seen = [];
    let cursor = "", pages = 0, completed = false;
    while (!completed) {
      const res = await alice.chat.getGroupMessageReadMemberList({ message: group, filter, cursor, count: 1 });
      const list = filter === 0 ? res.data.readUserIDList : res.data.unreadUserIDList;
      seen.push(...list);
      cursor = res.data.cursor;
      completed = res.data.isCompleted;
      assert.ok(++pages <= 5, "paging does not end");
    }
    assert.deepEqual([...seen].sort(), expected);
    assert.equal(new Set(seen).size, seen.length, "a member listed twice");
  });
}

await step("REST sees the same counts and lists", async () => {
  const counts = await rest("group_open_http_svc", "get_group_msg_receipt", { GroupId: "team", MsgSeqList: [{ MsgSeq: group.sequence }] });
  assert.deepEqual(counts.GroupMsgReceiptList, [{ Code: 0, MsgSeq: group.sequence, ReadNum: 2, UnreadNum: 2 }]);
  const unread = await rest("group_open_http_svc", "get_group_msg_receipt_detail", { GroupId: "team", MsgSeq: group.sequence, Filter: 1 });
  assert.deepEqual(unread.UnreadList.map((u) => u.Unread_Account).sort(), ["dave", "erin"]);
});

await step("setMessageRead on C2C raises MESSAGE_READ_BY_PEER at the sender", async () => {
  const second = await alice.sendText("bob", "no receipt asked", { receipt: false });
  await bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].ID === second.ID, 5000, { includePast: true });
  const heard = alice.next(alice.EVENT.MESSAGE_READ_BY_PEER);
  await bob.chat.setMessageRead({ conversationID: "C2Calice" });
  const read = await heard;
  assert.ok(read.some((m) => m.ID === second.ID));
  const conv = (await bob.chat.getConversationProfile("C2Calice")).data.conversation;
  assert.equal(conv.unreadCount, 0);
});

await step("setMessageRead on the group clears dave's unread count without a receipt", async () => {
  await dave.chat.setMessageRead({ conversationID: "GROUPteam" });
  const res = await alice.chat.getMessageReadReceiptList([group]);
  assert.equal(res.data.messageList[0].readReceiptInfo.readCount, 2);
  const list = (await dave.chat.getConversationList()).data.conversationList;
  assert.equal(list.find((c) => c.conversationID === "GROUPteam").unreadCount, 0);
});

await step("logout", async () => {
  for (const u of [alice, bob, carol, dave]) await u.destroy();
});
done();

// A user who was offline logs in: getConversationList shows each conversation's unread count
// and last message, getMessageList pages through what was sent meanwhile (C2C and group) with
// the ids the sender has, and receipts for those messages reach the sender.
import assert from "node:assert/strict";
import { User, done, rest, step } from "./lib.mjs";

let alice, bob;
const c2c = [], grp = [];
await step("setup", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
  const g = await rest("group_open_http_svc", "create_group", {
    Type: "Public", Name: "Offline club", GroupId: "club", Owner_Account: "alice",
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "carol" }],
  });
  assert.equal(g.ErrorCode, 0);
  alice = await new User("alice").login();
});

await step("alice sends 18 C2C and 17 group messages while bob is offline", async () => {
  for (let i = 0; i < 18; i++) c2c.push(await alice.sendText("bob", `c2c ${i}`));
  for (let i = 0; i < 17; i++) grp.push(await alice.sendText("club", `group ${i}`, { group: true }));
  const rest2 = await rest("openim", "sendmsg", { From_Account: "carol", To_Account: "bob", MsgRandom: 7, MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "from REST" } }] });
  assert.equal(rest2.ErrorCode, 0);
});

await step("bob logs in: the conversation list has the unread counts and last messages", async () => {
  bob = await new User("bob").login();
  // page_get brings the list (C2C unread counts are 0 there, as on Tencent's cloud), getmsg
  // the C2C unread counts: wait until both are in
  const unread = (l, id) => (l.find((c) => c.conversationID === id) || {}).unreadCount;
  const list = await bob.conversations((l) => l.length === 3 && unread(l, "C2Calice") > 0);
  const byId = Object.fromEntries(list.map((c) => [c.conversationID, c]));
  assert.equal(byId.C2Calice.unreadCount, 18);
  assert.equal(byId.C2Calice.lastMessage.payload.text, "c2c 17");
  assert.equal(byId.C2Ccarol.unreadCount, 1);
  assert.equal(byId.GROUPclub.unreadCount, 17);
  assert.equal(byId.GROUPclub.lastMessage.payload.text, "group 16");
  assert.equal(bob.chat.getTotalUnreadMessageCount(), 36);
});

async function allMessages(conversationID) {
  let all = [], next, completed = false, pages = 0;
  while (!completed) {
    const r = await bob.chat.getMessageList({ conversationID, nextReqMessageID: next });
    all = r.data.messageList.concat(all);
    next = r.data.nextReqMessageID;
    completed = r.data.isCompleted;
    assert.ok(++pages < 10, "paging does not end");
  }
  return all;
}

let bobC2C, bobGroup;
await step("getMessageList pages through the C2C messages with the sender's ids, in order", async () => {
  bobC2C = await allMessages("C2Calice");
  assert.deepEqual(bobC2C.map((m) => m.ID), c2c.map((m) => m.ID));
  assert.ok(bobC2C.every((m) => m.needReadReceipt && m.flow === "in"));
});

await step("getMessageList pages through the group messages", async () => {
  bobGroup = await allMessages("GROUPclub");
  assert.deepEqual(bobGroup.map((m) => m.ID), grp.map((m) => m.ID));
});

await step("receipts for roamed messages reach alice", async () => {
  let heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt(bobGroup.slice(-3));
  let got = await heard;
  assert.deepEqual(got.map((r) => [r.messageID, r.readCount, r.unreadCount]).sort(), grp.slice(-3).map((m) => [m.ID, 1, 1]).sort());
  heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt([bobC2C[0]]);
  got = await heard;
  assert.deepEqual(got.map((r) => [r.messageID, r.isPeerRead]), [[c2c[0].ID, true]]);
});

await step("a new instance of alice sees bob's receipts on its history", async () => {
  const alice2 = await new User("alice").login();
  const mine = (await alice2.chat.getMessageList({ conversationID: "GROUPclub" })).data.messageList;
  const res = await alice2.chat.getMessageReadReceiptList(mine);
  const byId = Object.fromEntries(res.data.messageList.map((m) => [m.ID, m.readReceiptInfo.readCount]));
  assert.equal(byId[grp[16].ID], 1);
  assert.equal(byId[grp[10].ID], 0);
  await alice2.destroy();
});

await step("logout", async () => {
  await alice.destroy();
  await bob.destroy();
});
done();

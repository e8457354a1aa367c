// One server, one state: messages and receipts cross between TIM's REST API and the SDK.
import assert from "node:assert/strict";
import { User, done, rest, step } from "./lib.mjs";

let alice, bob;
await step("setup", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
  const g = await rest("group_open_http_svc", "create_group", {
    Type: "Work", Name: "Cross", GroupId: "cross", Owner_Account: "alice",
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "carol" }],
  });
  assert.equal(g.ErrorCode, 0);
  alice = await new User("alice").login();
  bob = await new User("bob").login();
});

await step("REST send_group_msg and sendmsg reach SDK users", async () => {
  const inGroup = bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].conversationType === "GROUP");
  const g = await rest("group_open_http_svc", "send_group_msg", {
    GroupId: "cross", From_Account: "carol", Random: 99, NeedReadReceipt: 1,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "from REST" } }],
  });
  const [m] = await inGroup;
  assert.deepEqual([m.sequence, m.random, m.from, m.needReadReceipt], [g.MsgSeq, 99, "carol", true]);
  const c2c = bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].conversationType === "C2C");
  await rest("openim", "sendmsg", {
    From_Account: "carol", To_Account: "bob", MsgRandom: 98,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "c2c from REST" } }],
  });
  assert.equal((await c2c)[0].random, 98);
});

let group, c2c;
await step("an SDK message acknowledged over REST group_msg_receipt reaches the SDK sender", async () => {
  group = await alice.sendText("cross", "ack me", { group: true });
  const heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  const r = await rest("group_open_http_svc", "group_msg_receipt", {
    GroupId: "cross", From_Account: "carol", MsgSeqList: [{ MsgSeq: group.sequence }],
  });
  assert.equal(r.ErrorCode, 0, JSON.stringify(r));
  const [got] = await heard;
  assert.deepEqual([got.messageID, got.readCount, got.unreadCount], [group.ID, 1, 1]);
});

await step("REST c2c_msg_read_receipt by the MsgKey of an SDK message reaches the SDK sender", async () => {
  c2c = await alice.sendText("bob", "ack me too");
  const heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  const key = `${c2c.sequence}_${c2c.random}_${c2c.time}`;
  const r = await rest("openim", "c2c_msg_read_receipt", {
    Operator_Account: "bob", Peer_Account: "alice",
    C2CMsgInfo: [{ From_Account: "alice", To_Account: "bob", MsgKey: key }],
  });
  assert.equal(r.ErrorCode, 0, JSON.stringify(r));
  const [got] = await heard;
  assert.deepEqual([got.messageID, got.isPeerRead], [c2c.ID, true]);
});

await step("an SDK receipt counts over REST", async () => {
  const [m] = await bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].ID === group.ID, 5000, { includePast: true });
  await bob.chat.sendMessageReadReceipt([m]);
  const counts = await rest("group_open_http_svc", "get_group_msg_receipt", { GroupId: "cross", MsgSeqList: [{ MsgSeq: group.sequence }] });
  assert.deepEqual(counts.GroupMsgReceiptList[0], { Code: 0, MsgSeq: group.sequence, ReadNum: 2, UnreadNum: 0 });
});

await step("REST admin_set_msg_read raises MESSAGE_READ_BY_PEER in the SDK", async () => {
  const heard = alice.next(alice.EVENT.MESSAGE_READ_BY_PEER);
  const r = await rest("openim", "admin_set_msg_read", { Report_Account: "bob", Peer_Account: "alice" });
  assert.equal(r.ErrorCode, 0);
  assert.ok((await heard).some((m) => m.ID === c2c.ID));
});

await step("logout", async () => {
  await alice.destroy();
  await bob.destroy();
});
done();

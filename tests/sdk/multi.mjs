// One user on two SDK instances: both receive every message and receipt, a message sent on
// one shows on the other as the user's own, and reading on one clears the other's unread count.
import assert from "node:assert/strict";
import { User, done, rest, sleep, step } from "./lib.mjs";

let bob, a, b;
await step("setup: bob, and carol on instances a and b", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["bob", "carol"] });
  bob = await new User("bob").login();
  a = await new User("carol").login();
  b = await new User("carol").login();
});

await step("a message to carol reaches both instances", async () => {
  const waits = [a, b].map((u) => u.next(u.EVENT.MESSAGE_RECEIVED));
  const sent = await bob.sendText("carol", "to both");
  for (const [m] of await Promise.all(waits)) assert.equal(m.ID, sent.ID);
});

let fromA;
await step("what instance a sends shows on instance b as carol's own", async () => {
  const onB = b.next(b.EVENT.MESSAGE_RECEIVED);
  fromA = await a.sendText("bob", "from instance a");
  const [m] = await onB;
  assert.deepEqual([m.ID, m.flow, m.conversationID], [fromA.ID, "out", "C2Cbob"]);
});

await step("bob's receipt reaches both instances", async () => {
  const heard = [a, b].map((u) => u.next(u.EVENT.MESSAGE_READ_RECEIPT_RECEIVED));
  const [m] = await bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].ID === fromA.ID, 5000, { includePast: true });
  await bob.chat.sendMessageReadReceipt([m]);
  for (const [r] of await Promise.all(heard)) assert.deepEqual([r.messageID, r.isPeerRead], [fromA.ID, true]);
});

await step("reading on instance a clears instance b's unread count", async () => {
  const got = b.next(b.EVENT.MESSAGE_RECEIVED);
  await bob.sendText("carol", "unread one");
  await got;
  const unread = (l) => (l.find((c) => c.conversationID === "C2Cbob") || {}).unreadCount;
  assert.ok((await b.conversations((l) => unread(l) > 0)).length > 0);
  await a.chat.setMessageRead({ conversationID: "C2Cbob" });
  await b.conversations((l) => unread(l) === 0);
});

await step("logging out one instance leaves the other receiving", async () => {
  await a.destroy();
  await sleep(100);
  const got = b.next(b.EVENT.MESSAGE_RECEIVED);
  const sent = await bob.sendText("carol", "still here?");
  assert.equal((await got)[0].ID, sent.ID);
  await b.destroy();
  await bob.destroy();
});
done();

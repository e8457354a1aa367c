// The server restarts under two logged-in SDK instances: both reconnect by themselves (their
// A2Keys still valid), a message sent meanwhile arrives exactly once, and messages and receipts
// flow as before.
import assert from "node:assert/strict";
import { User, done, rest, restartServer, sleep, step } from "./lib.mjs";

let alice, bob;
await step("setup", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
  alice = await new User("alice").login();
  bob = await new User("bob").login();
});

await step("the server restarts; both instances go disconnected, then connected", async () => {
  const states = (u) => u.events.filter((e) => e.name === u.EVENT.NET_STATE_CHANGE).map((e) => e.data.state);
  const back = [alice, bob].map((u) =>
    u.next(u.EVENT.NET_STATE_CHANGE, (d) => d.state === "connected" && states(u).includes("disconnected"), 20000),
  );
  await restartServer();
  await Promise.all(back);
});

await step("a message sent over REST around the reconnect reaches bob exactly once", async () => {
  const sent = await rest("openim", "sendmsg", {
    From_Account: "carol", To_Account: "bob", MsgRandom: 4242, IsNeedReadReceipt: 1,
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "after the restart" } }],
  });
  assert.equal(sent.ErrorCode, 0, JSON.stringify(sent));
  await bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d.some((m) => m.random === 4242), 10000, { includePast: true });
  await sleep(500);
  const copies = bob.events
    .filter((e) => e.name === bob.EVENT.MESSAGE_RECEIVED)
    .flatMap((e) => e.data)
    .filter((m) => m.random === 4242);
  assert.equal(copies.length, 1);
});

await step("messages and receipts flow as before", async () => {
  const got = bob.next(bob.EVENT.MESSAGE_RECEIVED, (d) => d[0].from === "alice");
  const sent = await alice.sendText("bob", "round trip");
  const [m] = await got;
  assert.equal(m.ID, sent.ID);
  const heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt([m]);
  assert.equal((await heard)[0].messageID, sent.ID);
});

await step("logout", async () => {
  await alice.destroy();
  await bob.destroy();
});
done();

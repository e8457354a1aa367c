// With devMode the SDK talks text frames on /tim/sdk/info: login, a group message with a
// receipt and the counts work the same.
import assert from "node:assert/strict";
import { User, done, rest, step } from "./lib.mjs";

let alice, bob;
await step("setup: a Meeting group, both users in devMode", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
  const g = await rest("group_open_http_svc", "create_group", {
    Type: "Meeting", Name: "Dev", GroupId: "dev", Owner_Account: "alice",
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "carol" }],
  });
  assert.equal(g.ErrorCode, 0);
  alice = await new User("alice", { devMode: true }).login();
  bob = await new User("bob", { devMode: true }).login();
});

await step("a group message and its receipt over text frames", async () => {
  const got = bob.next(bob.EVENT.MESSAGE_RECEIVED);
  const sent = await alice.sendText("dev", "text frames", { group: true });
  const [m] = await got;
  assert.equal(m.ID, sent.ID);
  const heard = alice.next(alice.EVENT.MESSAGE_READ_RECEIPT_RECEIVED);
  await bob.chat.sendMessageReadReceipt([m]);
  const [r] = await heard;
  assert.deepEqual([r.readCount, r.unreadCount], [1, 1]);
});

await step("logout", async () => {
  await alice.destroy();
  await bob.destroy();
});
done();

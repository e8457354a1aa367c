// Refusals reach the SDK as rejected promises with TIM's codes, and leave nothing unhandled
// inside it: bad UserSigs at login, messages to groups that do not exist or exclude the sender.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { KEY, SDKAPPID, User, done, rest, sleep, step, userSig } from "./lib.mjs";

const require = createRequire(import.meta.url);
const TLSSigAPIv2 = require("tls-sig-api-v2");
const otherKey = new TLSSigAPIv2.Api(SDKAPPID, "0".repeat(64));

async function refusedLogin(user, sig, code) {
  const u = new User(user);
  await assert.rejects(u.chat.login({ userID: user, userSig: sig }), (e) => {
    assert.equal(e.code, code, `login of ${user}: ${e.code} ${e.message}`);
    assert.ok(e.message);
    return true;
  });
  if (code === 70001) {
    // the SDK takes 70001 as "UserSig expired": it drops the socket and connects again;
    // destroying it half-way makes `ws` throw, so wait until it is connected again
    await u.next(u.EVENT.NET_STATE_CHANGE, (d) => d.state === "connected", 10000, { includePast: true });
    console.log("events after 70001:", u.events.map((e) => e.name).join(","));
  }
  await u.destroy();
}

await step("setup", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob"] });
  assert.equal(KEY.length, 64);
});

await step("a UserSig made with another key: login rejects with 70009", async () => {
  await refusedLogin("alice", otherKey.genUserSig("alice", 86400), 70009);
});

await step("a UserSig of another user: 70013", async () => {
  await refusedLogin("alice", userSig("bob"), 70013);
});

await step("an expired UserSig: 70001", async () => {
  const sig = userSig("alice", 1); // valid through the next second
  await sleep(2100);
  await refusedLogin("alice", sig, 70001);
});

await step("garbage: 70003", async () => {
  await refusedLogin("alice", "not-a-usersig", 70003);
});

let alice;
await step("then the right UserSig logs in", async () => {
  alice = await new User("alice").login();
});

await step("a message to a group that does not exist rejects with 10010", async () => {
  await assert.rejects(alice.sendText("nowhere", "hi", { group: true }), (e) => e.code === 10010);
});

await step("a message to a group alice is not in rejects with 10007", async () => {
  const g = await rest("group_open_http_svc", "create_group", {
    Type: "Public", Name: "Closed", GroupId: "closed", Owner_Account: "bob",
  });
  assert.equal(g.ErrorCode, 0);
  await assert.rejects(alice.sendText("closed", "let me in", { group: true }), (e) => e.code === 10007);
});

await step("a C2C message to an account that does not exist rejects with 90003", async () => {
  await assert.rejects(alice.sendText("nobody", "hi"), (e) => e.code === 90003);
});

await step("logout", async () => {
  await alice.destroy();
});
done();

// Groups as the SDK sees them: getGroupList, getGroupProfile (with per-group refusals that
// reject only that call), getGroupMemberList, and a group message to a group the SDK did not
// know at login.
import assert from "node:assert/strict";
import { User, done, rest, step, unhandledRejections } from "./lib.mjs";

let alice, bob;
await step("setup: two groups with alice, one without", async () => {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
  for (const [id, type, members] of [["work1", "Work", ["bob", "carol"]], ["pub1", "Public", ["bob"]], ["other", "Public", ["carol"]]]) {
    const owner = id === "other" ? "bob" : "alice";
    const r = await rest("group_open_http_svc", "create_group", {
      Type: type, Name: `Group ${id}`, GroupId: id, Owner_Account: owner,
      MemberList: members.map((m) => ({ Member_Account: m })),
    });
    assert.equal(r.ErrorCode, 0, JSON.stringify(r));
  }
  alice = await new User("alice").login();
  bob = await new User("bob").login();
});

await step("getGroupList lists alice's groups with their type, owner and member count", async () => {
  const list = (await alice.chat.getGroupList()).data.groupList;
  const byId = Object.fromEntries(list.map((g) => [g.groupID, g]));
  assert.deepEqual(Object.keys(byId).sort(), ["pub1", "work1"]);
  assert.equal(byId.work1.type, alice.TIM.TYPES.GRP_WORK);
  assert.equal(byId.pub1.type, alice.TIM.TYPES.GRP_PUBLIC);
  assert.equal(byId.work1.name, "Group work1");
  assert.equal(byId.work1.ownerID, "alice");
  assert.equal(byId.work1.memberCount, 3);
});

await step("getGroupProfile of a group of alice's; a stranger's and a missing one reject", async () => {
  const g = (await alice.chat.getGroupProfile({ groupID: "work1" })).data.group;
  assert.equal(g.groupID, "work1");
  assert.equal(g.selfInfo.role, "Owner");
  await assert.rejects(alice.chat.getGroupProfile({ groupID: "other" }), (e) => e.code === 10007);
  await assert.rejects(alice.chat.getGroupProfile({ groupID: "missing" }), (e) => e.code === 10010);
});

await step("getGroupMemberList", async () => {
  const members = (await alice.chat.getGroupMemberList({ groupID: "work1", count: 30, offset: 0 })).data.memberList;
  assert.deepEqual(members.map((m) => m.userID).sort(), ["alice", "bob", "carol"]);
});

await step("bob joins a group after login; its first message still arrives", async () => {
  const r = await rest("group_open_http_svc", "add_group_member", { GroupId: "other", MemberList: [{ Member_Account: "alice" }] });
  assert.equal(r.ErrorCode, 0);
  const got = alice.next(alice.EVENT.MESSAGE_RECEIVED, (d) => d[0].conversationID === "GROUPother");
  const sent = await bob.sendText("other", "welcome", { group: true });
  assert.equal((await got)[0].ID, sent.ID);
});

await step("no unhandled rejections so far", async () => {
  assert.equal(unhandledRejections().length, 0);
});

await step("logout", async () => {
  await alice.destroy();
  await bob.destroy();
});
done();

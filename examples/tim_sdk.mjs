// Tencent's own Chat SDK (@tencentcloud/chat) against this server, unchanged but for
// `proxyServer`. Run it next to `scripts/serve`:
//
//     npm ci                    # once: Tencent's SDK and tls-sig-api-v2, pinned in package-lock.json
//     node examples/tim_sdk.mjs
//
// Alice asks a group for read receipts; bob and carol read her message; alice watches
// "1 read, 1 unread" become "2 read, 0 unread". IM_BASE_URL points it at another server.
import { createRequire } from "node:module";
import WebSocket from "ws";

const require = createRequire(import.meta.url);
globalThis.WebSocket = WebSocket; // Node has no WebSocket of its own before version 22

const BASE = process.env.IM_BASE_URL || "http://127.0.0.1:8080";
const SDKAPPID = 1400000000; // the embedded default workspace: Tencent's sample credentials
const SECRET_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
const PROXY_SERVER = BASE.replace(/^http/, "ws") + "/tim/sdk";

const TLSSigAPIv2 = require("tls-sig-api-v2"); // Tencent's UserSig generator
const signer = new TLSSigAPIv2.Api(SDKAPPID, SECRET_KEY);

// The app's backend: accounts and a group over TIM's REST API, as the App admin.
async function rest(service, command, body) {
  const query = new URLSearchParams({
    sdkappid: SDKAPPID, identifier: "administrator", usersig: signer.genUserSig("administrator", 600),
    random: Math.floor(Math.random() * 2 ** 32), contenttype: "json",
  });
  const res = await fetch(`${BASE}/v4/${service}/${command}?${query}`, { method: "POST", body: JSON.stringify(body) });
  return res.json();
}

// One SDK instance per user. TencentCloudChat.create() returns one cached instance per
// SDKAppID, so a second user in the same process needs a fresh copy of the module (an app,
// with one user, just calls create() once).
async function login(userID) {
  for (const key of Object.keys(require.cache)) if (key.includes("@tencentcloud")) delete require.cache[key];
  const TencentCloudChat = require("@tencentcloud/chat");
  const chat = TencentCloudChat.create({ SDKAppID: SDKAPPID, proxyServer: PROXY_SERVER });
  chat.setLogLevel(4); // 0 logs every frame the SDK sends
  const ready = new Promise((resolve) => chat.on(TencentCloudChat.EVENT.SDK_READY, resolve));
  await chat.login({ userID, userSig: signer.genUserSig(userID, 86400) });
  await ready;
  return { chat, TencentCloudChat };
}

try {
  await rest("im_open_login_svc", "multiaccount_import", { Accounts: ["alice", "bob", "carol"] });
} catch (err) {
  console.error(`no server at ${BASE} (${err.cause?.code || err.message}): start it with scripts/serve`);
  process.exit(1);
}
const groupID = `sdk-demo-${Date.now()}`;
await rest("group_open_http_svc", "create_group", {
  Type: "Work", Name: "SDK demo", GroupId: groupID, Owner_Account: "alice",
  MemberList: [{ Member_Account: "bob" }, { Member_Account: "carol" }],
});

const alice = await login("alice");
const bob = await login("bob");
const carol = await login("carol");
console.log(`alice, bob and carol logged in through proxyServer ${PROXY_SERVER}`);

alice.chat.on(alice.TencentCloudChat.EVENT.MESSAGE_READ_RECEIPT_RECEIVED, (event) => {
  for (const r of event.data) console.log(`alice <- MESSAGE_READ_RECEIPT_RECEIVED: ${r.readCount} read, ${r.unreadCount} unread`);
});
const received = (user) => new Promise((resolve) =>
  user.chat.on(user.TencentCloudChat.EVENT.MESSAGE_RECEIVED, (event) => resolve(event.data[0])));
const onBob = received(bob), onCarol = received(carol);

const message = alice.chat.createTextMessage({
  to: groupID, conversationType: alice.TencentCloudChat.TYPES.CONV_GROUP,
  payload: { text: "Lunch at noon?" }, needReadReceipt: true,
});
const sent = (await alice.chat.sendMessage(message)).data.message;
console.log(`alice -> ${groupID}: "${sent.payload.text}" (message ${sent.ID})`);

for (const [name, user, pending] of [["bob", bob, onBob], ["carol", carol, onCarol]]) {
  const m = await pending;
  console.log(`${name} <- MESSAGE_RECEIVED: "${m.payload.text}", needReadReceipt ${m.needReadReceipt}`);
  const heard = new Promise((resolve) => alice.chat.on(alice.TencentCloudChat.EVENT.MESSAGE_READ_RECEIPT_RECEIVED, resolve));
  await user.chat.sendMessageReadReceipt([m]);
  await heard;
  const unread = await alice.chat.getGroupMessageReadMemberList({ message: sent, filter: 1, cursor: "", count: 100 });
  console.log(`alice: still unread: [${unread.data.unreadUserIDList.join(", ")}]`);
}

for (const user of [alice, bob, carol]) await user.chat.logout();
process.exit(0);

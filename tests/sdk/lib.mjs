// Helpers for driving Tencent's Chat SDK (@tencentcloud/chat, pinned in package.json) against
// this server: one SDK instance per user (each a fresh copy of the module, since create()
// returns a cached instance per SDKAppID), UserSigs from Tencent's own tls-sig-api-v2, and
// waiting for events with a timeout.
import { createRequire } from "node:module";
import WebSocket from "ws";

const require = createRequire(import.meta.url);
globalThis.WebSocket = WebSocket;

export const SDKAPPID = Number(process.env.IM_SDKAPPID || 1400000000);
export const KEY =
  process.env.IM_SECRET_KEY || "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
export const BASE = process.env.IM_BASE_URL || "http://127.0.0.1:8080";
export const PROXY = BASE.replace(/^http/, "ws") + "/tim/sdk";

const TLSSigAPIv2 = require("tls-sig-api-v2");
const signer = new TLSSigAPIv2.Api(SDKAPPID, KEY);

export function userSig(user, expire = 86400) {
  return signer.genUserSig(user, expire);
}

const rejections = [];
process.on("unhandledRejection", (reason) => {
  rejections.push(reason);
  console.error("UNHANDLED REJECTION inside the SDK:", reason);
});
export function unhandledRejections() {
  return rejections.slice();
}

function freshModule() {
  for (const key of Object.keys(require.cache)) {
    if (key.includes("@tencentcloud")) delete require.cache[key];
  }
  return require("@tencentcloud/chat");
}

export class User {
  constructor(userID, { devMode = false, logLevel = 4 } = {}) {
    this.userID = userID;
    this.TIM = freshModule();
    this.chat = this.TIM.create({ SDKAppID: SDKAPPID, proxyServer: PROXY, devMode });
    this.chat.setLogLevel(logLevel);
    this.events = [];
    this.waiters = [];
    for (const name of Object.values(this.TIM.EVENT)) {
      this.chat.on(name, (event) => {
        this.events.push(event);
        for (const w of this.waiters.slice()) w(event);
      });
    }
  }

  get EVENT() {
    return this.TIM.EVENT;
  }

  async login(sig = userSig(this.userID)) {
    const ready = this.next(this.EVENT.SDK_READY, () => true, 10000);
    await this.chat.login({ userID: this.userID, userSig: sig });
    await ready;
    return this;
  }

  // The next event `name` whose data satisfies `match`, within `ms` (earlier ones included).
  next(name, match = () => true, ms = 5000, { includePast = false } = {}) {
    if (includePast) {
      const found = this.events.find((e) => e.name === name && match(e.data));
      if (found) return Promise.resolve(found.data);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.userID}: no ${name} within ${ms} ms`));
      }, ms);
      const waiter = (event) => {
        if (event.name === name && match(event.data)) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(event.data);
        }
      };
      this.waiters.push(waiter);
    });
  }

  // The conversation list once it satisfies `match` (SDK_READY comes before the list is paged
  // in, so apps wait for CONVERSATION_LIST_UPDATED; so does this).
  async conversations(match = (list) => list.length > 0, ms = 5000) {
    const current = (await this.chat.getConversationList()).data.conversationList;
    if (match(current)) return current;
    return this.next(this.EVENT.CONVERSATION_LIST_UPDATED, match, ms, { includePast: true });
  }

  async sendText(to, text, { group = false, receipt = true } = {}) {
    const message = this.chat.createTextMessage({
      to,
      conversationType: group ? this.TIM.TYPES.CONV_GROUP : this.TIM.TYPES.CONV_C2C,
      payload: { text },
      needReadReceipt: receipt,
    });
    const res = await this.chat.sendMessage(message);
    return res.data.message;
  }

  async destroy() {
    try {
      await this.chat.logout();
    } catch {}
    try {
      await this.chat.destroy();
    } catch {}
  }
}

// REST calls as the App admin, with a UserSig from tls-sig-api-v2.
export async function rest(service, command, body, admin = "administrator") {
  const q = new URLSearchParams({
    sdkappid: String(SDKAPPID),
    identifier: admin,
    usersig: userSig(admin),
    random: String(Math.floor(Math.random() * 2 ** 32)),
    contenttype: "json",
  });
  const res = await fetch(`${BASE}/v4/${service}/${command}?${q}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return res.json();
}

// -- the scenario protocol with tests/sdk/test_tencent_sdk.py ------------------------------
// Each scenario is a plain script: it prints "ok - <step>" per step, "@@restart" when it wants
// the server restarted (and waits for a line on stdin), and "@@done <n>" at the very end. Any
// exception (a failed assert, a timeout) exits non-zero with the error.

let steps = 0;
export async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
  } catch (err) {
    console.log(`not ok - ${name}: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  }
  steps += 1;
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

let stdinLines = null;
function nextStdinLine() {
  if (stdinLines === null) {
    stdinLines = [];
    let buffer = "";
    const waiting = [];
    stdinLines.waiting = waiting;
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        const w = waiting.shift();
        if (w) w(line);
        else stdinLines.push(line);
      }
    });
  }
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve) => stdinLines.waiting.push(resolve));
}

// Ask the test to restart the server (same port, same database); resolves once it is back.
export async function restartServer() {
  console.log("@@restart");
  const answer = await nextStdinLine();
  if (answer !== "ok") throw new Error(`restart failed: ${answer}`);
}

export function done() {
  const leaked = unhandledRejections();
  if (leaked.length) {
    console.log(`not ok - the SDK left ${leaked.length} unhandled rejection(s): ${leaked.map(String).join("; ")}`);
    process.exit(1);
  }
  console.log(`@@done ${steps}`);
  process.exit(0);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

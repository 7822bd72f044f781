/**
 * Secrets in logs (issue 17): a whole stack (wrangler dev's Worker, the bridge process at debug
 * level, the sandbox) driven through sends on every channel, the providers' signed webhooks, the
 * event stream to an endpoint, an API key's creation and failing authentication; then every line
 * any of them wrote is searched for every secret the stack was given or made. The logs must be
 * non-empty (so the search can fail) and hold none of them.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BRIDGE_APNS_PATH,
  BRIDGE_SMPP_PATH,
  BRIDGE_SMTP_PATH,
  EDGE_EMAIL_INBOUND_PATH,
  EDGE_EVENTS_PATH,
  EDGE_SMS_INBOUND_PATH,
} from "../../../src/core/bridge.ts";
import { doorSecret } from "../../../src/core/standard-webhooks.ts";
import { DEV_SMPP_BIND } from "../../../sandbox/stack.ts";
import { waitFor } from "../../wait.ts";
import { startTestStack, type TestStack } from "../stack-helpers.ts";

/** Everything written while the stack runs: this process's stdout, stderr and console, and the bridge's output. */
const captured: string[] = [];
const restore: Array<() => void> = [];

function capture(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write as typeof stream.write;
    });
  }
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      captured.push(`${args.map((a) => (typeof a === "string" ? a : (JSON.stringify(a) ?? String(a)))).join(" ")}\n`);
      original.apply(console, args);
    };
    restore.push(() => {
      console[level] = original;
    });
  }
}

let stack: TestStack;
const previousLevel = process.env.BRIDGE_LOG_LEVEL;
beforeAll(async () => {
  capture();
  // The bridge at its most talkative: a secret it logs only at debug is still a secret logged.
  process.env.BRIDGE_LOG_LEVEL = "debug";
  stack = await startTestStack({ onBridgeOutput: (text) => captured.push(text) });
});
afterAll(async () => {
  await stack?.stop();
  if (previousLevel === undefined) delete process.env.BRIDGE_LOG_LEVEL;
  else process.env.BRIDGE_LOG_LEVEL = previousLevel;
  for (const r of restore.splice(0).reverse()) r();
});

/** Every string leaf of `value` under a key that names a credential, at least 8 characters long. */
function credentialLeaves(value: unknown, path = ""): Array<[string, string]> {
  if (typeof value === "string") return /secret|key|token|pass|signing/i.test(path) && value.length >= 8 ? [[path, value]] : [];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => credentialLeaves(v, path ? `${path}.${k}` : k));
}

/** The secret body of a PEM (its longest base64 lines), which is what a log would carry. */
function pemLines(pem: string): string[] {
  return pem
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length >= 40 && !line.startsWith("-----"));
}

/** The whole secret, or (for a long one) any 20 characters of it in a row: a truncated print is a leak too. */
function leaked(logs: string, secret: string): boolean {
  if (secret.length < 24) return logs.includes(secret);
  for (let i = 0; i + WINDOW <= secret.length; i++) if (logs.includes(secret.slice(i, i + WINDOW))) return true;
  return false;
}
const WINDOW = 20;

async function secrets(made: Record<string, string>): Promise<Array<[string, string]>> {
  const vars = stack.workerVars;
  const out: Array<[string, string]> = [
    ["API key", stack.apiKey],
    ["admin key", vars.ADMIN_API_KEY ?? ""],
    ["WEBHOOK_SECRET = BRIDGE_SECRET", stack.secret],
    ["WEBHOOK_SECRET without its prefix", stack.secret.replace(/^whsec_/, "")],
    ["VAPID private key", vars.VAPID_PRIVATE_KEY ?? ""],
    ["UNSUBSCRIBE_SECRET", vars.UNSUBSCRIBE_SECRET ?? ""],
    ["SMPP password", DEV_SMPP_BIND.password],
    ...(vars.CONFIG_KEYS ?? "").split(",").map((entry): [string, string] => ["CONFIG_KEYS key", entry.slice(entry.indexOf(":") + 1)]),
    ...pemLines(stack.keys.apns.privateKeyPem).map((line): [string, string] => ["APNs private key", line]),
    ...pemLines(JSON.parse(stack.keys.fcm.json).private_key).map((line): [string, string] => ["FCM private key", line]),
    ...pemLines(stack.keys.dkim.privateKeyPem).map((line): [string, string] => ["DKIM private key", line]),
    ...credentialLeaves(stack.sandbox.webhooks.config()).map(([p, v]): [string, string] => [`provider webhook ${p}`, v]),
    ...credentialLeaves(stack.sandbox.esp.config()).map(([p, v]): [string, string] => [`provider send API ${p}`, v]),
    ["SMS REST auth token", stack.sandbox.smsRest.authToken],
    ...credentialLeaves(stack.sandbox.smsVonage.config()).map(([p, v]): [string, string] => [`Vonage ${p}`, v]),
    ...Object.entries(made),
  ];
  for (const door of [
    EDGE_EVENTS_PATH,
    EDGE_EMAIL_INBOUND_PATH,
    EDGE_SMS_INBOUND_PATH,
    BRIDGE_APNS_PATH,
    BRIDGE_SMTP_PATH,
    BRIDGE_SMPP_PATH,
  ]) {
    const key = await doorSecret(stack.secret, door);
    out.push([`door key ${door}`, key], [`door key ${door} without its prefix`, key.replace(/^whsec_/, "")]);
  }
  return out.filter(([, value]) => value.length >= 8);
}

describe("secrets in logs", () => {
  it("a busy stack's logs hold none of its secrets", async () => {
    const made: Record<string, string> = {};
    const send = async (body: unknown) => {
      const res = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res.body.id as string;
    };
    // Every channel, once each way it can end.
    const sub = await stack.sandboxPost("/_sandbox/webpush/subscriptions", { name: `logs-${randomUUID().slice(0, 8)}` });
    const token = (await stack.sandboxPost("/_sandbox/apns/tokens", { name: "logs-phone" })).token as string;
    const ids = [
      await send({ channel: "webpush", to: sub, payload: { title: "hi" } }),
      await send({ channel: "fcm", to: "device-ok-logs", message: { notification: { title: "Hi" } } }),
      await send({ channel: "apns", to: token, topic: "com.example.app", pushType: "alert", payload: { aps: { alert: "hi" } } }),
      await send({
        channel: "email",
        from: "news@lasthop.test",
        to: `logs-${randomUUID().slice(0, 8)}@example.com`,
        subject: "hi",
        text: "hello",
      }),
      await send({ channel: "sms", to: "+14155550142", from: "+15005550006", body: "Your code is 123456" }),
      await send({ channel: "sms", to: "+14155550143", from: "+15005550006", body: "over REST", route: "rest" }),
    ];
    for (const id of ids) {
      await waitFor(async () => {
        const m = await stack.api(`/v1/messages/${id}`);
        return ["accepted", "delivered", "bounced", "failed"].includes(m.body.status);
      }, `message ${id} to leave the queue`);
    }

    // The providers' signed webhooks, each provider once.
    for (const provider of ["sendgrid", "ses", "mailgun", "postmark", "resend", "standard"]) {
      const answer = await stack.sandboxPost("/_sandbox/webhooks/emit", {
        provider,
        event: "bounce",
        recipient: `logs-${provider}-${randomUUID().slice(0, 8)}@example.com`,
      });
      expect(answer.status, `${provider}: ${JSON.stringify(answer)}`).toBe(200);
    }
    expect(
      (await stack.sandboxPost("/_sandbox/webhooks/emit", { provider: "vonage", event: "bounce", recipient: "+14155550199" })).status,
    ).toBe(200);

    // The event stream reached the account's endpoint (the stack made it; its secret is shown once).
    const receiver = stack.webhookReceiver!;
    if (receiver.secret) made["event endpoint secret"] = receiver.secret;
    await waitFor(async () => (stack.sandbox.hooks.received(receiver.name)?.length ?? 0) > 0, "a delivery at the account's event endpoint");
    const endpoint = await stack.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: receiver.url, description: "logs" }),
    });
    expect(endpoint.status).toBe(201);
    made["second endpoint secret"] = endpoint.body.secret;
    const rotated = await stack.api(`/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`, { method: "POST" });
    expect(rotated.status).toBe(200);
    if (typeof rotated.body.secret === "string") made["rotated endpoint secret"] = rotated.body.secret;

    // An API key made, then used; failing authentication, with a key that is almost right.
    const key = await stack.api("/v1/api-keys", { method: "POST", body: JSON.stringify({ name: "logs", scopes: ["read"] }) });
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    made["created API key"] = key.body.key;
    expect((await stack.api("/v1/messages?limit=1", { headers: { authorization: `Bearer ${key.body.key}` } })).status).toBe(200);
    const wrong = `${stack.apiKey.slice(0, -1)}x`;
    made["a wrong key (presented)"] = wrong;
    const refused = await fetch(`${stack.workerUrl}/v1/messages?limit=1`, { headers: { authorization: `Bearer ${wrong}` } });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    const forged = await fetch(`${stack.workerUrl}/v1/webhooks/bridge`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": "msg_x",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": "v1,AAAA",
      },
      body: JSON.stringify({ events: [] }),
    });
    expect(forged.status).toBe(401);
    await forged.body?.cancel();
    // The admin key at work, and a dashboard sign-in with the account's key.
    const admin = await fetch(`${stack.workerUrl}/v1/admin/accounts`, {
      headers: { authorization: `Bearer ${stack.workerVars.ADMIN_API_KEY}` },
    });
    expect(admin.status).toBe(200);
    await admin.body?.cancel();
    const signIn = await fetch(`${stack.workerUrl}/dashboard/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: stack.workerUrl },
      body: new URLSearchParams({ key: stack.apiKey, next: "/dashboard" }).toString(),
    });
    expect(signIn.status).toBe(303);
    await signIn.body?.cancel();

    const logs = captured.join("");
    const lines = logs.split("\n").filter((line) => line.trim() !== "");
    // Non-empty, from each writer: the Worker's request log, and the bridge's own (pino JSON).
    expect(lines.length).toBeGreaterThan(20);
    expect(logs).toMatch(/POST \/v1\/messages/);
    expect(logs).toMatch(/"level":\s*\d+|"level":"\w+"/);
    const all = await secrets(made);
    const found = all.filter(([, value]) => leaked(logs, value));
    console.info(`[secrets-in-logs] ${lines.length} lines searched for ${all.length} secrets: ${found.length} found`);
    expect(found.map(([what]) => what)).toEqual([]);
  });
});

// An account onboarded through the API alone, end to end through the local stack: the platform
// admin creates it, it uploads its own credentials, and it sends on every channel. The sandbox
// checks each credential as the real service would: the push service takes only pushes signed
// with the VAPID key the subscription was made with, FCM only tokens of the project's own
// service account, the SMSC and MTA what the account's routes say.
import { dkimVerify } from "mailauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_ADMIN_KEY } from "../../sandbox/stack.ts";
import { generateApnsKey, generateServiceAccount } from "../../sandbox/keys.ts";
import { createTransport } from "nodemailer";
import { dsn } from "../dsn-fixture.ts";
import { waitFor } from "../wait.ts";
import { assertDocumented, startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

type Answer = { status: number; body: any };

async function call(key: string, path: string, init: { method?: string; json?: unknown } = {}): Promise<Answer> {
  const method = init.method ?? (init.json === undefined ? "GET" : "POST");
  const res = await fetch(`${stack.workerUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  // Every answer is held to the OpenAPI document (status listed, body passes its schema).
  await assertDocumented(method, res.url, res);
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function waitForStatus(key: string, id: string, status: string): Promise<any> {
  let seen: unknown;
  return waitFor(
    async () => {
      const m = await call(key, `/v1/messages/${id}`);
      seen = m.body?.status;
      return seen === status ? m.body : null;
    },
    () => `message ${id} to be ${status} (it is ${String(seen)})`,
  );
}

describe("an account made through the API sends with its own credentials", () => {
  let key: string;
  const sent: Record<string, string> = {};

  it("the platform admin creates it; its first key holds every scope", async () => {
    const made = await call(DEV_ADMIN_KEY, "/v1/admin/accounts", { json: { name: "Onboarded Co" } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    key = made.body.apiKey.key;
    expect((await call(key, "/v1/api-keys")).body.data[0].scopes).toContain("config:write");
    // Nothing configured yet: every channel but the deployment's defaults is refused.
    const email = await call(key, "/v1/messages", {
      json: { channel: "email", from: "a@b.example", to: "c@d.example", subject: "s", text: "t" },
    });
    expect(email.status).toBe(422);
  });

  it("web push: VAPID keys generated for it; the subscription bound to its key takes the push", async () => {
    const keys = await call(key, "/v1/push/webpush/keys", { json: { subject: "mailto:ops@onboarded.example" } });
    expect(keys.status).toBe(201);
    const subscription = await stack.sandboxPost("/_sandbox/webpush/subscriptions", {
      name: "onboarded",
      applicationServerKey: keys.body.publicKey,
    });
    const res = await call(key, "/v1/messages", { json: { channel: "webpush", to: subscription, payload: { hello: "own key" } } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    sent.webpush = res.body.id;
    await waitForStatus(key, res.body.id, "accepted");
    const received = (await stack.sandboxGet("/_sandbox/received?channel=webpush")) as any[];
    expect(received.filter((r) => r.to === subscription.endpoint).map((r) => r.outcome)).toEqual(["accepted"]);
  });

  it("FCM: its own service account and project; the sandbox accepts only that project's token", async () => {
    const projectId = `onboarded-${Date.now().toString(36)}`;
    const sa = generateServiceAccount({ tokenUri: `${stack.sandbox.httpUrl}/oauth/token`, projectId, name: "onboarded" });
    await stack.sandboxPost("/_sandbox/fcm/service-accounts", { clientEmail: sa.clientEmail, projectId, publicKeyPem: sa.publicKeyPem });
    const put = await call(key, "/v1/push/fcm", { method: "PUT", json: { serviceAccount: JSON.parse(sa.json) } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.serviceAccount.private_key).toMatch(/^…/);
    const res = await call(key, "/v1/messages", { json: { channel: "fcm", to: "onboarded-device-1", message: { data: { n: "1" } } } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const message = await waitForStatus(key, res.body.id, "accepted");
    expect(message.providerMessageId).toMatch(new RegExp(`^projects/${projectId}/messages/`));
  });

  it("APNs: its own .p8 key and team; the sandbox credits the push to that team", async () => {
    const apns = generateApnsKey();
    await stack.sandboxPost("/_sandbox/apns/keys", { keyId: apns.keyId, teamId: apns.teamId, publicKeyPem: apns.publicKeyPem });
    const put = await call(key, "/v1/push/apns", {
      method: "PUT",
      json: { keyId: apns.keyId, teamId: apns.teamId, key: apns.privateKeyPem, topics: ["com.onboarded.app"], environment: "sandbox" },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.key).toMatch(/^…/);
    const to = (await stack.sandboxPost("/_sandbox/apns/tokens", { name: "onboarded" })).token as string;
    const res = await call(key, "/v1/messages", {
      json: { channel: "apns", to, topic: "com.onboarded.app", pushType: "alert", payload: { aps: { alert: "hi" } } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitForStatus(key, res.body.id, "accepted");
    const arrived = ((await stack.sandboxGet("/_sandbox/received?channel=apns")) as any[]).filter((r) => r.to === to);
    expect(arrived.map((r) => [r.status, r.credential])).toEqual([[200, { teamId: apns.teamId, keyId: apns.keyId }]]);
  });

  it("SMS: its own route and sender, through the bridge's SMPP bind to the SMSC, delivered on the receipt", async () => {
    const sender = `+1555${String(Date.now()).slice(-7)}`;
    const put = await call(key, "/v1/sms/settings", {
      method: "PUT",
      json: { routes: [{ name: "smpp", type: "smpp", bridgeRoute: "sandbox" }], senders: [sender] },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const res = await call(key, "/v1/messages", {
      json: { channel: "sms", from: sender, to: "+15557654321", body: "hello from an onboarded account" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitForStatus(key, res.body.id, "delivered");
  });

  it("email: its own relay and bounce domain, and a domain it proves over DNS; the MTA gets both DKIM signatures", async () => {
    const domain = `onboarded-${Date.now().toString(36)}.example`;
    const put = await call(key, "/v1/email/settings", {
      method: "PUT",
      json: {
        bounceDomain: `bounces.${domain}`,
        relay: {
          mode: "smarthost",
          host: stack.sandbox.smtp.host,
          port: stack.sandbox.smtp.port,
          secure: false,
          requireTLS: true,
          auth: { user: "dev", pass: "dev" },
        },
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.relay.auth.pass).toMatch(/^…/);
    const to = `reader-${Date.now().toString(36)}@example.com`;
    const mail = { channel: "email", from: `news@${domain}`, to, subject: "Welcome", text: "Hello from a domain of our own" };
    expect((await call(key, "/v1/messages", { json: mail })).status).toBe(422);

    const added = await call(key, "/v1/domains", { json: { domain } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    for (const r of added.body.records as Array<{ name: string; type: string; value: string; priority?: number }>) {
      await stack.sandboxPost("/_sandbox/dns/records", { name: r.name, type: r.type, value: r.value, priority: r.priority });
    }
    const verified = await call(key, `/v1/domains/${domain}/verify`, { method: "POST" });
    expect(verified.body.status, JSON.stringify(verified.body)).toBe("verified");

    const res = await call(key, "/v1/messages", { json: mail });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitForStatus(key, res.body.id, "accepted");
    const arrived = await waitFor(
      async () => ((await stack.sandboxGet("/_sandbox/received?channel=email")) as any[]).find((m) => m.to === to),
      "the message at the sandbox MTA",
    );
    // The envelope sender (VERP) is the verified domain's return-path host, so SPF aligns with From.
    expect(arrived.headers).toMatchObject({ mailFrom: `bounce+${res.body.id}@lh-bounces.${domain}`, tls: true, authUser: "dev" });
    const resolver = async (name: string, type: string) => {
      const found = stack.sandbox.dns.lookup(name, type as "TXT");
      if (found.length === 0) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: "ENOTFOUND" });
      return found.map((r) => [r.value]);
    };
    const checked = await dkimVerify(Buffer.from(arrived.payload as string), { resolver: resolver as never });
    expect(checked.results.map((r: any) => [r.signingDomain, r.algo, r.status.result])).toEqual([
      [domain, "rsa-sha256", "pass"],
      [domain, "ed25519-sha256", "pass"],
    ]);

    // A DSN sent back to that return path, through the bridge's inbound SMTP (`lh-bounces.*`), finds the account.
    const transport = createTransport({ host: stack.inboundSmtp.host, port: stack.inboundSmtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({
      envelope: { from: "mailer-daemon@mx.example.net", to: [`bounce+${res.body.id}@lh-bounces.${domain}`] },
      raw: dsn(res.body.id, to),
    });
    transport.close();
    const bounced = await waitForStatus(key, res.body.id, "bounced");
    expect(bounced.events.at(-1)).toMatchObject({ provider: "inbound-email", detail: { class: "hard" } });
  });

  it("the audit log holds every change it made, secrets masked", async () => {
    const audit = await call(key, "/v1/audit?limit=100");
    const actions = audit.body.data.map((e: { action: string; target: string }) => `${e.action} ${e.target}`);
    expect(actions).toEqual(
      expect.arrayContaining(["config.put webpush", "config.put fcm", "config.put apns", "config.put sms", "config.put email"]),
    );
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(["domain.create", "domain.verify"]));
    expect(JSON.stringify(audit.body)).not.toContain("PRIVATE KEY-----\n");
  });
});

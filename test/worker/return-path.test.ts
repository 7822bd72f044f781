/**
 * The return path of a verified domain: mail From it carries the envelope sender
 * `bounce+<id>@lh-bounces.<domain>` (SPF aligned with From for DMARC), and a report sent back
 * there finds the account through the directory's `return_path` claim, through either door.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { EDGE_EMAIL_INBOUND_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { dsn } from "../dsn-fixture.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { installDoh, type DohRecord } from "./doh-fake.ts";
import { directoryStub } from "../../src/state/stubs.ts";
import { BASE, adminAccount, api, json, routed, unique, waitForStatus } from "./helpers.ts";

let doh: ReturnType<typeof installDoh>;
let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  doh = installDoh();
  bridge = installBridge();
});
afterEach(() => {
  bridge.restore();
  doh.restore();
});

type Account = { id: string; key: string };

/** A new account with email settings: its own bounce domain, and `listed` as a sending domain without DNS proof. */
async function newAccount(listed: string[] = []): Promise<Account & { bounceDomain: string }> {
  const made = await adminAccount("Return Path Co");
  const account = { id: made.id, key: made.key, bounceDomain: `bounces.${unique()}.example` };
  const settings = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: {
      bounceDomain: account.bounceDomain,
      sendingDomains: listed,
      relay: { mode: "smarthost", host: "smtp.test", port: 587, secure: false },
    },
  });
  expect(settings.status).toBe(200);
  return account;
}

/** Adds the domain, publishes its records (`only` those of a purpose, when given) as the customer would, and verifies it. */
async function verifiedDomain(account: Account, domain: string, only?: string): Promise<void> {
  const made = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: account.key }));
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  doh.publish(
    ...(made.body.records as Array<DohRecord & { purpose: string }>)
      .filter((r) => only === undefined || r.purpose === only)
      .map((r): DohRecord => ({ name: r.name, type: r.type, value: r.value, priority: r.priority })),
  );
  const checked = await json(await api(`/v1/domains/${domain}/verify`, { method: "POST", key: account.key }));
  expect(checked.body.status).toBe("verified");
}

/** Sends one email and waits for the bridge to have relayed it; answers its id and envelope sender. */
async function sendFrom(account: Account, from: string, to: string): Promise<{ id: string; mailFrom: string }> {
  const res = await json(
    await api("/v1/messages", { method: "POST", key: account.key, json: { channel: "email", from, to, subject: "hi", text: "hello" } }),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await waitForStatus(res.body.id, "accepted", account.key);
  const item = await waitFor(async () => bridge.relayed.find((m) => m.id === res.body.id));
  return { id: res.body.id, mailFrom: item.mailFrom };
}

/** A DSN as the bridge's inbound SMTP posts it: signed, to `/v1/inbound/email`. */
async function postInbound(to: string, raw: string) {
  const body = JSON.stringify({ to, from: "", raw: btoa(String.fromCharCode(...new TextEncoder().encode(raw))) });
  const headers = await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, EDGE_EMAIL_INBOUND_PATH), body);
  return json(
    await SELF.fetch(`${BASE}${EDGE_EMAIL_INBOUND_PATH}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    }),
  );
}

const suppressed = (account: Account, address: string) =>
  waitFor(async () => (await api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { key: account.key })).status === 200);

describe("the envelope sender of mail From a verified domain", () => {
  it("is bounce+<id>@lh-bounces.<domain>; a listed but unverified domain keeps the bounce domain", async () => {
    const listed = `${unique()}.example`;
    const a = await newAccount([listed]);
    const domain = `${unique()}.example`;
    await verifiedDomain(a, domain);
    const own = await sendFrom(a, `news@${domain.toUpperCase()}`, "reader@example.org");
    expect(own.mailFrom).toBe(`bounce+${own.id}@lh-bounces.${domain}`);
    const other = await sendFrom(a, `news@${listed}`, "reader@example.org");
    expect(other.mailFrom).toBe(`bounce+${other.id}@${a.bounceDomain}`);
  });
});

describe("reports sent back to lh-bounces.<domain>", () => {
  it("a DSN through the bridge bounces the message and suppresses the recipient", async () => {
    const a = await newAccount();
    const domain = `${unique()}.example`;
    await verifiedDomain(a, domain);
    const sent = await sendFrom(a, `news@${domain}`, "gone@example.org");
    const res = await postInbound(sent.mailFrom, dsn(sent.id, "gone@example.org"));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ outcome: "enqueued", kind: "dsn", events: 1 });
    const bounced = await waitForStatus(sent.id, "bounced", a.key);
    expect(bounced.events.at(-1)).toMatchObject({ provider: "inbound-email", detail: { class: "hard", enhancedCode: "5.1.1" } });
    await suppressed(a, "gone@example.org");
  });

  it("a DSN through Email Routing (the email() handler) takes the same path", async () => {
    const a = await newAccount();
    const domain = `${unique()}.example`;
    await verifiedDomain(a, domain);
    const sent = await sendFrom(a, `news@${domain}`, "routed-gone@example.org");
    const message = routed(sent.mailFrom, dsn(sent.id, "routed-gone@example.org"));
    await worker.email(message as unknown as ForwardableEmailMessage, env);
    expect(message.setReject).not.toHaveBeenCalled();
    await waitForStatus(sent.id, "bounced", a.key);
    await suppressed(a, "routed-gone@example.org");
  });

  it("two accounts with the same domain: each one's bounce finds its own message", async () => {
    const domain = `${unique()}.example`;
    const a = await newAccount();
    const b = await newAccount();
    await verifiedDomain(a, domain);
    await verifiedDomain(b, domain, "dkim"); // its own selectors; the return path is the same records
    const fromA = await sendFrom(a, `news@${domain}`, "a-gone@example.org");
    const fromB = await sendFrom(b, `news@${domain}`, "b-gone@example.org");
    expect(fromB.mailFrom).toBe(`bounce+${fromB.id}@lh-bounces.${domain}`);
    for (const [account, sent, rcpt] of [
      [a, fromA, "a-gone@example.org"],
      [b, fromB, "b-gone@example.org"],
    ] as const) {
      expect((await postInbound(sent.mailFrom, dsn(sent.id, rcpt))).body.outcome).toBe("enqueued");
      await waitForStatus(sent.id, "bounced", account.key);
      await suppressed(account, rcpt);
    }
  });

  it("lh-bounces of a domain nobody verified is not ours (422); of another account's domain, unlinked", async () => {
    const a = await newAccount();
    const mine = `${unique()}.example`;
    await verifiedDomain(a, mine);
    const message = await sendFrom(a, `news@${mine}`, "kept@example.org");

    const pending = `${unique()}.example`;
    const added = await api("/v1/domains", { method: "POST", json: { domain: pending }, key: a.key });
    expect(added.status).toBe(201); // added, never verified
    for (const domain of [pending, `${unique()}.example`]) {
      const res = await postInbound(`bounce+${message.id}@lh-bounces.${domain}`, dsn(message.id, "kept@example.org"));
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("not_ours");
    }

    // Account B verified a domain of its own: a report there naming A's message links nowhere.
    const b = await newAccount();
    const theirs = `${unique()}.example`;
    await verifiedDomain(b, theirs);
    const res = await postInbound(`bounce+${message.id}@lh-bounces.${theirs}`, dsn(message.id, "kept@example.org"));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ outcome: "unlinked", kind: "dsn" });
    expect((await api(`/v1/suppressions/email/kept%40example.org`, { key: a.key })).status).toBe(404);
    expect((await json(await api(`/v1/messages/${message.id}`, { key: a.key }))).body.status).toBe("accepted");
  });

  it("after the domain is deleted, or fails a later check, its lh-bounces is no longer ours", async () => {
    const a = await newAccount();
    const deleted = `${unique()}.example`;
    const failing = `${unique()}.example`;
    await verifiedDomain(a, deleted);
    await verifiedDomain(a, failing);
    const first = await sendFrom(a, `news@${deleted}`, "r1@example.org");
    const second = await sendFrom(a, `news@${failing}`, "r2@example.org");

    expect((await api(`/v1/domains/${deleted}`, { method: "DELETE", key: a.key })).status).toBe(204);
    doh.unpublish(`lh-bounces.${failing}`, "MX");
    const checked = await json(await api(`/v1/domains/${failing}/verify`, { method: "POST", key: a.key }));
    expect(checked.body.status).toBe("pending");
    for (const sent of [first, second]) {
      const res = await postInbound(sent.mailFrom, dsn(sent.id, "r@example.org"));
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("not_ours");
    }
  });
});

describe("the return_path claims in the directory", () => {
  it("two domains verified at once are both claimed", async () => {
    const a = await newAccount();
    const [one, two] = [`${unique()}.example`, `${unique()}.example`];
    for (const domain of [one, two]) {
      const made = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: a.key }));
      doh.publish(...(made.body.records as DohRecord[]).map((r) => ({ name: r.name, type: r.type, value: r.value, priority: r.priority })));
    }
    const checks = await Promise.all([one, two].map((d) => api(`/v1/domains/${d}/verify`, { method: "POST", key: a.key })));
    expect(checks.map((r) => r.status)).toEqual([200, 200]);
    expect(await directoryStub(env).claimants("return_path", `lh-bounces.${one}`)).toEqual([a.id]);
    expect(await directoryStub(env).claimants("return_path", `lh-bounces.${two}`)).toEqual([a.id]);
  });

  it("a set older than the one applied changes nothing", async () => {
    const account = `acct-${unique()}`;
    const claim = (value: string) => [{ kind: "return_path" as const, value }];
    const directory = directoryStub(env);
    await directory.setClaims(account, ["return_path"], claim("lh-bounces.new.example"), 7);
    await directory.setClaims(account, ["return_path"], claim("lh-bounces.old.example"), 6);
    expect(await directory.claimants("return_path", "lh-bounces.new.example")).toEqual([account]);
    expect(await directory.claimants("return_path", "lh-bounces.old.example")).toEqual([]);
    await directory.setClaims(account, ["return_path"], [], 8);
    expect(await directory.claimants("return_path", "lh-bounces.new.example")).toEqual([]);
  });
});

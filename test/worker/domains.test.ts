/**
 * Sending domains through the API: keys made at the edge, the records to publish, verification
 * against a fake DNS-over-HTTPS resolver, and what a verified domain changes for a send (From
 * allowed, both DKIM keys handed to the bridge).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_DOMAINS_PER_ACCOUNT } from "../../src/core/domains.ts";
import { configStub } from "../../src/state/stubs.ts";
import { TEST_BOUNCE_MX_HOST, TEST_SPF_INCLUDE } from "../fixtures.ts";
import { installBridge } from "./bridge-fake.ts";
import { installDoh, type DohRecord } from "./doh-fake.ts";
import { adminAccount, api, json, unique, waitForStatus } from "./helpers.ts";
import { waitFor } from "../wait.ts";

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

type Account = { id: string; key: string; keyId: string };
type Record_ = {
  type: string;
  name: string;
  value: string;
  priority?: number;
  purpose: string;
  required: boolean;
  status: string;
  found?: string[];
};

const newAccount = (): Promise<Account> => adminAccount("Domains Co");

async function addDomain(account: Account, domain: string) {
  const res = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: account.key }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { domain: string; status: string; records: Record_[]; createdAt: string; verifiedAt: string | null };
}

async function verify(account: Account, domain: string) {
  return json(await api(`/v1/domains/${domain}/verify`, { method: "POST", key: account.key }));
}

/** Publishes records as a customer would in their zone (all of them, or those `keep` lets through). */
function publish(records: Record_[], keep: (r: Record_) => boolean = () => true) {
  doh.publish(
    ...records
      .filter(keep)
      .map((r): DohRecord => ({ name: r.name, type: r.type as DohRecord["type"], value: r.value, priority: r.priority })),
  );
}

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const pTag = (value: string) => /p=([A-Za-z0-9+/=]+)/.exec(value)![1]!;

describe("POST /v1/domains", () => {
  it("makes both key pairs and answers the records to publish; the private keys are never answered", async () => {
    const a = await newAccount();
    const domain = `Mail.${unique()}.Example`;
    const made = await addDomain(a, domain);
    const name = domain.toLowerCase();
    expect(made).toMatchObject({ domain: name, status: "pending", verifiedAt: null, checkedAt: null });
    expect(Date.parse(made.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    const [rsa, ed, mx, spf, dmarc] = made.records;
    expect(made.records).toHaveLength(5);
    expect(rsa).toMatchObject({ type: "TXT", purpose: "dkim", required: true, status: "pending" });
    expect(rsa!.name).toMatch(new RegExp(`^lh[0-9a-f]{10}r\\._domainkey\\.${name.replace(/\./g, "\\.")}$`));
    expect(rsa!.value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    expect(ed).toMatchObject({ type: "TXT", purpose: "dkim", required: true });
    expect(ed!.name).toMatch(/^lh[0-9a-f]{10}e\._domainkey\./);
    expect(ed!.name.split(".")[0]).not.toBe(rsa!.name.split(".")[0]);
    expect(ed!.value).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]+=*$/);
    expect(mx).toEqual({
      type: "MX",
      name: `lh-bounces.${name}`,
      value: TEST_BOUNCE_MX_HOST,
      priority: 10,
      purpose: "return_path",
      required: true,
      status: "pending",
    });
    expect(spf).toMatchObject({
      type: "TXT",
      name: `lh-bounces.${name}`,
      value: `v=spf1 include:${TEST_SPF_INCLUDE} ~all`,
      required: true,
    });
    expect(dmarc).toMatchObject({ type: "TXT", name: `_dmarc.${name}`, value: "v=DMARC1; p=none;", purpose: "dmarc", required: false });
    // The p= values are real keys: an RSA SPKI and a raw 32-byte Ed25519 key.
    await crypto.subtle.importKey("spki", b64(pTag(rsa!.value)), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    expect(b64(pTag(ed!.value))).toHaveLength(32);
    await crypto.subtle.importKey("raw", b64(pTag(ed!.value)), { name: "Ed25519" }, false, ["verify"]);

    const got = await json(await api(`/v1/domains/${name}`, { key: a.key }));
    expect(got.body).toEqual(made);
    // The path's name is matched as DNS matches names: without regard to case.
    expect((await json(await api(`/v1/domains/${domain.toUpperCase()}`, { key: a.key }))).body).toEqual(made);
    const list = await json(await api("/v1/domains", { key: a.key }));
    expect(list.body).toEqual({ data: [made] });
    const audit = JSON.stringify((await json(await api("/v1/audit?limit=1000", { key: a.key }))).body);
    for (const text of [JSON.stringify(made), JSON.stringify(list.body), audit]) expect(text).not.toContain("PRIVATE KEY");
  });

  it.each<[string, unknown, string]>([
    ["no domain", {}, "domain"],
    ["a number", { domain: 42 }, "domain"],
    ["one label", { domain: "localhost" }, "domain"],
    ["an address", { domain: "me@example.com" }, "domain"],
    ["a trailing dot", { domain: "example.com." }, "domain"],
    ["an underscore", { domain: "_dmarc.example.com" }, "domain"],
    ["an IPv4 literal", { domain: "192.0.2.1" }, "domain"],
    ["254 characters", { domain: `${"a.".repeat(126)}io` }, "domain"],
    ["an extra field", { domain: "example.com", selector: "mine" }, "(body)"],
  ])("refuses %s with 400 naming the path, and adds nothing", async (_, body, path) => {
    const a = await newAccount();
    const res = await json(await api("/v1/domains", { method: "POST", json: body, key: a.key }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect((await json(await api("/v1/domains", { key: a.key }))).body.data).toEqual([]);
  });

  it("a domain the account has already is 409 domain_exists, in any case, and the first one is unchanged", async () => {
    const a = await newAccount();
    const domain = `${unique()}.example`;
    const made = await addDomain(a, domain);
    for (const again of [domain, domain.toUpperCase()]) {
      const res = await json(await api("/v1/domains", { method: "POST", json: { domain: again }, key: a.key }));
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("domain_exists");
    }
    expect((await json(await api("/v1/domains", { key: a.key }))).body.data).toEqual([made]);
  });

  it("at the limit of domains a new one is 422 domain_limit and nothing is added; deleting one makes room", async () => {
    const a = await newAccount();
    const first = await addDomain(a, `${unique()}.example`);
    // The other rows written straight into the account's store: making 99 key pairs would only slow the test.
    await runInDurableObject(configStub(env, a.id), (_instance: unknown, state: DurableObjectState) => {
      for (let i = 1; i < MAX_DOMAINS_PER_ACCOUNT; i++) {
        state.storage.sql.exec(
          "INSERT INTO domain (domain, record, sealed, verified_at, created_at) SELECT ?, record, sealed, NULL, created_at FROM domain WHERE domain = ?",
          `filler${i}.example`,
          first.domain,
        );
      }
    });
    const over = await json(await api("/v1/domains", { method: "POST", json: { domain: `${unique()}.example` }, key: a.key }));
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe("domain_limit");
    expect((await json(await api("/v1/domains", { key: a.key }))).body.data).toHaveLength(MAX_DOMAINS_PER_ACCOUNT);
    expect((await api(`/v1/domains/${first.domain}`, { method: "DELETE", key: a.key })).status).toBe(204);
    await addDomain(a, `${unique()}.example`);
  });

  it("a read-only key lists domains but cannot add, verify or delete one", async () => {
    const a = await newAccount();
    const domain = `${unique()}.example`;
    await addDomain(a, domain);
    const reader = await json(await api("/v1/api-keys", { method: "POST", json: { name: "r", scopes: ["read"] }, key: a.key }));
    expect((await api("/v1/domains", { key: reader.body.key })).status).toBe(200);
    for (const [method, path] of [
      ["POST", "/v1/domains"],
      ["POST", `/v1/domains/${domain}/verify`],
      ["DELETE", `/v1/domains/${domain}`],
    ] as const) {
      const res = await json(
        await api(path, { method, json: method === "POST" ? { domain: `x${domain}` } : undefined, key: reader.body.key }),
      );
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe("insufficient_scope");
    }
    expect((await json(await api(`/v1/domains/${domain}`, { key: a.key }))).body.status).toBe("pending");
  });
});

describe("POST /v1/domains/:domain/verify", () => {
  it("every required record in DNS → verified, each record verified with what DNS holds; DMARC is advisory", async () => {
    const a = await newAccount();
    const made = await addDomain(a, `${unique()}.example`);
    publish(made.records, (r) => r.purpose !== "dmarc");
    const res = await verify(a, made.domain);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("verified");
    expect(Date.parse(res.body.verifiedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.body.checkedAt).toBe(res.body.verifiedAt);
    expect(res.body.records.map((r: Record_) => `${r.purpose}:${r.status}`)).toEqual([
      "dkim:verified",
      "dkim:verified",
      "return_path:verified",
      "spf:verified",
      "dmarc:missing",
    ]);
    expect(res.body.records[0].found).toEqual([made.records[0]!.value]);
    expect(res.body.records[2].found).toEqual([`10 ${TEST_BOUNCE_MX_HOST}.`]);
    // Asked as the DoH JSON API expects, each name and type once.
    const mine = doh.queries.filter((q) => q.name.endsWith(made.domain));
    expect(mine.map((q) => `${q.type} ${q.name}`).sort()).toEqual([...new Set(made.records.map((r) => `${r.type} ${r.name}`))].sort());
    expect(mine.every((q) => q.accept === "application/dns-json")).toBe(true);
    expect((await json(await api(`/v1/domains/${made.domain}`, { key: a.key }))).body).toEqual(res.body);

    // A second check that finds the same keeps verifiedAt.
    const again = await verify(a, made.domain);
    expect(again.body).toMatchObject({ status: "verified", verifiedAt: res.body.verifiedAt });
  });

  it("a missing Ed25519 key and a wrong MX → not verified, the per-record status says which", async () => {
    const a = await newAccount();
    const made = await addDomain(a, `${unique()}.example`);
    publish(made.records, (r) => !r.value.includes("k=ed25519") && r.type !== "MX");
    doh.publish({ name: `lh-bounces.${made.domain}`, type: "MX", value: "mx.elsewhere.example", priority: 5 });
    const res = await verify(a, made.domain);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "pending", verifiedAt: null });
    expect(res.body.records.map((r: Record_) => `${r.purpose}:${r.status}`)).toEqual([
      "dkim:verified",
      "dkim:missing",
      "return_path:mismatch",
      "spf:verified",
      "dmarc:verified",
    ]);
    expect(res.body.records[2].found).toEqual(["5 mx.elsewhere.example."]);
    expect(res.body.records[1].found).toBeUndefined();
  });

  it("nothing published (NXDOMAIN everywhere) → every record missing", async () => {
    const a = await newAccount();
    const made = await addDomain(a, `${unique()}.example`);
    const res = await verify(a, made.domain);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending");
    expect(res.body.records.every((r: Record_) => r.status === "missing")).toBe(true);
    expect(Date.parse(res.body.checkedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("a resolver that fails decides nothing: records pending, the domain's status kept", async () => {
    const a = await newAccount();
    const made = await addDomain(a, `servfail-${unique()}.example`);
    const res = await verify(a, made.domain);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending");
    expect(res.body.records.every((r: Record_) => r.status === "pending" && r.found === undefined)).toBe(true);
  });

  it("an unknown domain, or a name that is no domain, is 404", async () => {
    const a = await newAccount();
    expect((await verify(a, `${unique()}.example`)).status).toBe(404);
    expect((await verify(a, "not_a_domain")).status).toBe(404);
  });
});

describe("what a verified domain changes for sending", () => {
  it("From a pending domain is 422; verified, it is accepted and signed with both keys; deleted, 422 again", async () => {
    const a = await newAccount();
    const settings = await json(
      await api("/v1/email/settings", {
        method: "PUT",
        key: a.key,
        json: { bounceDomain: `bounces.${unique()}.example`, relay: { mode: "smarthost", host: "smtp.test", port: 587, secure: false } },
      }),
    );
    expect(settings.status, JSON.stringify(settings.body)).toBe(200);
    const made = await addDomain(a, `${unique()}.example`);
    const mail = (to: string) => ({ channel: "email", from: `news@${made.domain}`, to, subject: "hi", text: "hello" });
    const send = async (to: string) => json(await api("/v1/messages", { method: "POST", json: mail(to), key: a.key }));

    const pending = await send("reader@example.com");
    expect(pending.status).toBe(422);
    expect(pending.body.error.code).toBe("sender_not_allowed");

    publish(made.records);
    expect((await verify(a, made.domain)).body.status).toBe("verified");
    const sent = await send("reader@example.com");
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    await waitForStatus(sent.body.id, "accepted", a.key);
    const item = (await waitFor(async () => bridge.relayed.find((m) => m.id === sent.body.id))) as unknown as {
      dkim: Array<{ domain: string; selector: string; privateKey: string; algorithm: string }>;
    };
    const [rsa, ed] = made.records;
    expect(item.dkim.map((k) => [k.domain, k.selector, k.algorithm])).toEqual([
      [made.domain, rsa!.name.split(".")[0], "rsa-sha256"],
      [made.domain, ed!.name.split(".")[0], "ed25519-sha256"],
    ]);
    // Each private key handed to the bridge is the pair of the key published under its selector.
    const data = new TextEncoder().encode("dkim");
    const der = (pem: string) => b64(pem.replace(/-----[^-]+-----|\s/g, ""));
    const rsaAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const rsaSig = await crypto.subtle.sign(
      rsaAlg,
      await crypto.subtle.importKey("pkcs8", der(item.dkim[0]!.privateKey), rsaAlg, false, ["sign"]),
      data,
    );
    const rsaPub = await crypto.subtle.importKey("spki", b64(pTag(rsa!.value)), rsaAlg, false, ["verify"]);
    expect(await crypto.subtle.verify(rsaAlg, rsaPub, rsaSig, data)).toBe(true);
    const edSig = await crypto.subtle.sign(
      "Ed25519",
      await crypto.subtle.importKey("pkcs8", der(item.dkim[1]!.privateKey), "Ed25519", false, ["sign"]),
      data,
    );
    const edPub = await crypto.subtle.importKey("raw", b64(pTag(ed!.value)), "Ed25519", false, ["verify"]);
    expect(await crypto.subtle.verify("Ed25519", edPub, edSig, data)).toBe(true);

    // Another domain of the same account that is not verified stays refused.
    const other = await addDomain(a, `${unique()}.example`);
    const refused = await json(
      await api("/v1/messages", { method: "POST", json: { ...mail("x@example.com"), from: `a@${other.domain}` }, key: a.key }),
    );
    expect(refused.status).toBe(422);

    expect((await api(`/v1/domains/${made.domain}`, { method: "DELETE", key: a.key })).status).toBe(204);
    expect((await send("after@example.com")).status).toBe(422);
  });

  it("a domain that fails a later check stops being a sender", async () => {
    const a = await newAccount();
    await api("/v1/email/settings", {
      method: "PUT",
      key: a.key,
      json: { bounceDomain: `bounces.${unique()}.example`, relay: { mode: "smarthost", host: "smtp.test", port: 587, secure: false } },
    });
    const made = await addDomain(a, `${unique()}.example`);
    publish(made.records);
    expect((await verify(a, made.domain)).body.status).toBe("verified");
    const mail = { channel: "email", from: `news@${made.domain}`, to: "r@example.com", subject: "hi", text: "hello" };
    expect((await api("/v1/messages", { method: "POST", json: mail, key: a.key })).status).toBe(202);
    doh.unpublish(made.records[0]!.name, "TXT");
    const failed = await verify(a, made.domain);
    expect(failed.body).toMatchObject({ status: "pending", verifiedAt: null });
    expect(failed.body.records[0].status).toBe("missing");
    expect((await api("/v1/messages", { method: "POST", json: mail, key: a.key })).status).toBe(422);
  });
});

describe("DELETE /v1/domains/:domain and the audit log", () => {
  it("create, verify and delete are audited by actor; after DELETE the domain is 404", async () => {
    const a = await newAccount();
    const made = await addDomain(a, `${unique()}.example`);
    await verify(a, made.domain); // pending → pending: no entry
    publish(made.records);
    await verify(a, made.domain); // pending → verified
    await verify(a, made.domain); // verified → verified: no entry
    expect((await api(`/v1/domains/${made.domain}`, { method: "DELETE", key: a.key })).status).toBe(204);
    expect((await api(`/v1/domains/${made.domain}`, { key: a.key })).status).toBe(404);
    expect((await api(`/v1/domains/${made.domain}`, { method: "DELETE", key: a.key })).status).toBe(404);
    expect((await verify(a, made.domain)).status).toBe(404);
    expect((await json(await api("/v1/domains", { key: a.key }))).body.data).toEqual([]);
    const audit = (await json(await api("/v1/audit?limit=1000", { key: a.key }))).body.data as Array<{
      action: string;
      actor: string;
      target: string;
      change: any;
    }>;
    const mine = audit.filter((e) => e.target === made.domain);
    expect(mine.map((e) => `${e.action} by ${e.actor}`)).toEqual([
      `domain.delete by ${a.keyId}`,
      `domain.verify by ${a.keyId}`,
      `domain.create by ${a.keyId}`,
    ]);
    expect(mine[1]!.change).toMatchObject({ before: "pending", after: "verified" });
    expect(JSON.stringify(audit)).not.toContain("PRIVATE KEY");
  });
});

/**
 * TLS-RPT at the edge (RFC 8460): the bridge's signed session batches at POST /v1/inbound/tls,
 * one platform-wide object per policy domain counting them (a batch id once), and that object's
 * alarm, driven with `run(at)`, building the day's report and delivering it to the domain's rua
 * list: an https POST of the gzip, and a report mail through the bridge's relay door.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EDGE_MTA_STS_PATH, EDGE_TLS_INBOUND_PATH, type TlsSessionReport } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { dayStart, DAY_MS, utcDay } from "../../src/core/tls-report-schedule.ts";
import type { TlsDomainDO } from "../../src/state/tls-domain.ts";
import { tlsDomainStub } from "../../src/state/stubs.ts";
import { installBridge } from "./bridge-fake.ts";
import { installDoh } from "./doh-fake.ts";
import { BASE, unique } from "./helpers.ts";

const RECEIVER_HOST = "tlsrpt.test";
type Received = { url: string; headers: Record<string, string>; body: Uint8Array };

/** A report receiver at https://tlsrpt.test/<name>: records each POST, answers as queued (200 when nothing is). */
function installReceiver() {
  const received: Received[] = [];
  const statuses: number[] = [];
  const previous = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.hostname !== RECEIVER_HOST && url.hostname !== "127.0.0.1") return previous(input as RequestInfo, init);
    received.push({ url: request.url, headers: Object.fromEntries(request.headers), body: new Uint8Array(await request.arrayBuffer()) });
    return new Response(null, { status: statuses.shift() ?? 200 });
  }) as typeof fetch;
  const restore = () => {
    globalThis.fetch = previous;
  };
  return { received, statuses, restore };
}

let doh: ReturnType<typeof installDoh>;
let bridge: ReturnType<typeof installBridge>;
let receiver: ReturnType<typeof installReceiver>;
beforeEach(() => {
  doh = installDoh();
  bridge = installBridge();
  receiver = installReceiver();
});
afterEach(() => {
  receiver.restore();
  bridge.restore();
  doh.restore();
});

async function post(payload: unknown, secret = env.WEBHOOK_SECRET, door = EDGE_TLS_INBOUND_PATH): Promise<Response> {
  const body = JSON.stringify(payload);
  const headers = await signedHeaders(await doorSecret(secret, door), body);
  return SELF.fetch(`${BASE}${door}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
}

const policy = (domain: string) => ({
  type: "sts" as const,
  domain,
  string: ["version: STSv1", "mode: enforce", `mx: mx.${domain}`, "max_age: 86400"],
  mxHost: [`mx.${domain}`],
});
const ok = (domain: string): TlsSessionReport => ({ policy: policy(domain), result: "success", receivingMxHostname: `mx.${domain}` });
const expired = (domain: string): TlsSessionReport => ({
  policy: policy(domain),
  result: "certificate-expired",
  receivingMxHostname: `mx.${domain}`,
  receivingIp: "192.0.2.7",
});

/** Rows of the domain's object: what it counted and what it holds to deliver. */
function rows(domain: string, query: string): Promise<Record<string, unknown>[]> {
  return runInDurableObject(tlsDomainStub(env, domain), (_: TlsDomainDO, state: DurableObjectState) =>
    state.storage.sql.exec(query).toArray(),
  );
}
const runAt = (domain: string, at: number) => runInDurableObject(tlsDomainStub(env, domain), (o: TlsDomainDO) => o.run(at));
/** Half an hour into the next UTC day: the day's report is due. */
const tomorrow = () => dayStart(utcDay(Date.now())) + DAY_MS + 30 * 60_000;

async function gunzipJson(bytes: Uint8Array): Promise<any> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

describe("POST /v1/inbound/tls", () => {
  it("refuses a bad signature (401) and records nothing", async () => {
    const domain = `${unique()}.example`;
    const res = await post({ batchId: crypto.randomUUID(), sessions: [ok(domain)] }, `whsec_${btoa("a different secret of 32 bytes!!")}`);
    expect(res.status).toBe(401);
    expect(await rows(domain, "SELECT * FROM tally")).toEqual([]);
    expect(await rows(domain, "SELECT * FROM batch")).toEqual([]);
  });

  it("refuses a body outside the contract (400, the error shape)", async () => {
    const domain = `${unique()}.example`;
    const res = await post({ batchId: "not-a-uuid", sessions: [{ ...ok(domain), result: "fine" }] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; details: Array<{ path: string }> } };
    expect(body.error.code).toBe("validation_failed");
    expect(typeof body.error.message).toBe("string");
    expect(body.error.details.length).toBeGreaterThan(0);
    expect(await rows(domain, "SELECT * FROM tally")).toEqual([]);
  });

  it("counts each batch once, per policy domain", async () => {
    const [a, b] = [`${unique()}.example`, `${unique()}.example`];
    const batch = { batchId: crypto.randomUUID(), sessions: [ok(a), ok(a), expired(a), ok(b)] };
    const first = await post(batch);
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ domains: 2, counted: 2 });
    // The bridge lost our answer and posts the batch again: nothing counts twice.
    expect(await (await post(batch)).json()).toEqual({ domains: 2, counted: 0 });
    const [tally] = await rows(a, "SELECT json FROM tally");
    const entry = Object.values(JSON.parse(String(tally!.json)).policies)[0] as { successes: number; failures: number };
    expect([entry.successes, entry.failures]).toEqual([2, 1]);
  });
});

describe("the daily report", () => {
  it("POSTs the gzip to an https rua and mails a DKIM-keyed multipart/report through the relay, once each", async () => {
    const domain = `${unique()}.example`;
    doh.publish({
      name: `_smtp._tls.${domain}`,
      type: "TXT",
      value: `v=TLSRPTv1; rua=https://${RECEIVER_HOST}/${domain},mailto:tlsrpt@${domain}`,
    });
    expect((await post({ batchId: crypto.randomUUID(), sessions: [ok(domain), expired(domain), ok(domain)] })).status).toBe(202);
    expect((await post({ batchId: crypto.randomUUID(), sessions: [expired(domain)] })).status).toBe(202);
    // The alarm is armed for after midnight UTC.
    const alarm = await runInDurableObject(tlsDomainStub(env, domain), (_: TlsDomainDO, state: DurableObjectState) =>
      state.storage.getAlarm(),
    );
    expect(alarm).toBeGreaterThanOrEqual(dayStart(utcDay(Date.now())) + DAY_MS);

    // Before the day ends: nothing is sent.
    expect(await runAt(domain, Date.now())).toBe(0);
    expect(receiver.received).toEqual([]);

    const at = tomorrow();
    expect(await runAt(domain, at)).toBe(2);
    expect(receiver.received).toHaveLength(1);
    const posted = receiver.received[0]!;
    expect(posted.url).toBe(`https://${RECEIVER_HOST}/${domain}`);
    expect(posted.headers["content-type"]).toBe("application/tlsrpt+gzip");
    const report = await gunzipJson(posted.body);
    const day = utcDay(Date.now());
    expect(report["date-range"]).toEqual({ "start-datetime": `${day}T00:00:00Z`, "end-datetime": `${day}T23:59:59Z` });
    expect(report["contact-info"]).toBe("tlsrpt@lasthop.test");
    expect(report.policies).toEqual([
      {
        policy: { "policy-type": "sts", "policy-string": policy(domain).string, "policy-domain": domain, "mx-host": [`mx.${domain}`] },
        summary: { "total-successful-session-count": 2, "total-failure-session-count": 2 },
        "failure-details": [
          {
            "result-type": "certificate-expired",
            "receiving-mx-hostname": `mx.${domain}`,
            "receiving-ip": "192.0.2.7",
            "failed-session-count": 2,
          },
        ],
      },
    ]);

    const mails = bridge.relayed.filter((item) => item.rcptTo === `tlsrpt@${domain}`);
    expect(mails).toHaveLength(1);
    const mail = mails[0]! as (typeof mails)[number] & { dkim?: { domain: string; selector: string } };
    expect(mail.relay).toEqual({ mode: "direct" });
    // §3: delivered despite TLS failures (the bridge skips the domain's MTA-STS policy for it).
    expect((mail as { tlsReport?: boolean }).tlsReport).toBe(true);
    expect(mail.mailFrom).toBe("tlsrpt@lasthop.test");
    expect(mail.dkim).toMatchObject({ domain: "lasthop.test", selector: "tlsrpt" });
    expect(mail.raw).toContain('Content-Type: multipart/report; report-type="tlsrpt"');
    expect(mail.raw).toContain(`TLS-Report-Domain: ${domain}`);
    expect(mail.raw).toContain("Content-Type: application/tlsrpt+gzip");
    expect(mail.raw.replace(/\r\n[ \t]+/g, " ")).toContain(`Report-ID: <${report["report-id"]}>`);

    // A later alarm sends neither again; after the retry window the report is gone.
    expect(await runAt(domain, at + 3_600_000)).toBe(0);
    expect(receiver.received).toHaveLength(1);
    expect(bridge.relayed.filter((item) => item.rcptTo === `tlsrpt@${domain}`)).toHaveLength(1);
    await runAt(domain, at + 2 * DAY_MS);
    expect(await rows(domain, "SELECT id FROM report")).toEqual([]);
  });

  it("retries a failed POST with backoff, then delivers it once", async () => {
    const domain = `${unique()}.example`;
    doh.publish({ name: `_smtp._tls.${domain}`, type: "TXT", value: `v=TLSRPTv1;rua=https://${RECEIVER_HOST}/r` });
    await post({ batchId: crypto.randomUUID(), sessions: [ok(domain)] });
    receiver.statuses.push(503);
    const at = tomorrow();
    await runAt(domain, at);
    expect(receiver.received).toHaveLength(1);
    // Not due yet a minute later (the first retry waits 5 minutes).
    expect(await runAt(domain, at + 60_000)).toBe(0);
    expect(await runAt(domain, at + 5 * 60_000)).toBe(1);
    expect(receiver.received).toHaveLength(2);
    expect(await rows(domain, "SELECT status, attempts FROM delivery")).toEqual([{ status: "sent", attempts: 2 }]);
    expect(await runAt(domain, at + 3_600_000)).toBe(0);
    expect(receiver.received).toHaveLength(2);
  });

  it("gives up on a failing rua after 24 hours, with a log line", async () => {
    const domain = `${unique()}.example`;
    doh.publish({ name: `_smtp._tls.${domain}`, type: "TXT", value: `v=TLSRPTv1;rua=https://${RECEIVER_HOST}/down` });
    await post({ batchId: crypto.randomUUID(), sessions: [ok(domain)] });
    receiver.statuses.push(...Array<number>(100).fill(500));
    let at = tomorrow();
    for (let i = 0; i < 20; i++) {
      await runAt(domain, at);
      at += 4 * 3_600_000;
    }
    const [row] = await rows(domain, "SELECT status FROM delivery");
    expect(row === undefined || row.status === "dropped").toBe(true);
    // Attempts stopped within the window: backoff 5 min doubling to 4 h caps them near a dozen.
    expect(receiver.received.length).toBeLessThan(15);
  });

  it("keeps a day's tally while DNS fails, asks again with backoff, and drops it after the window", async () => {
    // The fake resolver answers SERVFAIL for names under a label starting "servfail".
    const domain = `servfail-${unique()}.example`;
    await post({ batchId: crypto.randomUUID(), sessions: [ok(domain)] });
    const at = tomorrow();
    await runAt(domain, at);
    expect(await rows(domain, "SELECT day FROM tally")).toHaveLength(1);
    const alarm = await runInDurableObject(tlsDomainStub(env, domain), (_: TlsDomainDO, state: DurableObjectState) =>
      state.storage.getAlarm(),
    );
    // Not a tight loop: the next look is minutes away.
    expect(alarm! - Date.now()).toBeGreaterThan(60_000);
    await runAt(domain, at + 25 * 3_600_000);
    expect(await rows(domain, "SELECT day FROM tally")).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it("never POSTs to an rua outside the URL rules, and drops a tally when the domain asks for no reports", async () => {
    const [ssrf, none] = [`${unique()}.example`, `${unique()}.example`];
    doh.publish({ name: `_smtp._tls.${ssrf}`, type: "TXT", value: "v=TLSRPTv1;rua=https://127.0.0.1/x" });
    doh.publish({ name: `other.${none}`, type: "TXT", value: "unrelated" });
    await post({ batchId: crypto.randomUUID(), sessions: [ok(ssrf), ok(none)] });
    const at = tomorrow();
    await runAt(ssrf, at);
    await runAt(none, at);
    expect(receiver.received).toEqual([]);
    expect(await rows(ssrf, "SELECT status FROM delivery")).toEqual([{ status: "dropped" }]);
    expect(await rows(none, "SELECT * FROM tally")).toEqual([]);
    expect(await rows(none, "SELECT * FROM report")).toEqual([]);
  });
});

describe("POST /v1/inbound/mta-sts — the bridges' shared policy cache", () => {
  const sts = (payload: unknown, secret = env.WEBHOOK_SECRET) => post(payload, secret, EDGE_MTA_STS_PATH);
  const cached = (id: string, fetchedAt: number, maxAge = 86_400) => ({
    id,
    policy: { mode: "enforce", maxAge, mx: ["mx.example.net"] },
    fetchedAt,
    expiresAt: fetchedAt + maxAge * 1000,
  });

  it("keeps the latest fetched policy of a domain and answers it until it expires", async () => {
    const domain = `${unique()}.example`;
    expect(await (await sts({ domain })).json()).toEqual({ policy: null });
    const now = Date.now();
    const offered = await sts({ domain, policy: cached("a1", now) });
    expect(offered.status).toBe(200);
    expect(await offered.json()).toEqual({ policy: cached("a1", now) });
    // Case does not make another domain; an older fetch does not replace a newer one.
    expect(await (await sts({ domain: domain.toUpperCase(), policy: cached("a0", now - 60_000) })).json()).toEqual({
      policy: cached("a1", now),
    });
    expect(await (await sts({ domain })).json()).toEqual({ policy: cached("a1", now) });
    // One fetched long ago with a short max_age has expired: none to share.
    const stale = `${unique()}.example`;
    await sts({ domain: stale, policy: cached("s1", now - 120_000, 60) });
    expect(await (await sts({ domain: stale })).json()).toEqual({ policy: null });
  });

  it("refuses a bad signature (401), and a policy that claims to outlive its max_age (400)", async () => {
    const domain = `${unique()}.example`;
    const res = await sts({ domain, policy: cached("b1", Date.now()) }, `whsec_${btoa("a different secret of 32 bytes!!")}`);
    expect(res.status).toBe(401);
    expect(await (await sts({ domain })).json()).toEqual({ policy: null });
    const forever = { ...cached("b2", Date.now(), 60), expiresAt: Date.now() + 10 * DAY_MS };
    const bad = await sts({ domain, policy: forever });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("validation_failed");
  });
});

describe("the TLS doors", () => {
  it("take only bodies signed for themselves, and are in the OpenAPI document", async () => {
    const body = JSON.stringify({ domain: `${unique()}.example` });
    // Signed for the sessions door, posted at the policy door: refused.
    const headers = await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, EDGE_TLS_INBOUND_PATH), body);
    const crossed = await SELF.fetch(`${BASE}${EDGE_MTA_STS_PATH}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
    expect(crossed.status).toBe(401);
    const doc = (await (await SELF.fetch(`${BASE}/openapi.json`)).json()) as { paths: Record<string, { post?: unknown }> };
    expect(doc.paths[EDGE_TLS_INBOUND_PATH]?.post).toBeDefined();
    expect(doc.paths[EDGE_MTA_STS_PATH]?.post).toBeDefined();
  });
});

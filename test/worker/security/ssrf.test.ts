/**
 * SSRF (issue 17): every place the Worker fetches a URL that came from outside — web push
 * endpoints, customer webhook endpoints, SNS certificate and SubscribeURL, hosted email
 * providers' base URLs, SMS REST and Vonage base URLs — is fed private ranges, loopback,
 * metadata addresses, IPv6 forms, odd IPv4 spellings, userinfo, intranet names and redirects.
 * An outbound recorder sits in front of fetch for the whole test: it plays the allowed hosts,
 * follows a 3xx exactly when the caller's `redirect` mode says fetch would, and answers anything
 * else itself (nothing leaves the machine). The proof is its log: no request ever named a host
 * outside the test's allowlist. The rules themselves are tabled in test/core/webhook-url.test.ts.
 */
import { SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TEST_BRIDGE_HOST, TEST_PUSH_HOST } from "../../fixtures.ts";
import { waitFor } from "../../wait.ts";
import { installBridge } from "../bridge-fake.ts";
import { adminAccount, api, BASE, getMessage, json, send, subscription, unique, waitForStatus, type AdminAccount } from "../helpers.ts";
import { HOOKS_HOST } from "../hooks-fake.ts";
import { installSns, SNS_CERT_URL, snsSign } from "../provider-signers.ts";
import { installSms, TEST_TWILIO } from "../sms-fake.ts";

/** Hosts the tests may reach: the fakes of the push service, the customer's receiver, SNS, the bridge, public-looking providers. */
const SNS_HOST = new URL(SNS_CERT_URL).hostname;
const REDIRECTOR = "api.redirector.example";
const ALLOWED = new Set([TEST_PUSH_HOST, HOOKS_HOST, SNS_HOST, TEST_BRIDGE_HOST, REDIRECTOR]);

/** Where a redirect from an allowed host points: the metadata service. */
const INTERNAL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";

/** [what, URL]: every spelling of "our side of the network" the brief lists, and then some. */
const HOSTILE: Array<[string, string]> = [
  ["10/8", "https://10.0.0.1/x"],
  ["172.16/12", "https://172.16.5.4/x"],
  ["172.16/12 top", "https://172.31.255.254/x"],
  ["192.168/16", "https://192.168.0.1/x"],
  ["loopback", "https://127.0.0.1/x"],
  ["loopback, another port", "https://127.0.0.1:8787/x"],
  ["loopback 127.x", "https://127.42.0.9/x"],
  ["::1", "https://[::1]/x"],
  ["0.0.0.0", "https://0.0.0.0/x"],
  ["metadata 169.254.169.254", "https://169.254.169.254/latest/meta-data/"],
  ["fd00::/8", "https://[fd00::1]/x"],
  ["AWS metadata over IPv6", "https://[fd00:ec2::254]/x"],
  ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/x"],
  ["IPv4-mapped metadata, hex", "https://[::ffff:a9fe:a9fe]/x"],
  ["IPv4-translated loopback", "https://[::ffff:0:7f00:1]/x"],
  ["NAT64 of 10/8", "https://[64:ff9b::a00:1]/x"],
  ["decimal 2130706433", "https://2130706433/x"],
  ["hex 0x7f000001", "https://0x7f000001/x"],
  ["octal 0177.0.0.1", "https://0177.0.0.1/x"],
  ["short 127.1", "https://127.1/x"],
  ["decimal metadata", "https://2852039166/x"],
  ["userinfo: good@loopback", "https://good.example@127.0.0.1/x"],
  ["userinfo naming an allowed host", `https://${TEST_PUSH_HOST}@evil.example/x`],
  ["localhost", "https://localhost/x"],
  ["*.localhost", "https://api.localhost/x"],
  ["localhost.", "https://localhost./x"],
  ["metadata.google.internal", "https://metadata.google.internal/computeMetadata/v1/"],
  ["intranet name", "https://intranet/x"],
  ["*.local", "https://printer.local/x"],
  ["plain http to a public host", "http://hooks.example.com/x"],
];

type Call = { url: string; host: string; redirect: Request["redirect"] };

/**
 * The outbound recorder. `play` answers a request to an allowed host (null: the previous fetch,
 * i.e. the fakes installed before). A 3xx is followed only when the request's redirect mode is
 * "follow", as fetch does, so a sender that forgot `redirect: "manual"` shows up in the log.
 */
function installRecorder(play: (request: Request) => Promise<Response | null> = async () => null) {
  const previous = globalThis.fetch;
  const calls: Call[] = [];
  const recorder = async (input: RequestInfo | URL, init?: RequestInit, hops = 0): Promise<Response> => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.origin === BASE) return previous(input as RequestInfo, init);
    calls.push({ url: request.url, host: url.hostname, redirect: request.redirect });
    const answer = ALLOWED.has(url.hostname)
      ? ((await play(request.clone())) ?? (await previous(request)))
      : new Response("the recorder stands in for a host no test may reach", { status: 599 as number });
    const location = answer.headers.get("location");
    if (answer.status >= 300 && answer.status < 400 && location && request.redirect === "follow" && hops < 5) {
      return recorder(new URL(location, request.url).href, { method: "GET" }, hops + 1);
    }
    return answer;
  };
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => recorder(input, init)) as typeof fetch;
  return {
    calls,
    /** Every request that named a host outside the allowlist. */
    strays: () => calls.filter((c) => !ALLOWED.has(c.host)),
    restore() {
      globalThis.fetch = previous;
    },
  };
}

const redirect = () => new Response(null, { status: 302, headers: { location: INTERNAL } });

/** The recorder's parts: the redirector, the push service, the customer's receiver; the rest to the fakes below it. */
async function play(request: Request): Promise<Response | null> {
  const url = new URL(request.url);
  if (url.hostname === REDIRECTOR) return redirect();
  if ((url.hostname === TEST_PUSH_HOST || url.hostname === HOOKS_HOST) && url.pathname.startsWith("/redirect")) return redirect();
  if (url.hostname === HOOKS_HOST) return new Response("ok");
  if (url.hostname === TEST_PUSH_HOST) return new Response(null, { status: 201 });
  return null;
}

const restore: Array<() => void> = [];
let recorder: ReturnType<typeof installRecorder> | undefined;
/** Installed last, after a test's fakes, so it sees every request before they do. */
function record(): ReturnType<typeof installRecorder> {
  const installed = installRecorder(play);
  recorder = installed;
  restore.push(() => installed.restore());
  return installed;
}
afterEach(() => {
  const strays = recorder?.strays() ?? [];
  recorder = undefined;
  for (const r of restore.splice(0).reverse()) r();
  expect(strays, "requests to hosts outside the allowlist").toEqual([]);
});
describe("customer webhook endpoints (create, update, test)", () => {
  it.each(HOSTILE)("%s: %s is refused on create and on update", async (_what, url) => {
    record();
    const a = await adminAccount("SSRF hooks");
    const created = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url }, key: a.key }));
    expect(created.status, JSON.stringify(created.body)).toBe(422);
    expect(created.body.error.details[0]).toMatchObject({ path: "url" });
    const good = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: `https://${HOOKS_HOST}/ok` }, key: a.key }));
    expect(good.status).toBe(201);
    const patched = await json(await api(`/v1/webhook-endpoints/${good.body.id}`, { method: "PATCH", json: { url }, key: a.key }));
    expect(patched.status).toBe(422);
    expect((await json(await api(`/v1/webhook-endpoints/${good.body.id}`, { key: a.key }))).body.url).toBe(`https://${HOOKS_HOST}/ok`);
  });

  it("a 302 from the endpoint to the metadata service is not followed (the test send fails, nothing else is asked)", async () => {
    const recorder = record();
    const a = await adminAccount("SSRF redirect");
    const ep = await json(
      await api("/v1/webhook-endpoints", { method: "POST", json: { url: `https://${HOOKS_HOST}/redirect` }, key: a.key }),
    );
    expect(ep.status).toBe(201);
    const tested = await json(await api(`/v1/webhook-endpoints/${ep.body.id}/test`, { method: "POST", key: a.key }));
    expect(tested.status).toBe(200);
    expect(tested.body.attempt).toMatchObject({ result: "failed", statusCode: 302 });
    expect(recorder.calls.filter((c) => c.host === HOOKS_HOST).every((c) => c.redirect === "manual")).toBe(true);
  });
});

describe("web push endpoints (send)", () => {
  const extra: Array<[string, string]> = [
    ["an allowed name under another domain", `https://${TEST_PUSH_HOST}.evil.example/x`],
    ["an allowed host on another port", `https://${TEST_PUSH_HOST}:8443/x`],
    ["an allowed host over http", `http://${TEST_PUSH_HOST}/x`],
    ["a public host not on the allowlist", "https://push.evil.example/x"],
  ];
  it.each([...HOSTILE, ...extra])("%s: %s is refused at accept (400 or 422), nothing fetched", async (_what, endpoint) => {
    record();
    const sub = await subscription("unused");
    const res = await send({ channel: "webpush", to: { ...sub, endpoint }, payload: { hi: 1 } });
    // 400 when the schema refuses it (not https), 422 when the allowlist does.
    expect([400, 422], JSON.stringify(res.body)).toContain(res.status);
  });

  it("a 302 from the push service to the metadata service is not followed", async () => {
    const recorder = record();
    const sub = await subscription(`redirect-${unique()}`);
    const res = await send({ channel: "webpush", to: sub, payload: { hi: 1 } });
    expect(res.status).toBe(202);
    const m = await waitFor(async () => {
      const body = (await getMessage(res.body.id)).body;
      return ["failed", "bounced"].includes(body.status) || body.events.some((e: { type: string }) => e.type === "deferred") ? body : null;
    }, "the push attempt's outcome");
    expect(JSON.stringify(m.events)).toContain("302");
    expect(recorder.calls.filter((c) => c.host === TEST_PUSH_HOST).every((c) => c.redirect === "manual")).toBe(true);
  });
});

describe("SNS: the certificate URL and the SubscribeURL", () => {
  const topic = "arn:aws:sns:us-east-1:123456789012:ssrf";
  const headers = { "content-type": "text/plain; charset=UTF-8" };
  const certUrls: Array<[string, string]> = [
    ...HOSTILE.map(([what, url]): [string, string] => [what, `${url.replace(/\/[^/]*$/, "")}/cert.pem`]),
    ["SNS's name under another domain", "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem"],
    ["SNS's host on another port", "https://sns.us-east-1.amazonaws.com:8443/cert.pem"],
    ["SNS's host over http", "http://sns.us-east-1.amazonaws.com/cert.pem"],
    ["userinfo naming SNS", "https://sns.us-east-1.amazonaws.com@127.0.0.1/cert.pem"],
  ];
  let a: AdminAccount;
  let recorder: ReturnType<typeof installRecorder>;
  beforeEach(async () => {
    const sns = installSns();
    restore.push(sns.restore);
    recorder = record();
    a = await adminAccount("SSRF SNS");
    const res = await api("/v1/providers/ses", { method: "PUT", json: { topicArns: [topic] }, key: a.key });
    expect(res.status).toBe(200);
  });

  it("a signed notification naming a certificate anywhere but SNS is refused (401) before any fetch", async () => {
    for (const [what, certUrl] of certUrls) {
      const message = await snsSign(
        { Type: "Notification", MessageId: crypto.randomUUID(), TopicArn: topic, Message: "{}", Timestamp: new Date().toISOString() },
        certUrl,
      );
      const res = await SELF.fetch(`${BASE}/v1/webhooks/ses/${a.id}`, { method: "POST", body: JSON.stringify(message), headers });
      expect(res.status, what).toBe(401);
    }
    expect(recorder.calls).toEqual([]);
  });

  it("a correctly signed confirmation whose SubscribeURL is not SNS's is refused (401); only SNS's certificate is fetched", async () => {
    const subscribeUrls = [...HOSTILE.map(([what, url]): [string, string] => [what, `${url}?Action=ConfirmSubscription`]), ...certUrls];
    for (const [what, subscribeUrl] of subscribeUrls) {
      const message = await snsSign({
        Type: "SubscriptionConfirmation",
        MessageId: crypto.randomUUID(),
        TopicArn: topic,
        Message: "You have chosen to subscribe.",
        Timestamp: new Date().toISOString(),
        Token: unique(),
        SubscribeURL: subscribeUrl,
      });
      const res = await SELF.fetch(`${BASE}/v1/webhooks/ses/${a.id}`, { method: "POST", body: JSON.stringify(message), headers });
      expect(res.status, what).toBe(401);
    }
    expect(new Set(recorder.calls.map((c) => c.url))).toEqual(new Set(recorder.calls.length ? [SNS_CERT_URL] : []));
  });
});

/** An account's SMS routes: every hostile base URL as a REST or a Vonage route, then the SMPP route that takes the message. */
async function smsAccount(hostile: string[]): Promise<{ account: AdminAccount; sender: string }> {
  const account = await adminAccount("SSRF SMS");
  const sender = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
  const routes = [
    ...hostile.map((baseUrl, i) =>
      i % 2
        ? { name: `rest${i}`, type: "rest", baseUrl, ...TEST_TWILIO }
        : { name: `vonage${i}`, type: "vonage", baseUrl, apiKey: "abc123", apiSecret: "s3cret-not-real" },
    ),
    { name: "smpp", type: "smpp", bridgeRoute: "smsc" },
  ];
  const res = await json(await api("/v1/sms/settings", { method: "PUT", json: { routes, senders: [sender] }, key: account.key }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { account, sender };
}

describe("SMS REST and Vonage base URLs (the account's own routes)", () => {
  it("every hostile base URL is skipped as a misconfigured route; the SMPP route after them takes the message", async () => {
    const fake = installSms();
    restore.push(() => fake.restore());
    record();
    const hostile = HOSTILE.map(([, url]) => url.replace(/\/[^/]*$/, ""));
    const { account, sender } = await smsAccount(hostile);
    const res = await send({ channel: "sms", to: "+14155550123", from: sender, body: "hello" }, { key: account.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    expect(m.route).toBe("smpp");
    expect(JSON.stringify(m.events)).toContain("route_misconfigured");
  });

  it("a 302 from an aggregator or from Vonage is not followed", async () => {
    const fake = installSms();
    restore.push(() => fake.restore());
    const recorder = record();
    for (const type of ["rest", "vonage"] as const) {
      const account = await adminAccount("SSRF SMS redirect");
      const sender = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
      const route =
        type === "rest"
          ? { name: "r", type, baseUrl: `https://${REDIRECTOR}`, ...TEST_TWILIO }
          : { name: "r", type, baseUrl: `https://${REDIRECTOR}`, apiKey: "abc123", apiSecret: "s3cret-not-real" };
      const settings = await api("/v1/sms/settings", { method: "PUT", json: { routes: [route], senders: [sender] }, key: account.key });
      expect(settings.status).toBe(200);
      const res = await send({ channel: "sms", to: "+14155550124", from: sender, body: "hello" }, { key: account.key });
      expect(res.status).toBe(202);
      await waitFor(async () => (await getMessage(res.body.id, account.key)).body.events.length > 2, `the ${type} attempt's outcome`);
    }
    const asked = recorder.calls.filter((c) => c.host === REDIRECTOR);
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((c) => c.redirect === "manual")).toBe(true);
  });
});

describe("hosted email providers' base URLs", () => {
  it("every hostile base URL is skipped as a misconfigured route; the relay after them takes the message", async () => {
    const bridge = installBridge();
    restore.push(() => bridge.restore());
    record();
    const hostile = HOSTILE.map(([, url]) => url.replace(/\/[^/]*$/, ""));
    const types = ["sendgrid", "ses", "mailgun", "postmark", "resend"];
    // Nine hostile routes and the relay per account (ten routes at most).
    for (let start = 0; start < hostile.length; start += 9) {
      const account = await adminAccount("SSRF ESP");
      for (const [provider, body] of Object.entries({
        sendgrid: { apiKey: "SG.not-a-real-key-0000" },
        ses: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "not-a-real-secret-access-key-000000000000", region: "us-east-1" },
        mailgun: { apiKey: "key-not-real", domain: "mg.ssrf.example" },
        postmark: { serverToken: "not-a-real-server-token" },
        resend: { apiKey: "re_not_real" },
      })) {
        const res = await json(await api(`/v1/providers/${provider}`, { method: "PUT", json: body, key: account.key }));
        expect(res.status, `${provider}: ${JSON.stringify(res.body)}`).toBe(200);
      }
      const routes = [
        ...hostile.slice(start, start + 9).map((baseUrl, i) => ({ name: `r${i}`, type: types[(start + i) % types.length], baseUrl })),
        { name: "relay", type: "relay" },
      ];
      const settings = await json(
        await api("/v1/email/settings", {
          method: "PUT",
          key: account.key,
          json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["ssrf.example"], relay: { mode: "direct" }, routes },
        }),
      );
      expect(settings.status, JSON.stringify(settings.body)).toBe(200);
      const res = await send(
        { channel: "email", from: "news@ssrf.example", to: `reader-${unique()}@example.net`, subject: "hi", text: "hello" },
        { key: account.key },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const m = await waitForStatus(res.body.id, "accepted", account.key);
      expect(m.route).toBe("relay");
    }
  });
});

describe("an FCM service account's token_uri (the account's own key file)", () => {
  /** A real RSA key as PKCS#8 PEM: the assertion must be signed before the token_uri is asked. */
  async function pem(): Promise<string> {
    const pair = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign"],
    )) as CryptoKeyPair;
    const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
    const b64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n");
    return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
  }

  const uris: Array<[string, string]> = [
    ["metadata", "https://169.254.169.254/token"],
    ["loopback, decimal", "https://2130706433/token"],
    ["IPv4-mapped private", "https://[::ffff:10.0.0.1]/token"],
    ["localhost", "https://localhost/token"],
    ["plain http", "http://oauth.example.com/token"],
    ["a 302 to the metadata service", `https://${REDIRECTOR}/token`],
  ];
  it.each(uris)("%s: %s is never asked (or its redirect never followed); the send records an error", async (_what, tokenUri) => {
    const recorder = record();
    const a = await adminAccount("SSRF FCM");
    const serviceAccount = {
      type: "service_account",
      project_id: `p-${unique()}`,
      private_key: await pem(),
      private_key_id: unique().repeat(4),
      client_email: "svc@p.iam.gserviceaccount.com",
      token_uri: tokenUri,
    };
    const put = await json(await api("/v1/push/fcm", { method: "PUT", json: { serviceAccount }, key: a.key }));
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const res = await send({ channel: "fcm", to: "device-ssrf", message: { notification: { title: "hi" } } }, { key: a.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitFor(async () => (await getMessage(res.body.id, a.key)).body.events.length > 2, "the FCM attempt's outcome");
    expect(recorder.calls.every((c) => c.host === REDIRECTOR && c.redirect === "manual")).toBe(true);
  });
});

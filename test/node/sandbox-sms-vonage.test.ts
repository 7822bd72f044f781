// The sandbox's Vonage SMS API checked as lasthop's Vonage route sees it: requests built by
// src/core/sms/vonage.ts (api_secret or sig), Vonage's answers (HTTP 200 with a status per part),
// and the signed delivery receipts, checked at a local HTTP server with the signature code the
// webhook verifier (src/webhooks/vonage.ts) uses.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { vonageRequest, vonageRoute, type VonageRoute } from "../../src/core/sms/vonage.ts";
import { signature } from "../../src/core/sms/vonage-signature.ts";
import type { VonageSmsConfig } from "../../sandbox/sms-vonage.ts";
import { waitFor } from "../wait.ts";
import { closeHttpServer, listenLocal } from "./fixtures/http-server.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Part = { to?: string; "message-id"?: string; status: string; "error-text"?: string; "message-price"?: string; network?: string };
type Answer = { "message-count": string; messages: Part[] };

let sandbox: TestSandbox;
let hooks: Server;
let hookBase: string;
let config: VonageSmsConfig;
const receipts: Array<{ path: string; params: Record<string, string> }> = [];

beforeAll(async () => {
  sandbox = await startTestSandbox({ smscDlrDelayMs: 50, smscLateDlrMs: 300 });
  hooks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      receipts.push({
        path: new URL(req.url!, "http://x").pathname,
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))),
      });
      res.writeHead(200).end();
    });
  });
  hookBase = `http://127.0.0.1:${await listenLocal(hooks)}`;
  config = (await (await control(sandbox, "GET", "/_sandbox/sms/vonage/config")).json()) as VonageSmsConfig;
});

afterAll(async () => {
  await sandbox?.close();
  if (hooks) await closeHttpServer(hooks);
});

beforeEach(async () => {
  expect((await control(sandbox, "POST", "/_sandbox/sms/vonage/behaviour", { mode: "ok" })).status).toBe(200);
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
  receipts.length = 0;
});

let n = 0;
const handset = (last4 = "4321") => `+4477${String(100000 + n++).slice(-6)}${last4}`;
const clientRef = () => crypto.randomUUID();

function route(extra: Partial<VonageRoute> = {}): VonageRoute {
  return vonageRoute.parse({
    name: "vonage",
    type: "vonage",
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    apiSecret: config.apiSecret,
    ...extra,
  });
}

async function post(params: Record<string, string>, init: { json?: boolean } = {}): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${config.baseUrl}/sms/json`, {
    method: "POST",
    headers: { "content-type": init.json ? "application/json" : "application/x-www-form-urlencoded" },
    body: init.json ? JSON.stringify(params) : new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

async function send(to: string, extra: { route?: VonageRoute; text?: string; ref?: string; callback?: string } = {}) {
  const { params } = await vonageRequest(extra.route ?? route(), {
    to,
    from: "+15005550006",
    text: extra.text ?? "Your code is 123456",
    clientRef: extra.ref ?? clientRef(),
    callback: extra.callback ?? `${hookBase}/v1/webhooks/vonage/acct-a`,
  });
  return { params, ...(await post(params)) };
}

function status(answer: { status: number; body: Answer }): [number, string, string | undefined] {
  return [answer.status, answer.body.messages[0]!.status, answer.body.messages[0]!["error-text"]];
}

describe("authentication, as Vonage answers it (HTTP 200, a status per message)", () => {
  it("credentials are random per start, the base URL names the control server", () => {
    expect(config.baseUrl).toBe(`${sandbox.httpUrl}/vonage`);
    expect(config.apiKey).toMatch(/^[0-9a-f]{8}$/);
    expect(config.apiSecret).toMatch(/^[0-9a-f]{16}$/);
    expect(config.signatureSecret.length).toBeGreaterThan(20);
    expect(config.signatureMethod).toBe("md5hash");
    expect(sandbox.smsVonage.config()).toEqual(config);
  });

  it("api_key + api_secret: accepted; a wrong secret or key is 4, none is 2", async () => {
    const ok = await send(handset());
    expect(ok.status).toBe(200);
    expect(ok.body["message-count"]).toBe("1");
    expect(ok.body.messages[0]).toMatchObject({ to: ok.params.to, status: "0", network: expect.any(String) });
    expect(ok.body.messages[0]!["message-id"]).toMatch(/^[0-9A-F]{16}$/);
    expect(status(await send(handset(), { route: route({ apiSecret: "0".repeat(16) }) }))).toEqual([200, "4", "Bad Credentials"]);
    expect(status(await send(handset(), { route: route({ apiKey: "deadbeef" }) }))).toEqual([200, "4", "Bad Credentials"]);
    const { api_secret: _secret, ...noSecret } = ok.params;
    expect(status(await post(noSecret))).toEqual([200, "2", "Missing api_secret"]);
    const { api_key: _key, ...noKey } = ok.params;
    expect(status(await post(noKey))).toEqual([200, "2", "Missing api_key"]);
  });

  it.each(["md5hash"] as const)(
    "a signature (%s) over every field and the timestamp: accepted; a wrong or stale one is 14",
    async (method) => {
      const signed = route({ apiSecret: undefined, signatureSecret: config.signatureSecret, signatureMethod: method });
      const ok = await send(handset(), { route: signed });
      expect(ok.params.sig).toMatch(/^[0-9a-f]{32}$/);
      expect(ok.body.messages[0]!.status).toBe("0");
      expect(status(await post({ ...ok.params, text: "tampered" }))).toEqual([200, "14", "Invalid Signature"]);
      const wrong = route({ apiSecret: undefined, signatureSecret: "not-the-secret" });
      expect(status(await send(handset(), { route: wrong }))).toEqual([200, "14", "Invalid Signature"]);
      const stale = await vonageRequest(
        signed,
        { to: "+447700900123", from: "+15005550006", text: "x", clientRef: clientRef(), callback: hookBase },
        Date.now() - 10 * 60_000,
      );
      expect(status(await post(stale.params))).toEqual([200, "14", "Invalid Signature"]);
      expect(status(await post({ ...ok.params, api_secret: config.apiSecret }))).toEqual([
        200,
        "32",
        "Signature And API Secret Disallowed",
      ]);
    },
  );

  it("JSON bodies are read as forms are", async () => {
    const { params } = await vonageRequest(route(), {
      to: handset(),
      from: "Acme",
      text: "hi",
      clientRef: clientRef(),
      callback: hookBase,
    });
    expect((await post(params, { json: true })).body.messages[0]!.status).toBe("0");
  });
});

describe("the message's parameters", () => {
  it("missing from/to/text is 2; a + in to is 3; a callback that is no URL is 23; a long sender id is 15", async () => {
    const { params } = await vonageRequest(route(), {
      to: handset(),
      from: "+15005550006",
      text: "x",
      clientRef: clientRef(),
      callback: hookBase,
    });
    const { text: _text, ...noText } = params;
    expect(status(await post(noText))).toEqual([200, "2", "Missing text param"]);
    expect(status(await post({ ...params, to: `+${params.to}` }))).toEqual([200, "3", "Invalid to address"]);
    expect(status(await post({ ...params, callback: "not a url" }))).toEqual([200, "23", "Invalid Callback Url"]);
    expect(status(await post({ ...params, from: "FarTooLongSenderId" }))).toEqual([200, "15", "Invalid Sender Address"]);
  });

  it("a number ending 2222 is throttled (status 1) the first time only", async () => {
    const to = handset("2222");
    expect(status(await send(to))).toEqual([200, "1", "Throttled"]);
    expect((await send(to)).body.messages[0]!.status).toBe("0");
  });

  it("a number set to a status answers it until cleared", async () => {
    const to = handset();
    const set = await control(sandbox, "PUT", `/_sandbox/sms/vonage/numbers/${encodeURIComponent(to)}`, { status: 7 });
    expect(await set.json()).toEqual({ number: to.slice(1), status: 7, errorText: "Number Barred" });
    expect(status(await send(to))).toEqual([200, "7", "Number Barred"]);
    await control(sandbox, "PUT", `/_sandbox/sms/vonage/numbers/${encodeURIComponent(to)}`, { status: 0 });
    expect((await send(to)).body.messages[0]!.status).toBe("0");
    expect((await control(sandbox, "PUT", "/_sandbox/sms/vonage/numbers/4477001", { status: 13 })).status).toBe(400);
  });
});

describe("acceptance, the record and the receipts", () => {
  it("a two-part message: two ids, recorded once (channel sms, provider vonage), one signed receipt per part with client-ref", async () => {
    const to = handset();
    const ref = clientRef();
    const text = "A long message. ".repeat(12);
    const ok = await send(to, { text, ref });
    expect(ok.body["message-count"]).toBe("2");
    const ids = ok.body.messages.map((m) => m["message-id"]!);
    expect(new Set(ids).size).toBe(2);

    const received = (await (await control(sandbox, "GET", "/_sandbox/received?channel=sms")).json()) as Array<Record<string, any>>;
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      channel: "sms",
      to,
      status: 200,
      provider: "vonage",
      providerMessageId: ids[0],
      payload: { text, route: "vonage", segments: 2, from: "15005550006", messageIds: ids, clientRef: ref },
    });

    // Earlier tests' receipts may still arrive: only this message's count.
    const mine = () => receipts.filter((r) => r.params["client-ref"] === ref);
    await waitFor(() => mine().length >= 2, "two receipts");
    expect(mine().map((r) => r.path)).toEqual(["/v1/webhooks/vonage/acct-a", "/v1/webhooks/vonage/acct-a"]);
    expect(
      mine()
        .map((r) => r.params.messageId)
        .sort(),
    ).toEqual([...ids].sort());
    for (const { params } of mine()) {
      expect(params).toMatchObject({ msisdn: to.slice(1), to: "15005550006", status: "delivered", "err-code": "0", "client-ref": ref });
      expect(params.sig).toBe(await signature(params, config.signatureSecret, config.signatureMethod));
      expect(Math.abs(Number(params.timestamp) - Date.now() / 1000)).toBeLessThan(60);
      expect(params.sig).not.toBe(await signature({ ...params, status: "failed" }, config.signatureSecret, config.signatureMethod));
    }
  });

  it("a number ending 0000 gets a failed receipt with err-code 3", async () => {
    const ref = clientRef();
    await send(handset("0000"), { ref });
    const receipt = await waitFor(() => receipts.find((r) => r.params["client-ref"] === ref), "a receipt");
    expect(receipt.params).toMatchObject({ status: "failed", "err-code": "3" });
  });

  it("without a callback parameter the receipts go to the default callback, when one is set", async () => {
    const ok = await send(handset(), { callback: undefined });
    const { callback: _callback, sig: _sig, ...params } = ok.params;
    await post(params);
    const set = await control(sandbox, "PUT", "/_sandbox/sms/vonage/callback", { url: `${hookBase}/default` });
    expect(((await set.json()) as VonageSmsConfig).callback).toBe(`${hookBase}/default`);
    await post(params);
    await waitFor(() => receipts.some((r) => r.path === "/default"), "a receipt at the default callback");
    await control(sandbox, "PUT", "/_sandbox/sms/vonage/callback", { url: null });
    expect((await control(sandbox, "PUT", "/_sandbox/sms/vonage/callback", { url: "ftp://x" })).status).toBe(400);
  });
});

describe("behaviours", () => {
  it("503 answers before reading, for `times` requests; then the API answers again", async () => {
    const set = await control(sandbox, "POST", "/_sandbox/sms/vonage/behaviour", { mode: "503", times: 1 });
    expect(await set.json()).toEqual({ mode: "503", remaining: 1 });
    const { params } = await vonageRequest(route(), { to: handset(), from: "Acme", text: "x", clientRef: clientRef(), callback: hookBase });
    const res = await fetch(`${config.baseUrl}/sms/json`, { method: "POST", body: new URLSearchParams(params) });
    expect(res.status).toBe(503);
    await res.arrayBuffer();
    expect((await post(params)).body.messages[0]!.status).toBe("0");
  });

  it("drop destroys the socket; hang never answers", async () => {
    const { params } = await vonageRequest(route(), { to: handset(), from: "Acme", text: "x", clientRef: clientRef(), callback: hookBase });
    await control(sandbox, "POST", "/_sandbox/sms/vonage/behaviour", { mode: "drop", times: 1 });
    await expect(fetch(`${config.baseUrl}/sms/json`, { method: "POST", body: new URLSearchParams(params) })).rejects.toThrow();
    await control(sandbox, "POST", "/_sandbox/sms/vonage/behaviour", { mode: "hang", times: 1 });
    await expect(
      fetch(`${config.baseUrl}/sms/json`, { method: "POST", body: new URLSearchParams(params), signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    const stats = (await (await control(sandbox, "GET", "/_sandbox/sms/vonage")).json()) as Record<string, number>;
    expect(stats).toMatchObject({ dropped: 1, hung: 1 });
    expect((await control(sandbox, "POST", "/_sandbox/sms/vonage/behaviour", { mode: "nope" })).status).toBe(400);
  });
});

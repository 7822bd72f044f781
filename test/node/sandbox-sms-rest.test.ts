// The sandbox's Twilio-style REST aggregator checked as a Twilio client would see it: form posts
// with Basic auth, Twilio's resource and error shapes, and status callbacks / inbound webhooks
// verified with the twilio package's own validateRequest at a small local HTTP server. Nothing
// from src/ or bridge/.
import { createServer, type IncomingMessage, type Server } from "node:http";
import twilio from "twilio";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { closeHttpServer, listenLocal } from "./fixtures/http-server.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Hook = { path: string; url: string; headers: IncomingMessage["headers"]; params: Record<string, string>; at: number };
type TwilioError = { code: number; message: string; more_info: string; status: number };

let sandbox: TestSandbox;
let hooks: Server;
let hookBase: string;
const arrived: Hook[] = [];
/** Per path: how many requests to refuse with 500 before answering 204. */
const refuse = new Map<string, number>();

beforeAll(async () => {
  sandbox = await startTestSandbox({ smscDlrDelayMs: 100, smscLateDlrMs: 500 });
  hooks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url!, "http://x").pathname;
      arrived.push({
        path,
        url: `${hookBase}${req.url}`,
        headers: req.headers,
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))),
        at: Date.now(),
      });
      const left = refuse.get(path) ?? 0;
      if (left > 0) {
        refuse.set(path, left - 1);
        res.writeHead(500).end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  hookBase = `http://127.0.0.1:${await listenLocal(hooks)}`;
});

afterAll(async () => {
  await sandbox?.close();
  if (hooks) await closeHttpServer(hooks);
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/sms/faults")).status).toBe(204);
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
  arrived.length = 0;
  refuse.clear();
});

function messagesUrl(accountSid = sandbox.smsRest.accountSid): string {
  return `${sandbox.smsRest.baseUrl}/2010-04-01/Accounts/${accountSid}/Messages.json`;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

function send(fields: Record<string, string>, auth = basic(sandbox.smsRest.accountSid, sandbox.smsRest.authToken)): Promise<Response> {
  return fetch(messagesUrl(), {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

async function expectTwilioError(res: Response, status: number, code: number): Promise<TwilioError> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as TwilioError;
  expect(body).toMatchObject({ code, status, more_info: `https://www.twilio.com/docs/errors/${code}` });
  expect(typeof body.message).toBe("string");
  return body;
}

async function waitForHooks(path: string, count: number): Promise<Hook[]> {
  const onPath = () => arrived.filter((hook) => hook.path === path);
  await waitFor(
    () => onPath().length >= count,
    () => `${count} requests on ${path} (got ${onPath().length})`,
  );
  return onPath();
}

function expectSigned(hook: Hook, authToken = sandbox.smsRest.authToken): void {
  const signature = hook.headers["x-twilio-signature"];
  expect(typeof signature).toBe("string");
  expect(twilio.validateRequest(authToken, signature as string, hook.url, hook.params)).toBe(true);
  expect(twilio.validateRequest("not-the-token", signature as string, hook.url, hook.params)).toBe(false);
}

describe("Messages.json", () => {
  it("refuses bad credentials with 401 and code 20003", async () => {
    const fields = { To: "+15551230000", From: "+15550001111", Body: "hi" };
    const wrong = await send(fields, basic(sandbox.smsRest.accountSid, "wrong"));
    await expectTwilioError(wrong, 401, 20003);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic /);
    await expectTwilioError(await send(fields, ""), 401, 20003);
  });

  it("answers 201 with Twilio's message resource and records the message", async () => {
    const res = await send({ To: "+15551234567", From: "+15550001111", Body: "Hello from the sandbox" });
    expect(res.status).toBe(201);
    const message = (await res.json()) as Record<string, unknown>;
    expect(message).toMatchObject({
      account_sid: sandbox.smsRest.accountSid,
      api_version: "2010-04-01",
      body: "Hello from the sandbox",
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from: "+15550001111",
      num_segments: "1",
      num_media: "0",
      status: "queued",
      to: "+15551234567",
    });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(message.uri).toBe(`/2010-04-01/Accounts/${sandbox.smsRest.accountSid}/Messages/${message.sid}.json`);
    expect(message.date_created).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);

    const entries = (await (await control(sandbox, "GET", "/_sandbox/received?channel=sms")).json()) as Array<Record<string, unknown>>;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      channel: "sms",
      to: "+15551234567",
      status: 201,
      outcome: "delivered",
      payload: { text: "Hello from the sandbox", encoding: "gsm7", segments: 1, route: "rest", from: "+15550001111", sid: message.sid },
    });

    // The resource can be fetched back, and moves on to delivered.
    const auth = { authorization: basic(sandbox.smsRest.accountSid, sandbox.smsRest.authToken) };
    const fetchBack = async () =>
      (await (await fetch(`${sandbox.smsRest.baseUrl}${message.uri as string}`, { headers: auth })).json()) as Record<string, unknown>;
    const fetched = await waitFor(async () => {
      const resource = await fetchBack();
      return resource.status === "delivered" && resource;
    }, "the message resource to say delivered");
    expect(fetched.status).toBe("delivered");
  });

  it("counts segments with the GSM-7 and UCS-2 rules", async () => {
    const cases: Array<[string, string]> = [
      ["a".repeat(160), "1"],
      ["a".repeat(161), "2"],
      ["a".repeat(306), "2"],
      ["a".repeat(307), "3"],
      ["€".repeat(80), "1"], // two septets each: 160
      ["€".repeat(81), "2"],
      ["é".repeat(160), "1"], // é is in the GSM alphabet
      ["ł".repeat(70), "1"], // ł is not: UCS-2
      ["ł".repeat(71), "2"],
      ["ł".repeat(135), "3"],
    ];
    for (const [body, segments] of cases) {
      const res = await send({ To: "+15551234567", From: "+15550001111", Body: body });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { num_segments: string }).num_segments, body).toBe(segments);
    }
  });

  it("validates To, Body and From as Twilio does", async () => {
    await expectTwilioError(await send({ From: "+15550001111", Body: "x" }), 400, 21604);
    await expectTwilioError(await send({ To: "+15551234567", From: "+15550001111" }), 400, 21602);
    await expectTwilioError(await send({ To: "5551234567", From: "+15550001111", Body: "x" }), 400, 21211);
    await expectTwilioError(await send({ To: "+15551234567", Body: "x" }), 400, 21603);
    const viaService = await send({ To: "+15551234567", MessagingServiceSid: `MG${"a".repeat(32)}`, Body: "x" });
    expect(viaService.status).toBe(201);
    expect(((await viaService.json()) as { status: string }).status).toBe("accepted");
  });

  it("answers 429 with Retry-After the first time for a number ending in 2222", async () => {
    const fields = { To: "+15552222222", From: "+15550001111", Body: "throttled once" };
    const first = await send(fields);
    await expectTwilioError(first, 429, 20429);
    expect(first.headers.get("retry-after")).toBe("1");
    expect((await send(fields)).status).toBe(201);
  });

  it("restFail answers its status for the next n requests", async () => {
    const armed = await control(sandbox, "POST", "/_sandbox/sms/faults", { restFail: { status: 503, count: 2 } });
    expect(armed.status).toBe(200);
    const fields = { To: "+15551234567", From: "+15550001111", Body: "x" };
    await expectTwilioError(await send(fields), 503, 20503);
    await expectTwilioError(await send(fields), 503, 20503);
    expect((await send(fields)).status).toBe(201);
  });
});

describe("status callbacks", () => {
  it("posts sent then delivered, signed, each with its own idempotency token", async () => {
    const callback = `${hookBase}/status?tenant=a&x=1`;
    const res = await send({ To: "+15551234567", From: "+15550001111", Body: "track me", StatusCallback: callback });
    const { sid } = (await res.json()) as { sid: string };
    const [sent, delivered] = await waitForHooks("/status", 2);
    for (const hook of [sent!, delivered!]) {
      expectSigned(hook);
      expect(hook.url).toBe(callback);
      expect(hook.params).toMatchObject({
        MessageSid: sid,
        SmsSid: sid,
        AccountSid: sandbox.smsRest.accountSid,
        From: "+15550001111",
        To: "+15551234567",
        ApiVersion: "2010-04-01",
      });
      expect(hook.params.ErrorCode).toBeUndefined();
      expect(hook.headers["i-twilio-idempotency-token"]).toBeTruthy();
    }
    expect([sent!.params.MessageStatus, sent!.params.SmsStatus]).toEqual(["sent", "sent"]);
    expect([delivered!.params.MessageStatus, delivered!.params.SmsStatus]).toEqual(["delivered", "delivered"]);
    expect(sent!.headers["i-twilio-idempotency-token"]).not.toBe(delivered!.headers["i-twilio-idempotency-token"]);
  });

  it("reports undelivered with ErrorCode 30005 for a number ending in 0000", async () => {
    await send({ To: "+15550000000", From: "+15550001111", Body: "nobody", StatusCallback: `${hookBase}/bounce` });
    const [, final] = await waitForHooks("/bounce", 2);
    expectSigned(final!);
    expect(final!.params).toMatchObject({ MessageStatus: "undelivered", SmsStatus: "undelivered", ErrorCode: "30005" });
  });

  it("reports delivered late for a number ending in 1111", async () => {
    const start = Date.now();
    await send({ To: "+15551111111", From: "+15550001111", Body: "later", StatusCallback: `${hookBase}/late` });
    const [, final] = await waitForHooks("/late", 2);
    expect(final!.params.MessageStatus).toBe("delivered");
    expect(final!.at - start).toBeGreaterThanOrEqual(450);
  });

  it("restDropCallbacks sends none, while the resource a status GET fetches moves on to its end", async () => {
    const armed = await control(sandbox, "POST", "/_sandbox/sms/faults", { restDropCallbacks: true });
    expect(((await armed.json()) as Record<string, unknown>).restDropCallbacks).toBe(true);
    const res = await send({ To: "+15550000000", From: "+15550001111", Body: "nobody", StatusCallback: `${hookBase}/dropped` });
    const { uri } = (await res.json()) as { uri: string };
    const stats = async () => (await (await control(sandbox, "GET", "/_sandbox/sms/rest")).json()) as Record<string, number>;
    await waitFor(async () => (await stats()).callbacksDropped === 2, "the sent and final callbacks dropped");
    expect(arrived.filter((hook) => hook.path === "/dropped")).toHaveLength(0);
    const get = (auth: string) => fetch(`${sandbox.smsRest.baseUrl}${uri}`, { headers: { authorization: auth } });
    const resource = (await (await get(basic(sandbox.smsRest.accountSid, sandbox.smsRest.authToken))).json()) as Record<string, unknown>;
    expect(resource).toMatchObject({ status: "undelivered", error_code: 30005 });
    // The status GET checks credentials as the send does.
    await expectTwilioError(await get(basic(sandbox.smsRest.accountSid, "not-the-token")), 401, 20003);
    expect((await control(sandbox, "DELETE", "/_sandbox/sms/faults")).status).toBe(204);
    expect(((await (await control(sandbox, "GET", "/_sandbox/sms/faults")).json()) as Record<string, unknown>).restDropCallbacks).toBe(
      false,
    );
  });

  it("retries a refused callback with the same signature and idempotency token", async () => {
    refuse.set("/flaky", 2);
    await send({ To: "+15551234567", From: "+15550001111", Body: "retry", StatusCallback: `${hookBase}/flaky` });
    const tries = await waitForHooks("/flaky", 4);
    const sentTries = tries.filter((hook) => hook.params.MessageStatus === "sent");
    expect(sentTries).toHaveLength(3);
    expect(new Set(sentTries.map((hook) => hook.headers["i-twilio-idempotency-token"])).size).toBe(1);
    expect(new Set(sentTries.map((hook) => hook.headers["x-twilio-signature"])).size).toBe(1);
    for (const hook of sentTries) expectSigned(hook);
    // delivered only after sent got through.
    expect(tries[3]!.params.MessageStatus).toBe("delivered");
  });
});

describe("inbound over REST", () => {
  it("posts Twilio's incoming-message webhook, signed, to the number's SMS URL (query string kept)", async () => {
    const smsUrl = `${hookBase}/inbound?account=dev&v=2`;
    const put = await control(sandbox, "PUT", `/_sandbox/sms/rest/numbers/${encodeURIComponent("+15550001111")}`, { smsUrl });
    expect(put.status).toBe(200);
    const mo = await control(sandbox, "POST", "/_sandbox/sms/mo", {
      from: "+15559876543",
      to: "+15550001111",
      body: "STOP",
      route: "rest",
    });
    expect(mo.status).toBe(202);
    const { messageSid } = (await mo.json()) as { messageSid: string };
    const [hook] = await waitForHooks("/inbound", 1);
    expect(hook!.url).toBe(smsUrl);
    expectSigned(hook!);
    expect(hook!.params).toMatchObject({
      MessageSid: messageSid,
      SmsSid: messageSid,
      SmsMessageSid: messageSid,
      AccountSid: sandbox.smsRest.accountSid,
      From: "+15559876543",
      To: "+15550001111",
      Body: "STOP",
      NumMedia: "0",
      NumSegments: "1",
      ApiVersion: "2010-04-01",
    });
  });

  it("refuses MO over REST to a number without an SMS URL, and a bad number config", async () => {
    const mo = await control(sandbox, "POST", "/_sandbox/sms/mo", {
      from: "+15559876543",
      to: "+15550009999",
      body: "hello?",
      route: "rest",
    });
    expect(mo.status).toBe(400);
    const put = await control(sandbox, "PUT", "/_sandbox/sms/rest/numbers/%2B15550001111", { smsUrl: "ftp://nope" });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { error: { code: string } }).error.code).toBe("invalid_number_config");
  });
});

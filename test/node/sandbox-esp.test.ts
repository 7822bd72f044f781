// The sandbox's email provider send APIs (sandbox/esp.ts) checked as each provider's client would
// see them: auth as documented, the answer shapes and error bodies, SES requests signed with the
// aws4 package, Mailgun's two endpoints in both form encodings, Resend's Idempotency-Key, the
// behaviours 503/hang/drop, and the recording of each accepted message. Nothing from src/ or bridge/.
import { createServer, request as httpRequest, type Server } from "node:http";
import aws4 from "aws4";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { closeHttpServer, listenLocal } from "./fixtures/http-server.ts";
import { type EspConfig, ESP_PROVIDERS, espConfig, resetEsp } from "./fixtures/esp.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Kept = {
  provider: string;
  messageId: string;
  to: string[];
  from: string | null;
  subject: string | null;
  lasthopId: string | null;
  raw: string;
};
type Stats = Record<
  string,
  { requests: number; accepted: number; refused: number; unavailable: number; hung: number; dropped: number; webhooksSent: number }
>;

let sandbox: TestSandbox;
let cfg: EspConfig;

beforeAll(async () => {
  sandbox = await startTestSandbox();
  cfg = await espConfig(sandbox);
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(async () => {
  await resetEsp(sandbox);
});

async function kept(provider?: string): Promise<Kept[]> {
  const query = provider === undefined ? "" : `?provider=${provider}`;
  return (await (await control(sandbox, "GET", `/_sandbox/esp/received${query}`)).json()) as Kept[];
}

async function stats(): Promise<Stats> {
  return (await (await control(sandbox, "GET", "/_sandbox/esp/stats")).json()) as Stats;
}

function json(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

// ---- SendGrid ----
const sendgridUrl = () => `${cfg.sendgrid.baseUrl}/v3/mail/send`;
const sendgridMail = (to = "alice@example.com") => ({
  personalizations: [{ to: [{ email: to }], custom_args: { lasthop_id: "msg_sg1" } }],
  from: { email: "noreply@lasthop.test" },
  subject: "Hello",
  content: [{ type: "text/plain", value: "Hi there" }],
});

describe("SendGrid v3 mail/send", () => {
  it("accepts with 202, an empty body and X-Message-Id, and records the message with both ids", async () => {
    const res = await json(sendgridUrl(), { authorization: `Bearer ${cfg.sendgrid.apiKey}` }, sendgridMail());
    expect(res.status).toBe(202);
    expect(await res.text()).toBe("");
    const id = res.headers.get("x-message-id");
    expect(id).toMatch(/^[\w-]{22}$/);
    const [message] = await kept("sendgrid");
    expect(message).toMatchObject({
      provider: "sendgrid",
      messageId: id,
      to: ["alice@example.com"],
      subject: "Hello",
      lasthopId: "msg_sg1",
    });
    expect(JSON.parse(message!.raw)).toEqual(sendgridMail());
    const email = (await (await control(sandbox, "GET", "/_sandbox/received?channel=email")).json()) as Array<Record<string, unknown>>;
    expect(email).toEqual([
      expect.objectContaining({ channel: "email", provider: "sendgrid", providerMessageId: id, to: "alice@example.com", status: 202 }),
    ]);
  });

  it("refuses a bad or missing key with 401 and SendGrid's errors body", async () => {
    const bad = await json(sendgridUrl(), { authorization: "Bearer SG.wrong.key" }, sendgridMail());
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({
      errors: [{ message: "The provided authorization grant is invalid, expired, or revoked", field: null, help: null }],
    });
    const missing = await json(sendgridUrl(), {}, sendgridMail());
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ errors: [{ message: "authorization required", field: null, help: null }] });
    expect(await kept()).toEqual([]);
  });

  it("refuses a missing from (and subject) with 400 naming each field", async () => {
    const { from: _from, subject: _subject, ...rest } = sendgridMail();
    const res = await json(sendgridUrl(), { authorization: `Bearer ${cfg.sendgrid.apiKey}` }, rest);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: Array<{ field: string; message: string; help: string | null }> };
    expect(body.errors.map((e) => e.field)).toEqual(["from", "subject"]);
    expect(body.errors[0]!.message).toMatch(/^The from object must be provided/);
  });

  it("takes attachments and keeps them with the message; refuses one without content or filename, naming the field", async () => {
    const file = { content: Buffer.from([0, 1, 2, 255]).toString("base64"), type: "application/octet-stream", filename: "a.bin" };
    const logo = { content: "iVBORw0KGgo=", type: "image/png", filename: "logo.png", disposition: "inline", content_id: "logo@x" };
    const ok = await json(
      sendgridUrl(),
      { authorization: `Bearer ${cfg.sendgrid.apiKey}` },
      { ...sendgridMail(), attachments: [file, logo] },
    );
    expect(ok.status).toBe(202);
    const [message] = (await kept("sendgrid")) as Array<Kept & { attachments: unknown[] }>;
    expect(message!.attachments).toEqual([
      { filename: "a.bin", contentType: "application/octet-stream", content: file.content, disposition: "attachment", contentId: null },
      { filename: "logo.png", contentType: "image/png", content: logo.content, disposition: "inline", contentId: "logo@x" },
    ]);
    const bad = await json(
      sendgridUrl(),
      { authorization: `Bearer ${cfg.sendgrid.apiKey}` },
      {
        ...sendgridMail(),
        attachments: [
          { type: "text/plain", filename: "" },
          { ...logo, content: "not base64!" },
        ],
      },
    );
    expect(bad.status).toBe(400);
    const fields = ((await bad.json()) as { errors: Array<{ field: string }> }).errors.map((e) => e.field);
    expect(fields).toEqual(["attachments.0.content", "attachments.0.filename", "attachments.1.content"]);
    expect(await kept("sendgrid")).toHaveLength(1);
  });

  it("answers 429 the first time a throttle address is sent to", async () => {
    const auth = { authorization: `Bearer ${cfg.sendgrid.apiKey}` };
    const first = await json(sendgridUrl(), auth, sendgridMail("throttle@example.com"));
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("1");
    expect(await first.json()).toEqual({ errors: [{ message: "too many requests", field: null, help: null }] });
    expect((await json(sendgridUrl(), auth, sendgridMail("throttle@example.com"))).status).toBe(202);
  });
});

// ---- SES v2 ----
type Raw = { status: number; headers: Record<string, string | string[] | undefined>; text: string };

/** A SendEmail request signed with aws4 as a client would; `tamper` changes the body after signing. */
function sesSend(
  body: unknown,
  opts: { secret?: string; keyId?: string; tamper?: (body: string) => string; region?: string } = {},
): Promise<Raw> {
  const url = new URL(`${cfg.ses.baseUrl}/v2/email/outbound-emails`);
  const text = JSON.stringify(body);
  const signed = aws4.sign(
    {
      host: url.host,
      path: url.pathname,
      method: "POST",
      service: "ses",
      region: opts.region ?? cfg.ses.region,
      headers: { "content-type": "application/json" },
      body: text,
    },
    { accessKeyId: opts.keyId ?? cfg.ses.accessKeyId, secretAccessKey: opts.secret ?? cfg.ses.secretAccessKey },
  );
  const sent = opts.tamper ? opts.tamper(text) : text;
  const headers = { ...(signed.headers as Record<string, string | number>), "Content-Length": Buffer.byteLength(sent) };
  return raw(url, headers, sent);
}

function raw(url: URL, headers: Record<string, string | number>, body: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const sesEmail = (to = "bob@example.com") => ({
  FromEmailAddress: "noreply@lasthop.test",
  Destination: { ToAddresses: [to] },
  Content: { Simple: { Subject: { Data: "Hello SES" }, Body: { Text: { Data: "Hi" } } } },
  EmailTags: [{ Name: "lasthop_id", Value: "msg_ses1" }],
  ConfigurationSetName: "lasthop",
});

describe("SES v2 SendEmail", () => {
  it("accepts a request signed with aws4 with 200 {MessageId} and records it", async () => {
    const res = await sesSend(sesEmail());
    expect(res.status).toBe(200);
    const { MessageId } = JSON.parse(res.text) as { MessageId: string };
    expect(MessageId).toMatch(/^0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$/);
    expect(await kept("ses")).toEqual([
      expect.objectContaining({
        provider: "ses",
        messageId: MessageId,
        to: ["bob@example.com"],
        subject: "Hello SES",
        lasthopId: "msg_ses1",
      }),
    ]);
  });

  it("accepts Raw content, taking recipients and subject from the MIME headers", async () => {
    const mime = "From: noreply@lasthop.test\r\nTo: carol@example.com\r\nSubject: Raw one\r\n\r\nbody\r\n";
    const res = await sesSend({ Content: { Raw: { Data: Buffer.from(mime).toString("base64") } } });
    expect(res.status).toBe(200);
    expect((await kept("ses"))[0]).toMatchObject({
      to: ["carol@example.com"],
      subject: "Raw one",
      from: "noreply@lasthop.test",
      lasthopId: null,
    });
  });

  it("refuses a body changed after signing, a wrong secret, an unknown key and no signature, with 403 and SES's error", async () => {
    const tampered = await sesSend(sesEmail(), { tamper: (text) => text.replace("bob@", "eve@") });
    expect(tampered.status).toBe(403);
    expect(tampered.headers["x-amzn-errortype"]).toBe("InvalidSignatureException");
    const { message } = JSON.parse(tampered.text) as { message: string };
    expect(message).toMatch(/^The request signature we calculated does not match the signature you provided/);
    expect(message).toContain("The Canonical String for this request should have been\n'POST\n/ses/v2/email/outbound-emails\n");
    const wrongSecret = await sesSend(sesEmail(), { secret: "not-the-secret" });
    expect([wrongSecret.status, wrongSecret.headers["x-amzn-errortype"]]).toEqual([403, "InvalidSignatureException"]);
    const unknownKey = await sesSend(sesEmail(), { keyId: "AKIAUNKNOWN0000000" });
    expect([unknownKey.status, unknownKey.headers["x-amzn-errortype"]]).toEqual([403, "UnrecognizedClientException"]);
    expect(JSON.parse(unknownKey.text)).toEqual({ message: "The security token included in the request is invalid." });
    const wrongRegion = await sesSend(sesEmail(), { region: "eu-west-1" });
    expect([wrongRegion.status, wrongRegion.headers["x-amzn-errortype"]]).toEqual([403, "InvalidSignatureException"]);
    const unsigned = await json(`${cfg.ses.baseUrl}/v2/email/outbound-emails`, {}, sesEmail());
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
    expect(await kept()).toEqual([]);
  });

  it("refuses missing Content with 400 BadRequestException, and an inactive recipient with MessageRejected", async () => {
    const { Content: _content, ...rest } = sesEmail();
    const missing = await sesSend(rest);
    expect([missing.status, missing.headers["x-amzn-errortype"]]).toEqual([400, "BadRequestException"]);
    expect(JSON.parse(missing.text).message).toMatch(/Value null at 'content'/);
    const rejected = await sesSend(sesEmail("inactive@example.com"));
    expect([rejected.status, rejected.headers["x-amzn-errortype"]]).toEqual([400, "MessageRejected"]);
    const throttled = await sesSend(sesEmail("throttle@example.com"));
    expect([throttled.status, throttled.headers["x-amzn-errortype"]]).toEqual([429, "TooManyRequestsException"]);
  });
});

// ---- Mailgun ----
const mailgunUrl = (endpoint: "messages" | "messages.mime") => `${cfg.mailgun.baseUrl}/v3/${cfg.mailgun.domain}/${endpoint}`;
const mailgunAuth = () => ({ authorization: basic("api", cfg.mailgun.apiKey) });
const MIME = "From: noreply@lasthop.test\r\nTo: dan@example.com\r\nSubject: Mime one\r\n\r\nhello\r\n";

function multipart(fields: Record<string, string>, files: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, value] of Object.entries(files)) form.append(name, new Blob([value], { type: "message/rfc822" }), "message.mime");
  return form;
}

describe("Mailgun messages and messages.mime", () => {
  const fields = {
    from: "noreply@lasthop.test",
    to: "dan@example.com",
    subject: "Hi",
    text: "Hello",
    "v:lasthop_id": "msg_mg1",
    "o:tag": "t1",
  };

  it("accepts /messages as multipart and as urlencoded, with 200 {id, message}", async () => {
    for (const body of [multipart(fields), new URLSearchParams(fields)]) {
      const res = await fetch(mailgunUrl("messages"), { method: "POST", headers: mailgunAuth(), body });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { id: string; message: string };
      expect(answer).toEqual({
        id: expect.stringMatching(new RegExp(`^<\\d{14}\\.[0-9a-f]{16}@${cfg.mailgun.domain.replace(/\./g, "\\.")}>$`)),
        message: "Queued. Thank you.",
      });
    }
    const messages = await kept("mailgun");
    expect(messages).toHaveLength(2);
    for (const message of messages) expect(message).toMatchObject({ to: ["dan@example.com"], subject: "Hi", lasthopId: "msg_mg1" });
  });

  it("accepts /messages.mime with the message as a file (multipart) and as a field (urlencoded)", async () => {
    const first = await fetch(mailgunUrl("messages.mime"), {
      method: "POST",
      headers: mailgunAuth(),
      body: multipart({ to: "dan@example.com", "v:lasthop_id": "msg_mg2" }, { message: MIME }),
    });
    expect(first.status).toBe(200);
    const second = await fetch(mailgunUrl("messages.mime"), {
      method: "POST",
      headers: mailgunAuth(),
      body: new URLSearchParams({ to: "dan@example.com", message: MIME }),
    });
    expect(second.status).toBe(200);
    expect((await kept("mailgun")).map((m) => [m.subject, m.lasthopId])).toEqual([
      ["Mime one", "msg_mg2"],
      ["Mime one", null],
    ]);
  });

  it("refuses a bad key with 401 Forbidden, and missing fields with 400 {message}", async () => {
    const bad = await fetch(mailgunUrl("messages"), {
      method: "POST",
      headers: { authorization: basic("api", "key-wrong") },
      body: new URLSearchParams(fields),
    });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toBe("Forbidden");
    const { from: _from, ...noFrom } = fields;
    const missing = await fetch(mailgunUrl("messages"), { method: "POST", headers: mailgunAuth(), body: new URLSearchParams(noFrom) });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ message: "'from' parameter is missing" });
    const noMessage = await fetch(mailgunUrl("messages.mime"), {
      method: "POST",
      headers: mailgunAuth(),
      body: new URLSearchParams({ to: "dan@example.com" }),
    });
    expect(noMessage.status).toBe(400);
    expect(await noMessage.json()).toEqual({ message: "'message' parameter is missing" });
  });
});

// ---- Postmark ----
const postmarkUrl = () => `${cfg.postmark.baseUrl}/email`;
const postmarkEmail = (to = "erin@example.com") => ({
  From: "noreply@lasthop.test",
  To: to,
  Subject: "Hello PM",
  TextBody: "Hi",
  MessageStream: "outbound",
  Metadata: { lasthop_id: "msg_pm1" },
});

describe("Postmark /email", () => {
  it("accepts with 200 {To, SubmittedAt, MessageID, ErrorCode: 0, Message: OK}", async () => {
    const res = await json(
      postmarkUrl(),
      { "x-postmark-server-token": cfg.postmark.serverToken, accept: "application/json" },
      postmarkEmail(),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      To: "erin@example.com",
      SubmittedAt: expect.any(String),
      MessageID: expect.stringMatching(/^[0-9a-f-]{36}$/),
      ErrorCode: 0,
      Message: "OK",
    });
    expect(await kept("postmark")).toEqual([
      expect.objectContaining({ messageId: body.MessageID, lasthopId: "msg_pm1", subject: "Hello PM" }),
    ]);
  });

  it("refuses a bad or missing token with 401 ErrorCode 10", async () => {
    const bad = await json(postmarkUrl(), { "x-postmark-server-token": "nope" }, postmarkEmail());
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ ErrorCode: 10 });
    const missing = await json(postmarkUrl(), {}, postmarkEmail());
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ ErrorCode: 10 });
  });

  it("refuses a body that is not JSON with 422 ErrorCode 409", async () => {
    const res = await fetch(postmarkUrl(), {
      method: "POST",
      headers: { "x-postmark-server-token": cfg.postmark.serverToken, "content-type": "text/plain" },
      body: JSON.stringify(postmarkEmail()),
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ ErrorCode: 409 });
  });

  it("refuses a missing To with 422 ErrorCode 300, and an inactive recipient with 422 ErrorCode 406", async () => {
    const { To: _to, ...rest } = postmarkEmail();
    const missing = await json(postmarkUrl(), { "x-postmark-server-token": cfg.postmark.serverToken }, rest);
    expect(missing.status).toBe(422);
    expect(await missing.json()).toEqual({ ErrorCode: 300, Message: "Zero recipients specified" });
    const inactive = await json(
      postmarkUrl(),
      { "x-postmark-server-token": cfg.postmark.serverToken },
      postmarkEmail("inactive@example.com"),
    );
    expect(inactive.status).toBe(422);
    expect(await inactive.json()).toMatchObject({ ErrorCode: 406 });
    expect(await kept()).toEqual([]);
  });
});

// ---- Resend ----
const resendUrl = () => `${cfg.resend.baseUrl}/emails`;
const resendEmail = (subject = "Hello RS") => ({
  from: "Lasthop <noreply@lasthop.test>",
  to: ["frank@example.com"],
  subject,
  text: "Hi",
  tags: [{ name: "lasthop_id", value: "msg_rs1" }],
});

describe("Resend /emails", () => {
  it("accepts with 200 {id} and records it", async () => {
    const res = await json(resendUrl(), { authorization: `Bearer ${cfg.resend.apiKey}` }, resendEmail());
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await kept("resend")).toEqual([expect.objectContaining({ messageId: id, lasthopId: "msg_rs1", to: ["frank@example.com"] })]);
  });

  it("refuses a missing key with 401 missing_api_key and a bad one with 403 invalid_api_key", async () => {
    const missing = await json(resendUrl(), {}, resendEmail());
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ statusCode: 401, name: "missing_api_key" });
    const bad = await json(resendUrl(), { authorization: "Bearer re_wrong" }, resendEmail());
    expect(bad.status).toBe(403);
    expect(await bad.json()).toEqual({ statusCode: 403, message: "API key is invalid", name: "invalid_api_key" });
  });

  it("refuses a missing subject with 422", async () => {
    const { subject: _subject, ...rest } = resendEmail();
    const res = await json(resendUrl(), { authorization: `Bearer ${cfg.resend.apiKey}` }, rest);
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ statusCode: 422, message: "Missing `subject` field.", name: "missing_required_field" });
  });

  it("honours Idempotency-Key: same body -> same id and one message; other body -> 409", async () => {
    const headers = { authorization: `Bearer ${cfg.resend.apiKey}`, "idempotency-key": "welcome/123" };
    const first = (await (await json(resendUrl(), headers, resendEmail())).json()) as { id: string };
    const again = await json(resendUrl(), headers, resendEmail());
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ id: first.id });
    const other = await json(resendUrl(), headers, resendEmail("Another"));
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ statusCode: 409, name: "invalid_idempotent_request" });
    expect(await kept("resend")).toHaveLength(1);
  });
});

// ---- Behaviours ----
const validRequest: Record<(typeof ESP_PROVIDERS)[number], () => Promise<{ status: number }>> = {
  sendgrid: () => json(sendgridUrl(), { authorization: `Bearer ${cfg.sendgrid.apiKey}` }, sendgridMail()),
  ses: () => sesSend(sesEmail()),
  mailgun: () =>
    fetch(mailgunUrl("messages"), {
      method: "POST",
      headers: mailgunAuth(),
      body: new URLSearchParams({ from: "a@lasthop.test", to: "b@example.com", text: "x" }),
    }),
  postmark: () => json(postmarkUrl(), { "x-postmark-server-token": cfg.postmark.serverToken }, postmarkEmail()),
  resend: () => json(resendUrl(), { authorization: `Bearer ${cfg.resend.apiKey}` }, resendEmail()),
};

describe("behaviours", () => {
  it("503 answers each provider's 503 for `times` requests, then it accepts again", async () => {
    for (const provider of ESP_PROVIDERS) {
      const set = await control(sandbox, "POST", `/_sandbox/esp/${provider}/behaviour`, { mode: "503", times: 1 });
      expect(await set.json()).toEqual({ provider, mode: "503", remaining: 1 });
      expect((await validRequest[provider]()).status).toBe(503);
      expect((await validRequest[provider]()).status).toBe(provider === "sendgrid" ? 202 : 200);
    }
    const counted = await stats();
    for (const provider of ESP_PROVIDERS) expect(counted[provider]).toMatchObject({ requests: 2, unavailable: 1, accepted: 1 });
  });

  it("503 for `seconds`: an outage window, shown with its end; out-of-range windows are refused", async () => {
    const set = await control(sandbox, "POST", "/_sandbox/esp/postmark/behaviour", { mode: "503", seconds: 600 });
    const answer = await set.json();
    expect(answer).toMatchObject({ provider: "postmark", mode: "503", remaining: null });
    expect(Date.parse(answer.until) - Date.now()).toBeGreaterThan(500_000);
    // Not counted: every request inside the window gets the 503.
    for (let i = 0; i < 3; i++) expect((await validRequest.postmark()).status).toBe(503);
    for (const seconds of [0, -1, 3601, "30"]) {
      expect((await control(sandbox, "POST", "/_sandbox/esp/postmark/behaviour", { mode: "503", seconds })).status).toBe(400);
    }
    await control(sandbox, "POST", "/_sandbox/esp/postmark/behaviour", { mode: "ok" });
    expect((await validRequest.postmark()).status).toBe(200);
  });

  it("drop reads the request and closes the connection: the client sees a network error, nothing is kept", async () => {
    await control(sandbox, "POST", "/_sandbox/esp/postmark/behaviour", { mode: "drop" });
    await expect(validRequest.postmark()).rejects.toThrow();
    expect((await stats()).postmark).toMatchObject({ requests: 1, dropped: 1, accepted: 0 });
    expect(await kept()).toEqual([]);
  });

  it("hang reads the request and never answers, until the client gives up", async () => {
    await control(sandbox, "POST", "/_sandbox/esp/resend/behaviour", { mode: "hang", times: 1 });
    const abort = new AbortController();
    const pending = fetch(resendUrl(), {
      method: "POST",
      headers: { authorization: `Bearer ${cfg.resend.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(resendEmail()),
      signal: abort.signal,
    });
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await waitFor(async () => (await stats()).resend!.hung === 1, "the hanging request to arrive");
    // Another provider answers meanwhile, and the hanging one still has not.
    expect((await validRequest.postmark()).status).toBe(200);
    expect(settled).toBe(false);
    abort.abort();
    await expect(pending).rejects.toThrow();
    expect((await validRequest.resend()).status).toBe(200);
  });

  it("refuses an unknown mode or provider", async () => {
    expect((await control(sandbox, "POST", "/_sandbox/esp/resend/behaviour", { mode: "slow" })).status).toBe(400);
    expect((await control(sandbox, "POST", "/_sandbox/esp/sparkpost/behaviour", { mode: "ok" })).status).toBe(404);
  });
});

// ---- Outcome webhooks (last: the target stays set) ----
describe("outcome webhooks", () => {
  let receiver: Server;
  const posts: Array<{ path: string; body: string }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        posts.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(200).end();
      });
    });
    const port = await listenLocal(receiver);
    expect(
      (await control(sandbox, "PUT", "/_sandbox/webhooks/target", { workerUrl: `http://127.0.0.1:${port}`, account: "acct1" })).status,
    ).toBe(200);
  });

  afterAll(async () => {
    if (receiver) await closeHttpServer(receiver);
  });

  it("posts the provider's bounce webhook for a bounce address and delivered otherwise, naming both ids", async () => {
    const bounced = (await (
      await json(postmarkUrl(), { "x-postmark-server-token": cfg.postmark.serverToken }, postmarkEmail("bounce@example.com"))
    ).json()) as { MessageID: string };
    await waitFor(() => posts.some((p) => p.path === "/v1/webhooks/postmark/acct1"), "the Postmark webhook");
    const hook = JSON.parse(posts.find((p) => p.path === "/v1/webhooks/postmark/acct1")!.body) as Record<string, unknown>;
    expect(hook).toMatchObject({ RecordType: "Bounce", MessageID: bounced.MessageID, Metadata: { lasthop_id: "msg_pm1" } });
    const res = await json(resendUrl(), { authorization: `Bearer ${cfg.resend.apiKey}` }, resendEmail());
    const { id } = (await res.json()) as { id: string };
    await waitFor(() => posts.some((p) => p.path === "/v1/webhooks/resend/acct1"), "the Resend webhook");
    const resendHook = JSON.parse(posts.find((p) => p.path === "/v1/webhooks/resend/acct1")!.body) as {
      type: string;
      data: { email_id: string };
    };
    expect(resendHook).toMatchObject({ type: "email.delivered", data: { email_id: id } });
    await waitFor(async () => (await stats()).postmark!.webhooksSent === 1, "the webhook counted");
  });
  it("Mailgun's Events API lists a message's webhook events by message-id (same ids); dropped webhooks are listed, not posted", async () => {
    expect((await control(sandbox, "POST", "/_sandbox/esp/mailgun/webhooks", { drop: true })).status).toBe(200);
    try {
      const before = posts.filter((p) => p.path === "/v1/webhooks/mailgun/acct1").length;
      const res = await fetch(mailgunUrl("messages"), {
        method: "POST",
        headers: mailgunAuth(),
        body: multipart({
          from: "news@lasthop.test",
          to: "poll-me@example.com",
          subject: "hi",
          text: "hello",
          "v:lasthop_id": "msg_mg_poll",
        }),
      });
      expect(res.status).toBe(200);
      const id = ((await res.json()) as { id: string }).id.replace(/^<|>$/g, "");
      const eventsUrl = `${cfg.mailgun.baseUrl}/v3/${cfg.mailgun.domain}/events?${new URLSearchParams({ "message-id": id })}`;
      const page = async () => (await (await fetch(eventsUrl, { headers: mailgunAuth() })).json()) as { items: any[]; paging: object };
      await waitFor(async () => (await page()).items.some((e) => e.event === "delivered"), "the delivered event listed");
      const listed = await page();
      expect(listed.paging).toMatchObject({ next: expect.any(String) });
      expect(listed.items.at(-1)).toMatchObject({
        event: "delivered",
        id: expect.any(String),
        recipient: "poll-me@example.com",
        message: { headers: { "message-id": id } },
        "user-variables": { lasthop_id: "msg_mg_poll" },
      });
      expect(posts.filter((p) => p.path === "/v1/webhooks/mailgun/acct1").length).toBe(before);
      const wrong = await fetch(eventsUrl, { headers: { authorization: basic("api", `${cfg.mailgun.apiKey}x`) } });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toBe("Forbidden");
    } finally {
      await control(sandbox, "POST", "/_sandbox/esp/mailgun/webhooks", { drop: false });
    }
    // Posted again: the webhook carries the event the Events API lists, one id.
    const res = await fetch(mailgunUrl("messages"), {
      method: "POST",
      headers: mailgunAuth(),
      body: multipart({ from: "news@lasthop.test", to: "both@example.com", subject: "hi", text: "hello" }),
    });
    const id = ((await res.json()) as { id: string }).id.replace(/^<|>$/g, "");
    const hookOf = () =>
      posts
        .filter((p) => p.path === "/v1/webhooks/mailgun/acct1")
        .map((p) => JSON.parse(p.body)["event-data"])
        .find((e) => e.message.headers["message-id"] === id);
    await waitFor(() => hookOf() !== undefined, "the Mailgun webhook");
    const eventsUrl = `${cfg.mailgun.baseUrl}/v3/${cfg.mailgun.domain}/events?${new URLSearchParams({ "message-id": id })}`;
    const listed = (await (await fetch(eventsUrl, { headers: mailgunAuth() })).json()) as { items: any[] };
    expect(listed.items).toContainEqual(hookOf());
  });
});

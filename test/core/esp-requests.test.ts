// The five hosted providers' send adapters (src/core/esp/<provider>.ts), pure: the request each
// builds for one message (auth, URL, our id where that provider's webhook adapter reads it back,
// tags, headers or raw MIME) and how each documented answer maps to an outcome, with what the
// outcome then means for failover (passesOn) and the route's circuit (routeHealthy).
import { describe, expect, it } from "vitest";
import type { EspRoute, EspType } from "../../src/core/email-routes.ts";
import type { EspRequest } from "../../src/core/esp/answer.ts";
import * as mailgun from "../../src/core/esp/mailgun.ts";
import type { EspMessage } from "../../src/core/esp/message.ts";
import * as postmark from "../../src/core/esp/postmark.ts";
import * as resend from "../../src/core/esp/resend.ts";
import * as sendgrid from "../../src/core/esp/sendgrid.ts";
import * as ses from "../../src/core/esp/ses.ts";
import type { SendOutcome } from "../../src/core/outcome.ts";
import { passesOn, routeHealthy } from "../../src/core/routes.ts";

const ID = "0b9f3c9e-4a51-4d43-9a57-5b0d4c1f2e01";
const UNSUBSCRIBE = "<https://lasthop.test/u/tok>, <mailto:unsubscribe+x@bounce.lasthop.test>";
const RAW = [
  'From: "Acme, Inc." <news@acme.test>',
  "To: alice@example.com",
  "Subject: Hello",
  "Date: Sun, 06 Dec 2026 02:00:00 +0000",
  `Message-ID: <${ID}@acme.test>`,
  `X-Lasthop-Message-Id: ${ID}`,
  `List-Unsubscribe: ${UNSUBSCRIBE}`,
  "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=UTF-8",
  "",
  "Hi there, caf\u00e9",
  "",
].join("\r\n");

const message: EspMessage = {
  id: ID,
  account: "acct_1",
  request: {
    channel: "email",
    from: "news@acme.test",
    fromName: "Acme, Inc.",
    to: "alice@example.com",
    subject: "Hello",
    text: "Hi there, caf\u00e9",
    html: "<p>Hi there</p>",
    replyTo: "help@acme.test",
    tags: ["newsletter", "week 49", "a", "b"],
  },
  raw: RAW,
  headers: {
    "X-Lasthop-Message-Id": ID,
    "Feedback-ID": "newsletter:acct_1:lasthop:x",
    "List-Unsubscribe": UNSUBSCRIBE,
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "Reply-To": "ignored@acme.test",
  },
};

type Built = { req: EspRequest; json: Record<string, unknown> };
const json = (req: EspRequest) => JSON.parse(req.body as string) as Record<string, unknown>;

const builders: Record<EspType, () => Built> = {
  sendgrid: () => {
    const req = sendgrid.request(message, { name: "sg", type: "sendgrid" }, { apiKey: "SG.key" });
    return { req, json: json(req) };
  },
  ses: () => {
    const req = ses.request(
      message,
      { name: "ses", type: "ses" },
      { accessKeyId: "AKIA", secretAccessKey: "s", region: "eu-west-1", configurationSet: "events" },
    );
    return { req, json: json(req) };
  },
  mailgun: () => {
    const req = mailgun.request(
      message,
      { name: "mg", type: "mailgun", baseUrl: "https://api.eu.mailgun.net/" },
      { apiKey: "key-1", domain: "mg.acme.test" },
    );
    return { req, json: {} };
  },
  postmark: () => {
    const req = postmark.request(message, { name: "pm", type: "postmark" }, { serverToken: "pm-token" });
    return { req, json: json(req) };
  },
  resend: () => {
    const req = resend.request(message, { name: "re", type: "resend" }, { apiKey: "re_key" });
    return { req, json: json(req) };
  },
};

describe("the request each provider's adapter builds", () => {
  it("SendGrid: Bearer, v3 JSON, our id as a custom arg, tags as categories, reserved headers dropped", () => {
    const { req, json } = builders.sendgrid();
    expect(req).toMatchObject({ url: "https://api.sendgrid.com/v3/mail/send", method: "POST" });
    expect(req.headers).toMatchObject({ authorization: "Bearer SG.key", "content-type": "application/json" });
    expect(json).toEqual({
      personalizations: [{ to: [{ email: "alice@example.com" }] }],
      from: { email: "news@acme.test", name: "Acme, Inc." },
      reply_to: { email: "help@acme.test" },
      subject: "Hello",
      content: [
        { type: "text/plain", value: "Hi there, caf\u00e9" },
        { type: "text/html", value: "<p>Hi there</p>" },
      ],
      headers: {
        "X-Lasthop-Message-Id": ID,
        "Feedback-ID": "newsletter:acct_1:lasthop:x",
        "List-Unsubscribe": UNSUBSCRIBE,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
      categories: ["newsletter", "week 49", "a", "b"],
      custom_args: { lasthop_id: ID },
    });
  });

  it("SendGrid keeps at most 10 categories of at most 255 characters, and unfolds header values", () => {
    const many = { ...message, request: { ...message.request, tags: [...Array.from({ length: 12 }, (_, i) => `t${i}`), "x".repeat(300)] } };
    const body = json(
      sendgrid.request(
        { ...many, headers: { "List-Unsubscribe": "<https://a>,\r\n <mailto:b@c>" } },
        { name: "s", type: "sendgrid" },
        { apiKey: "k" },
      ),
    );
    expect(body.categories).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(body.headers).toEqual({ "List-Unsubscribe": "<https://a>, <mailto:b@c>" });
  });

  it("SES: unsigned SendEmail with the relay's raw bytes, our id and the tags as message tags, the configuration set", () => {
    const { req, json } = builders.ses();
    expect(req).toMatchObject({ url: "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails", method: "POST" });
    expect(req.headers).toEqual({ "content-type": "application/json" });
    expect(json).toEqual({
      FromEmailAddress: "news@acme.test",
      Destination: { ToAddresses: ["alice@example.com"] },
      Content: { Raw: { Data: Buffer.from(RAW, "utf8").toString("base64") } },
      EmailTags: [
        { Name: "lasthop_id", Value: ID },
        { Name: "newsletter", Value: "true" },
        { Name: "week_49", Value: "true" },
        { Name: "a", Value: "true" },
        { Name: "b", Value: "true" },
      ],
      ConfigurationSetName: "events",
    });
    const raw = Buffer.from((json.Content as { Raw: { Data: string } }).Raw.Data, "base64").toString("utf8");
    expect(raw).toBe(RAW);
    expect(raw).toContain(`List-Unsubscribe: ${UNSUBSCRIBE}\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n`);
  });

  it("SES defaults to us-east-1 and leaves out an unset configuration set", () => {
    const req = ses.request(message, { name: "s", type: "ses" }, { accessKeyId: "AKIA", secretAccessKey: "s" });
    expect(req.url).toBe("https://email.us-east-1.amazonaws.com/v2/email/outbound-emails");
    expect(json(req)).not.toHaveProperty("ConfigurationSetName");
  });

  it("Mailgun: Basic api:key, messages.mime with the raw MIME as a file, v:lasthop_id, at most 3 o:tag", async () => {
    const { req } = builders.mailgun();
    expect(req).toMatchObject({ url: "https://api.eu.mailgun.net/v3/mg.acme.test/messages.mime", method: "POST" });
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from("api:key-1").toString("base64")}`);
    expect(req.headers).not.toHaveProperty("content-type");
    const form = req.body as FormData;
    expect(form.getAll("to")).toEqual(["alice@example.com"]);
    expect(form.get("v:lasthop_id")).toBe(ID);
    expect(form.getAll("o:tag")).toEqual(["newsletter", "week 49", "a"]);
    const file = form.get("message");
    expect(file).toBeInstanceOf(Blob);
    expect(await (file as Blob).text()).toBe(RAW);
  });

  it("Postmark: server token, JSON with From name, Headers, the first tag, our id in Metadata, the stream", () => {
    const { req, json } = builders.postmark();
    expect(req).toMatchObject({ url: "https://api.postmarkapp.com/email", method: "POST" });
    expect(req.headers).toEqual({ "x-postmark-server-token": "pm-token", accept: "application/json", "content-type": "application/json" });
    expect(json).toEqual({
      From: '"Acme, Inc." <news@acme.test>',
      To: "alice@example.com",
      Subject: "Hello",
      TextBody: "Hi there, caf\u00e9",
      HtmlBody: "<p>Hi there</p>",
      ReplyTo: "help@acme.test",
      Headers: Object.entries(message.headers).map(([Name, Value]) => ({ Name, Value })),
      Tag: "newsletter",
      Metadata: { lasthop_id: ID },
      MessageStream: "outbound",
    });
    const broadcast = postmark.request(message, { name: "p", type: "postmark" }, { serverToken: "t", messageStream: "broadcast" });
    expect(JSON.parse(broadcast.body as string).MessageStream).toBe("broadcast");
  });

  it("Resend: Bearer, Idempotency-Key = our id, our id and the tags as tags in Resend's alphabet", () => {
    const { req, json } = builders.resend();
    expect(req).toMatchObject({ url: "https://api.resend.com/emails", method: "POST" });
    expect(req.headers).toMatchObject({ authorization: "Bearer re_key", "idempotency-key": ID, "content-type": "application/json" });
    expect(json).toEqual({
      from: '"Acme, Inc." <news@acme.test>',
      to: ["alice@example.com"],
      subject: "Hello",
      text: "Hi there, caf\u00e9",
      html: "<p>Hi there</p>",
      reply_to: "help@acme.test",
      headers: message.headers,
      tags: [
        { name: "lasthop_id", value: ID },
        { name: "newsletter", value: "true" },
        { name: "week_49", value: "true" },
        { name: "a", value: "true" },
        { name: "b", value: "true" },
      ],
    });
  });

  it("a route's baseUrl replaces the public API, a trailing slash or not", () => {
    const route = (type: EspType) => ({ name: "r", type, baseUrl: "http://127.0.0.1:9/p/" }) as EspRoute;
    expect(sendgrid.request(message, route("sendgrid") as never, { apiKey: "k" }).url).toBe("http://127.0.0.1:9/p/v3/mail/send");
    expect(ses.request(message, route("ses") as never, { accessKeyId: "a", secretAccessKey: "s" }).url).toBe(
      "http://127.0.0.1:9/p/v2/email/outbound-emails",
    );
    expect(postmark.request(message, route("postmark") as never, { serverToken: "t" }).url).toBe("http://127.0.0.1:9/p/email");
    expect(resend.request(message, route("resend") as never, { apiKey: "k" }).url).toBe("http://127.0.0.1:9/p/emails");
  });
});

// ---- answers ----

type Expected =
  | { kind: "accepted" }
  | { kind: "failed"; reason: string }
  | { kind: "bounced"; reason: string }
  | { kind: "retry"; reason: string; submitted: "no" | "maybe"; retryAfter?: number };

/** The common table: every provider maps these statuses alike. */
const STATUSES: Array<[number, Expected]> = [
  [400, { kind: "failed", reason: "rejected" }],
  [401, { kind: "retry", reason: "route_auth", submitted: "no" }],
  [403, { kind: "retry", reason: "route_auth", submitted: "no" }],
  [404, { kind: "retry", reason: "route_down", submitted: "no" }],
  [413, { kind: "failed", reason: "rejected" }],
  [422, { kind: "failed", reason: "rejected" }],
  [429, { kind: "retry", reason: "throttled", submitted: "no", retryAfter: 7 }],
  [500, { kind: "retry", reason: "provider_error", submitted: "maybe" }],
  [502, { kind: "retry", reason: "route_down", submitted: "no" }],
  [503, { kind: "retry", reason: "route_down", submitted: "no" }],
  [504, { kind: "retry", reason: "timeout", submitted: "maybe" }],
];

/** Each provider's documented error body for a status, and its success answer. */
const providers: Record<
  EspType,
  {
    outcome: (status: number, headers: Headers, body: unknown) => SendOutcome;
    error: (status: number) => unknown;
    ok: [number, Headers, unknown, string];
  }
> = {
  sendgrid: {
    outcome: sendgrid.outcome,
    error: (status) => ({ errors: [{ message: `error ${status}`, field: status === 400 ? "from" : null, help: null }] }),
    ok: [202, new Headers({ "x-message-id": "W7yLbE9KRqWm3AbC4rS2eQ" }), "", "W7yLbE9KRqWm3AbC4rS2eQ"],
  },
  ses: {
    outcome: ses.outcome,
    error: (status) => ({ message: `error ${status}` }),
    ok: [200, new Headers(), { MessageId: "0100018c-abc-000000" }, "0100018c-abc-000000"],
  },
  mailgun: {
    outcome: mailgun.outcome,
    error: (status) => (status === 401 ? "Forbidden" : { message: `error ${status}` }),
    ok: [
      200,
      new Headers(),
      { id: "<20261206020000.1a2b@mg.acme.test>", message: "Queued. Thank you." },
      "20261206020000.1a2b@mg.acme.test",
    ],
  },
  postmark: {
    outcome: postmark.outcome,
    error: (status) => ({ ErrorCode: status === 401 ? 10 : status === 429 ? 429 : 300, Message: `error ${status}` }),
    ok: [
      200,
      new Headers(),
      { To: "alice@example.com", MessageID: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817", ErrorCode: 0, Message: "OK" },
      "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    ],
  },
  resend: {
    outcome: resend.outcome,
    error: (status) => ({ statusCode: status, name: `error_${status}`, message: `error ${status}` }),
    ok: [200, new Headers(), { id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794" }, "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"],
  },
};

function expectOutcome(outcome: SendOutcome, expected: Expected, status: number): void {
  expect(outcome.kind).toBe(expected.kind);
  if (expected.kind === "accepted") return;
  expect(outcome.detail).toMatchObject({ reason: expected.reason, status });
  if (expected.kind === "retry") {
    expect(outcome.detail.submitted).toBe(expected.submitted);
    expect(outcome.kind === "retry" ? outcome.retryAfter : undefined).toBe(expected.retryAfter);
  }
}

describe.each(Object.keys(providers) as EspType[])("%s answers", (type) => {
  const p = providers[type];

  it("a success is accepted with the provider's id (the one its webhooks name the message by)", () => {
    const [status, headers, body, id] = p.ok;
    expect(p.outcome(status, headers, body)).toEqual({ kind: "accepted", detail: { providerMessageId: id, status } });
  });

  it.each(STATUSES)("%i maps as the table says, with the provider's error", (status, expected) => {
    const headers = new Headers(status === 429 ? { "retry-after": "7" } : {});
    const outcome = p.outcome(status, headers, p.error(status));
    expectOutcome(outcome, expected, status);
    expect(String(outcome.detail.error)).toMatch(status === 401 && type === "mailgun" ? /^Forbidden$/ : new RegExp(`error ${status}`));
    // Only a route that certainly did not take the message and is down or refuses us passes it on.
    expect(passesOn(outcome)).toBe([401, 403, 404, 502, 503].includes(status));
    expect(routeHealthy(outcome)).toBe(!(status >= 500 || status === 401 || status === 403 || status === 404));
  });

  it("an answer with no readable body still maps by its status", () => {
    expect(p.outcome(503, new Headers(), undefined)).toMatchObject({ kind: "retry", detail: { reason: "route_down", submitted: "no" } });
    expect(p.outcome(500, new Headers(), "<html>oops</html>")).toMatchObject({
      kind: "retry",
      detail: { submitted: "maybe", error: "<html>oops</html>" },
    });
    expect(p.outcome(302, new Headers({ location: "https://x" }), "")).toMatchObject({
      kind: "retry",
      detail: { reason: "route_down", submitted: "no" },
    });
  });
});

describe("provider codes that decide more than the status", () => {
  it("Postmark 406 (inactive recipient) is a hard bounce of this recipient; 405/413 mean the account may not send", () => {
    const inactive = postmark.outcome(422, new Headers(), {
      ErrorCode: 406,
      Message: "You tried to send to recipient(s) that have been marked as inactive.",
    });
    expect(inactive).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "suppressed", status: 422, errorCode: 406 } });
    expect(routeHealthy(inactive)).toBe(true);
    for (const code of [405, 413]) {
      const refused = postmark.outcome(422, new Headers(), { ErrorCode: code, Message: "Not allowed to send" });
      expect(refused).toMatchObject({ kind: "retry", detail: { reason: "route_auth", submitted: "no", errorCode: code } });
      expect(passesOn(refused)).toBe(true);
    }
    expect(postmark.outcome(422, new Headers(), { ErrorCode: 300, Message: "Invalid 'From' address" })).toMatchObject({
      kind: "failed",
      detail: { reason: "rejected", errorCode: 300, error: "Invalid 'From' address" },
    });
  });

  it("SES names its error in x-amzn-ErrorType: MessageRejected refuses the message, a suspended account passes on", () => {
    const rejected = ses.outcome(
      400,
      new Headers({ "x-amzn-errortype": "MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/" }),
      {
        message: "Email address is not verified.",
      },
    );
    expect(rejected).toEqual({
      kind: "failed",
      detail: { reason: "rejected", status: 400, error: "Email address is not verified.", errorCode: "MessageRejected" },
    });
    for (const type of ["AccountSuspendedException", "SendingPausedException"]) {
      const paused = ses.outcome(400, new Headers({ "x-amzn-errortype": type }), { message: "paused" });
      expect(paused).toMatchObject({ kind: "retry", detail: { reason: "route_auth", submitted: "no", errorCode: type } });
      expect(passesOn(paused)).toBe(true);
    }
    const quota = ses.outcome(400, new Headers(), { __type: "com.amazonaws.sesv2#LimitExceededException", message: "Daily quota" });
    expect(quota).toMatchObject({ kind: "retry", detail: { reason: "throttled", submitted: "no", errorCode: "LimitExceededException" } });
    expect(passesOn(quota)).toBe(false);
    expect(ses.outcome(403, new Headers({ "x-amzn-errortype": "InvalidSignatureException" }), { message: "mismatch" })).toMatchObject({
      kind: "retry",
      detail: { reason: "route_auth", errorCode: "InvalidSignatureException" },
    });
  });

  it("Resend 409: a concurrent request with our key may yet send (pinned); a reused key with another body is refused", () => {
    const concurrent = resend.outcome(409, new Headers(), {
      statusCode: 409,
      name: "concurrent_idempotent_requests",
      message: "in progress",
    });
    expect(concurrent).toMatchObject({ kind: "retry", detail: { reason: "in_progress", submitted: "maybe" } });
    expect(passesOn(concurrent)).toBe(false);
    expect(resend.outcome(409, new Headers(), { statusCode: 409, name: "invalid_idempotent_request", message: "x" })).toMatchObject({
      kind: "failed",
      detail: { reason: "rejected", errorCode: "invalid_idempotent_request" },
    });
  });

  it("Retry-After as an HTTP-date, and a 503's Retry-After", () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const outcome = resend.outcome(429, new Headers({ "retry-after": at }), { name: "rate_limit_exceeded", message: "slow down" });
    expect(outcome.kind === "retry" && outcome.retryAfter).toBeGreaterThan(50);
    expect(sendgrid.outcome(503, new Headers({ "retry-after": "30" }), "")).toMatchObject({ kind: "retry", retryAfter: 30 });
  });
});

describe("metadata reaches each provider where it carries key/value pairs", () => {
  const metadata = {
    customer: "c_42",
    plan: "pro",
    count: 3,
    lasthop_id: "not-ours",
    email: "shadow@example.com",
    note: "has spaces",
    long: "x".repeat(500),
  };
  const withMetadata: EspMessage = { ...message, request: { ...message.request, metadata } };
  const form = (req: EspRequest) => req.body as FormData;

  it("SendGrid: custom args, ours last; a key that would shadow an event field or a value over the cap is left out", () => {
    const body = json(sendgrid.request(withMetadata, { name: "sg", type: "sendgrid" }, { apiKey: "SG.key" }));
    expect(body.custom_args).toEqual({ customer: "c_42", plan: "pro", count: "3", note: "has spaces", lasthop_id: ID });
  });

  it("Postmark: Metadata within 20-character names and 80-character values, ours kept", () => {
    const body = json(postmark.request(withMetadata, { name: "pm", type: "postmark" }, { serverToken: "t" }));
    expect(body.Metadata).toEqual({
      customer: "c_42",
      plan: "pro",
      count: "3",
      email: "shadow@example.com",
      note: "has spaces",
      lasthop_id: ID,
    });
  });

  it("Mailgun: v: variables beside v:lasthop_id", () => {
    const f = form(mailgun.request(withMetadata, { name: "mg", type: "mailgun" }, { apiKey: "k", domain: "mg.acme.test" }));
    expect(f.getAll("v:lasthop_id")).toEqual([ID]);
    expect(f.get("v:customer")).toBe("c_42");
    expect(f.get("v:count")).toBe("3");
    expect(f.get("v:long")).toBeNull();
  });

  it.each(["ses", "resend"] as const)("%s: tags, only pairs already in the tag alphabet", (type) => {
    const built =
      type === "ses"
        ? json(ses.request(withMetadata, { name: "ses", type: "ses" }, { accessKeyId: "A", secretAccessKey: "s" })).EmailTags
        : json(resend.request(withMetadata, { name: "re", type: "resend" }, { apiKey: "re_k" })).tags;
    const pairs = (built as Array<Record<string, string>>).map((t) => [t.Name ?? t.name, t.Value ?? t.value]);
    expect(pairs).toContainEqual(["lasthop_id", ID]);
    expect(pairs).toContainEqual(["customer", "c_42"]);
    expect(pairs).toContainEqual(["count", "3"]);
    expect(pairs.filter(([name]) => name === "lasthop_id")).toHaveLength(1);
    expect(pairs.some(([name]) => name === "note" || name === "email")).toBe(false);
  });
});

describe("attachments reach each provider in its own fields", () => {
  const pdf = { content: "JVBERi0xLjQK", filename: "Rechnung März.pdf", contentType: "application/pdf" };
  const logo = {
    content: "iVBORw0KGgo=",
    filename: "logo.png",
    contentType: "image/png",
    disposition: "inline" as const,
    contentId: "logo@acme.test",
  };
  const withFiles: EspMessage = { ...message, request: { ...message.request, attachments: [pdf, logo] } };

  it.each<[EspType, (m: EspMessage) => unknown, unknown]>([
    [
      "sendgrid",
      (m) => json(sendgrid.request(m, { name: "sg", type: "sendgrid" }, { apiKey: "k" })).attachments,
      [
        { content: pdf.content, type: "application/pdf", filename: pdf.filename, disposition: "attachment" },
        { content: logo.content, type: "image/png", filename: "logo.png", disposition: "inline", content_id: "logo@acme.test" },
      ],
    ],
    [
      "postmark",
      (m) => json(postmark.request(m, { name: "pm", type: "postmark" }, { serverToken: "t" })).Attachments,
      [
        { Name: pdf.filename, Content: pdf.content, ContentType: "application/pdf" },
        { Name: "logo.png", Content: logo.content, ContentType: "image/png", ContentID: "cid:logo@acme.test" },
      ],
    ],
    [
      "resend",
      (m) => json(resend.request(m, { name: "re", type: "resend" }, { apiKey: "k" })).attachments,
      [
        { filename: pdf.filename, content: pdf.content, content_type: "application/pdf" },
        { filename: "logo.png", content: logo.content, content_type: "image/png", content_id: "logo@acme.test" },
      ],
    ],
  ])("%s", (_, build, expected) => {
    expect(build(withFiles)).toEqual(expected);
    // A send without attachments names none.
    expect(build(message)).toBeUndefined();
  });

  it.each(["ses", "mailgun"] as const)("%s: carries the relay's raw MIME, attachments included, as it is", async (type) => {
    const raw = `${RAW}--m\r\nContent-Disposition: attachment; filename="x"\r\n`;
    const m = { ...withFiles, raw };
    if (type === "ses") {
      const body = json(ses.request(m, { name: "ses", type: "ses" }, { accessKeyId: "A", secretAccessKey: "s" }));
      const data = (body.Content as { Raw: { Data: string } }).Raw.Data;
      expect(new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)))).toBe(raw);
    } else {
      const form = mailgun.request(m, { name: "mg", type: "mailgun" }, { apiKey: "k", domain: "mg.acme.test" }).body as FormData;
      expect(await (form.get("message") as Blob).text()).toBe(raw);
    }
  });
});

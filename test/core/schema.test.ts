import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalEvent, sendRequest } from "../../src/core/schema.ts";

const b64url = (n: number) => randomBytes(n).toString("base64url");
const APNS_TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/** A payload whose JSON is exactly `bytes` long. */
const payloadOfSize = (bytes: number) => {
  const overhead = JSON.stringify({ aps: {}, pad: "" }).length;
  const payload = { aps: {}, pad: "x".repeat(bytes - overhead) };
  expect(JSON.stringify(payload).length).toBe(bytes);
  return payload;
};

const valid = {
  email: { channel: "email", from: "news@acme.test", to: "bob@example.com", subject: "Hi", text: "Hello" },
  apns: { channel: "apns", to: APNS_TOKEN, topic: "com.acme.app", pushType: "alert", payload: { aps: { alert: "hi" } } },
  fcm: { channel: "fcm", to: "dXk7Qm2:APA91bH", message: { notification: { title: "Hi" }, data: { orderId: "42" } } },
  webpush: {
    channel: "webpush",
    to: { endpoint: "https://fcm.googleapis.com/fcm/send/abc", keys: { p256dh: b64url(65), auth: b64url(16) } },
    payload: "hi",
  },
  sms: { channel: "sms", to: "+14155550100", from: "Acme", body: "Your code is 123456" },
} as const;

type Row = [name: string, request: Record<string, unknown>, ok: boolean, path?: string];

describe("sendRequest", () => {
  it.each(Object.entries(valid))("baseline %s request is valid", (_, request) => {
    expect(sendRequest.safeParse(request).success).toBe(true);
  });

  it.each<Row>([
    // web push
    [
      "p256dh of 64 bytes",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(64), auth: b64url(16) } } },
      false,
      "to.keys.p256dh",
    ],
    [
      "p256dh of 66 bytes",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(66), auth: b64url(16) } } },
      false,
      "to.keys.p256dh",
    ],
    [
      "auth of 15 bytes",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(65), auth: b64url(15) } } },
      false,
      "to.keys.auth",
    ],
    [
      "auth of 32 bytes",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(65), auth: b64url(32) } } },
      false,
      "to.keys.auth",
    ],
    [
      "auth padded base64url of 16 bytes",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(65), auth: `${b64url(16)}==` } } },
      true,
    ],
    [
      "auth with a non-base64url character",
      { ...valid.webpush, to: { ...valid.webpush.to, keys: { p256dh: b64url(65), auth: `${b64url(15)}!!` } } },
      false,
      "to.keys.auth",
    ],
    [
      "http endpoint",
      { ...valid.webpush, to: { ...valid.webpush.to, endpoint: "http://fcm.googleapis.com/fcm/send/abc" } },
      false,
      "to.endpoint",
    ],
    ["topic of 32 chars", { ...valid.webpush, topic: "a".repeat(32) }, true],
    ["topic of 33 chars", { ...valid.webpush, topic: "a".repeat(33) }, false, "topic"],
    ["topic with a dot", { ...valid.webpush, topic: "news.today" }, false, "topic"],
    ["ttl 0", { ...valid.webpush, ttl: 0 }, true],
    ["ttl 2419200", { ...valid.webpush, ttl: 2_419_200 }, true],
    ["ttl 2419201", { ...valid.webpush, ttl: 2_419_201 }, false, "ttl"],
    ["ttl -1", { ...valid.webpush, ttl: -1 }, false, "ttl"],
    ["urgency unknown", { ...valid.webpush, urgency: "urgent" }, false, "urgency"],
    // apns
    ["apns token of 63 hex chars", { ...valid.apns, to: APNS_TOKEN.slice(0, 63) }, false, "to"],
    ["apns token of 62 hex chars", { ...valid.apns, to: APNS_TOKEN.slice(0, 62) }, false, "to"],
    ["apns token in upper case", { ...valid.apns, to: APNS_TOKEN.toUpperCase() }, true],
    ["apns token of 65 hex chars", { ...valid.apns, to: `${APNS_TOKEN}0` }, false, "to"],
    ["voip payload of 4500 bytes", { ...valid.apns, pushType: "voip", payload: payloadOfSize(4500) }, true],
    ["voip payload of 5120 bytes", { ...valid.apns, pushType: "voip", payload: payloadOfSize(5120) }, true],
    ["voip payload of 5121 bytes", { ...valid.apns, pushType: "voip", payload: payloadOfSize(5121) }, false, "payload"],
    ["alert payload of 4096 bytes", { ...valid.apns, payload: payloadOfSize(4096) }, true],
    ["alert payload of 4097 bytes", { ...valid.apns, payload: payloadOfSize(4097) }, false, "payload"],
    ["alert payload of 4500 bytes", { ...valid.apns, payload: payloadOfSize(4500) }, false, "payload"],
    ["background push at priority 10", { ...valid.apns, pushType: "background", priority: 10 }, false, "priority"],
    ["background push at default priority", { ...valid.apns, pushType: "background" }, true],
    // apns-push-type: Apple's values (push to talk is "pushtotalk", with the .voip-ptt topic)
    ["push-to-talk push", { ...valid.apns, pushType: "pushtotalk", topic: "com.acme.app.voip-ptt" }, true],
    ["a push type Apple does not define", { ...valid.apns, pushType: "pushtomain" }, false, "pushType"],
    // apns-topic: a bundle id, with a push type's suffix
    ...(
      [
        "com.acme.app",
        "com.acme.app.voip",
        "com.acme.app.complication",
        "com.acme.app.pushkit.fileprovider",
        "com.acme.app.push-type.liveactivity",
        "com.acme.app.location-query",
        "com.acme.app.voip-ptt",
        "com.apple.mgmt.External.462ad9c3-7ca1-437b-8c6f-5575941a4ea7",
        "io.my-company.App2",
        `com.${"a".repeat(247)}`,
      ] as const
    ).map((topic): Row => [`topic ${topic.slice(0, 40)}`, { ...valid.apns, topic }, true]),
    ...(
      [
        ["CR LF (header injection)", "com.acme.app\r\napns-priority: 10"],
        ["LF", "com.acme.app\n"],
        ["NUL", "com.acme\u0000.app"],
        ["a space", "com.acme app"],
        ["a tab", "com.acme.app\t"],
        ["non-ASCII letters", "com.acmé.app"],
        ["a non-ASCII dot look-alike", "com\u3002acme\u3002app"],
        ["U+2028", "com.acme.app\u2028"],
        ["an underscore", "com.acme.my_app"],
        ["a slash", "com.acme/app"],
        ["a colon", "com.acme:app"],
        ["a single label", "acme"],
        ["a leading dot", ".com.acme.app"],
        ["a trailing dot", "com.acme.app."],
        ["an empty label", "com..acme"],
        ["empty", ""],
        ["over 255 characters", `com.${"a".repeat(252)}`],
      ] as const
    ).map(([name, topic]): Row => [`topic with ${name}`, { ...valid.apns, topic }, false, "topic"]),
    // sms
    ["alphanumeric from of 11 chars", { ...valid.sms, from: "AcmeAlerts1" }, true],
    ["alphanumeric from of 12 chars", { ...valid.sms, from: "AcmeAlerts12" }, false, "from"],
    ["short code from", { ...valid.sms, from: "12345" }, true],
    ["all-digit sender id of 9 digits", { ...valid.sms, from: "123456789" }, false, "from"],
    ["E.164 from", { ...valid.sms, from: "+14155550199" }, true],
    ["to without +", { ...valid.sms, to: "14155550100" }, false, "to"],
    ["body of 1601 chars", { ...valid.sms, body: "x".repeat(1601) }, false, "body"],
    // fcm
    ["fcm data with a number", { ...valid.fcm, message: { data: { orderId: 42 } } }, false, "message.data.orderId"],
    ["fcm data with a nested object", { ...valid.fcm, message: { data: { order: { id: "42" } } } }, false, "message.data.order"],
    ["fcm with an unknown message field", { ...valid.fcm, message: { topic: "news" } }, false, "message"],
    // email
    [
      "email with html only",
      { channel: "email", from: "news@acme.test", to: "bob@example.com", subject: "Hi", html: "<p>Hello</p>" },
      true,
    ],
    ["email with neither text nor html", { channel: "email", from: "news@acme.test", to: "bob@example.com", subject: "Hi" }, false, "text"],
    ["email with an empty subject", { ...valid.email, subject: "" }, false, "subject"],
    ...(["\u0000", "\u000b", "\u000c", "\u001b", "\u007f", "\u0085", "\u2028", "\u2029"] as const).flatMap((c): Row[] => {
      const name = `U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
      return [
        [`header value with ${name}`, { ...valid.email, headers: { "X-Note": `a${c}b` } }, false, "headers.X-Note"],
        [`subject with ${name}`, { ...valid.email, subject: `a${c}b` }, false, "subject"],
        [`fromName with ${name}`, { ...valid.email, fromName: `a${c}b` }, false, "fromName"],
      ];
    }),
    ["header value with a tab", { ...valid.email, headers: { "X-Note": "a\tb" } }, true],
    ["header value with non-ASCII", { ...valid.email, headers: { "X-Note": "Grüße 👋" } }, true],
    ["header value of 998 characters with spaces", { ...valid.email, headers: { "X-Note": "word ".repeat(200).slice(0, 998) } }, true],
    ["header value that is one 998-character word", { ...valid.email, headers: { "X-Token": "t".repeat(998) } }, false, "headers.X-Token"],
    ["header value of 989 characters beside X-Token (998 in all)", { ...valid.email, headers: { "X-Token": "t".repeat(989) } }, true],
    [
      "header value of 990 characters beside X-Token",
      { ...valid.email, headers: { "X-Token": "t".repeat(990) } },
      false,
      "headers.X-Token",
    ],
    ["subject of 998 characters without a space", { ...valid.email, subject: "x".repeat(998) }, true],
    ["to of 254 characters", { ...valid.email, to: `${"a".repeat(64)}@${"d".repeat(184)}.test` }, true],
    ["to of 255 characters", { ...valid.email, to: `${"a".repeat(64)}@${"d".repeat(185)}.test` }, false, "to"],
    // common
    ["sendAt with an offset", { ...valid.sms, sendAt: "2030-01-01T09:00:00+02:00" }, true],
    ["sendAt in UTC", { ...valid.email, sendAt: "2030-01-01T00:00:00Z" }, true],
    ["sendAt without an offset", { ...valid.sms, sendAt: "2030-01-01T00:00:00" }, false, "sendAt"],
    ["sendAt as a date alone", { ...valid.sms, sendAt: "2030-01-01" }, false, "sendAt"],
    ["sendAt as a number", { ...valid.sms, sendAt: 1893456000 }, false, "sendAt"],
    ["an unknown field is refused", { ...valid.sms, priority: "high" }, false, ""],
    ["an unknown channel", { ...valid.sms, channel: "pigeon" }, false, "channel"],
  ])("%s → valid: %s", (_, request, ok, path) => {
    const result = sendRequest.safeParse(request);
    expect(result.success).toBe(ok);
    if (!ok) expect(result.error!.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("canonicalEvent", () => {
  const event = {
    id: "evt_1",
    account: "acct-a",
    messageId: "3f2b6d1e-8c4a-4b2e-9f1a-2d3c4b5a6e7f",
    type: "delivered",
    occurredAt: "2025-01-01T00:00:00Z",
    provider: "bridge",
  };

  it.each<Row>([
    ["UTC with Z", event, true],
    ["with milliseconds", { ...event, occurredAt: "2025-01-01T00:00:00.123Z" }, true],
    ["with a +02:00 offset", { ...event, occurredAt: "2025-01-01T02:00:00+02:00" }, true],
    ["with a -05:30 offset", { ...event, occurredAt: "2024-12-31T18:30:00-05:30" }, true],
    ["without an offset", { ...event, occurredAt: "2025-01-01T00:00:00" }, false, "occurredAt"],
    ["a date only", { ...event, occurredAt: "2025-01-01" }, false, "occurredAt"],
    ["an epoch number", { ...event, occurredAt: 1735689600 }, false, "occurredAt"],
    ["receivedAt without an offset", { ...event, receivedAt: "2025-01-01T00:00:01" }, false, "receivedAt"],
    ["a v8 messageId", { ...event, messageId: "0a1b2c3d-4e5f-8a7b-9c8d-0e1f2a3b4c5d" }, true],
    ["a non-UUID messageId", { ...event, messageId: "msg_123" }, false, "messageId"],
    ["an unknown type", { ...event, type: "read" }, false, "type"],
    ["engagement type", { ...event, type: "clicked" }, true],
    ["inbound type", { ...event, type: "inbound" }, true],
    ["an empty id", { ...event, id: "" }, false, "id"],
    ["an unknown field", { ...event, extra: 1 }, false, ""],
  ])("%s → valid: %s", (_, input, ok, path) => {
    const result = canonicalEvent.safeParse(input);
    expect(result.success).toBe(ok);
    if (!ok) expect(result.error!.issues.map((i) => i.path.join("."))).toContain(path);
  });

  it("defaults detail to {}", () => {
    const result = canonicalEvent.safeParse(event);
    expect(result.success && result.data.detail).toEqual({});
  });
});

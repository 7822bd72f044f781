import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, api, send, subscription, webpush } from "./helpers.ts";
import { MAX_SEND_BODY_BYTES } from "../../src/core/attachment.ts";

async function errorOf(res: Response) {
  return ((await res.json()) as any).error as { code: string; message: string; details: { path?: string; message: string }[] };
}

describe("auth", () => {
  it.each([
    ["no Authorization", null],
    ["an unknown key", "not-a-key"],
  ])("answers 401 for %s", async (_, key) => {
    const res = await api("/v1/messages", { method: "POST", json: await webpush("auth"), key });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ code: "unauthorized", details: [] });
  });

  it("answers 401 for a non-Bearer scheme", async () => {
    const res = await SELF.fetch(`${BASE}/v1/stats`, { headers: { authorization: "Basic dGVzdDp0ZXN0" } });
    expect(res.status).toBe(401);
  });
});

describe("request errors", () => {
  it("415 when the body is not declared JSON", async () => {
    const res = await api("/v1/messages", { method: "POST", body: "{}", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe("unsupported_media_type");
  });

  it("400 when the JSON does not parse", async () => {
    const res = await api("/v1/messages", { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("invalid_json");
  });

  it("413 for a body over the send routes' limit (a message at the attachment limit), before it is parsed", async () => {
    const res = await api("/v1/messages", {
      method: "POST",
      body: "x".repeat(MAX_SEND_BODY_BYTES + 1),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
  });

  it("404 in the error shape for an unknown route and an unknown message", async () => {
    expect((await errorOf(await api("/v1/nothing"))).code).toBe("not_found");
    const res = await api(`/v1/messages/${crypto.randomUUID()}`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
  });

  it("400 for a bad Idempotency-Key", async () => {
    const res = await send(await webpush("idem-bad"), { idempotencyKey: "has space" });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("Idempotency-Key");
  });
});

const token = "a".repeat(64);
// Every channel's contract: a good request of each shape, and bad ones with the paths of every invalid field.
const valid: Record<string, unknown> = {
  email: { channel: "email", from: "news@example.com", to: "User@Example.COM", subject: "Hi", text: "hello" },
  apns: { channel: "apns", to: token, topic: "com.example.app", pushType: "alert", payload: { aps: { alert: "hi" } } },
  fcm: { channel: "fcm", to: "fcm-token-123", message: { notification: { title: "hi" }, data: { k: "v" } } },
  sms: { channel: "sms", to: "+14155550100", from: "Lasthop", body: "hi" },
};

const invalid: Array<[string, unknown, string[]]> = [
  [
    "email without body, bad addresses",
    { channel: "email", from: "nope", to: "also nope", subject: "" },
    ["from", "to", "subject", "text"],
  ],
  ["email with an unknown field", { ...(valid.email as object), bcc: "x@example.com" }, ["(body)"]],
  [
    "apns with a bad token, type and priority",
    { channel: "apns", to: "xyz", topic: "t", pushType: "banner", priority: 7, payload: {} },
    ["to", "pushType", "priority", "payload.aps"],
  ],
  ["apns background at priority 10", { ...(valid.apns as object), pushType: "background", priority: 10 }, ["priority"]],
  ["apns payload over 4 KiB", { ...(valid.apns as object), payload: { aps: {}, big: "x".repeat(4100) } }, ["payload"]],
  ["apns collapse id over 64 bytes", { ...(valid.apns as object), collapseId: "é".repeat(33) }, ["collapseId"]],
  ["fcm without a token", { channel: "fcm", to: "", message: { data: { n: 1 } } }, ["to", "message.data.n"]],
  [
    "webpush with an http endpoint and bad keys",
    {
      channel: "webpush",
      to: { endpoint: "http://push.test/x", keys: { p256dh: "abc", auth: "!!" } },
      payload: "x",
      ttl: -1,
      urgency: "now",
    },
    ["to.endpoint", "to.keys.p256dh", "to.keys.auth", "ttl", "urgency"],
  ],
  ["sms with a local number", { channel: "sms", to: "0612345678", from: "+14155550100", body: "" }, ["to", "body"]],
  ["an unknown channel", { channel: "pigeon", to: "x" }, ["channel"]],
  ["sendAt without an offset", { ...(valid.sms as object), sendAt: "2030-01-01T00:00:00" }, ["sendAt"]],
  ["sendAt years ahead", { ...(valid.sms as object), sendAt: "2090-01-01T00:00:00Z" }, ["sendAt"]],
];

describe("send schemas", () => {
  it.each(invalid)("400 lists every invalid field: %s", async (_, body, paths) => {
    const res = await send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    const got = res.body.error.details.map((d: any) => d.path);
    for (const path of paths) expect(got).toContain(path);
    for (const detail of res.body.error.details) expect(detail.message).toEqual(expect.any(String));
  });

  it("sendAt says how far ahead it may be", async () => {
    const res = await send({ ...(valid.sms as object), sendAt: "2090-01-01T00:00:00Z" });
    expect(res.body.error.details.find((d: any) => d.path === "sendAt").message).toMatch(/72 hours/);
  });

  it("a valid email request from a domain the account does not own is refused 422 sender_not_allowed", async () => {
    const res = await send(valid.email);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("sender_not_allowed");
  });

  it("a valid apns request is accepted (the test deployment's bridge serves apns)", async () => {
    const res = await send(valid.apns);
    expect(res.status).toBe(202);
  });

  it("a valid sms request from a sender the account does not own is refused 422 sender_not_allowed", async () => {
    const res = await send({ ...(valid.sms as object), from: "+15005559999" });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "sender_not_allowed", details: [{ path: "from" }] });
  });

  it.each(Object.entries(valid).filter(([c]) => c !== "apns" && c !== "email" && c !== "sms"))(
    "a valid %s request passes validation and is refused 422 while its provider is not configured",
    async (channel, body) => {
      const res = await send(body);
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({ code: "channel_not_configured" });
      expect(res.body.error.message).toContain(channel);
    },
  );

  it("422 for a push endpoint whose host is not an allowed push service, never fetched", async () => {
    const to = await subscription("x");
    const res = await send({ channel: "webpush", to: { ...to, endpoint: "https://169.254.169.254/latest/meta-data" }, payload: "x" });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "endpoint_not_allowed", details: [{ path: "to.endpoint" }] });
  });

  it("allows subdomains of a wildcard entry only", async () => {
    const to = await subscription("x");
    const ok = await send({ channel: "webpush", to: { ...to, endpoint: "https://db5.notify.windows.com/w/?token=abc" }, payload: "x" });
    expect(ok.status).toBe(202);
    const bad = await send({
      channel: "webpush",
      to: { ...to, endpoint: "https://evil-notify.windows.com.attacker.test/w" },
      payload: "x",
    });
    expect(bad.status).toBe(422);
  });

  it("400 for a web push payload that would not fit in 4 KiB once encrypted", async () => {
    const fits = await send(await webpush("size", { payload: "x".repeat(3993) }));
    expect(fits.status).toBe(202);
    const over = await send(await webpush("size", { payload: "x".repeat(3994) }));
    expect(over.status).toBe(400);
    expect(over.body.error.details[0]).toMatchObject({ path: "payload", code: "too_big" });
  });
});

import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { masked } from "../../src/core/config/sections.ts";
import { passesOn, routeHealthy } from "../../src/core/routes.ts";
import { candidateRoutes, smsAccountConfig, smsSenderAllowed } from "../../src/core/sms/account.ts";
import { vonageRequest, vonageRoute, vonageSendOutcome, type VonageRoute } from "../../src/core/sms/vonage.ts";
import { smsSend } from "../../src/core/schema.ts";

const SECRET = randomBytes(12).toString("hex");
const NOW = 1_767_225_600_000;
const SEND = {
  to: "+447700900000",
  from: "+15005550006",
  text: "Your code is 123456",
  clientRef: "0f8b2c9e-6d4a-4e4b-9a57-2f7a9f3c1d11",
  callback: "https://lasthop.test/v1/webhooks/vonage/acct-a",
};
const route = (extra: Partial<VonageRoute> = {}): VonageRoute =>
  vonageRoute.parse({ name: "vonage", type: "vonage", apiKey: "abcd1234", apiSecret: SECRET, ...extra });

/** Vonage's documented manual signature, written out with node:crypto, independently of src/. */
function sign(params: Record<string, string>, secret: string, method: "md5hash" | "sha256"): string {
  const signed = Object.keys(params)
    .filter((k) => k !== "sig")
    .sort()
    .map((k) => `&${k}=${params[k]!.replace(/[&=]/g, "_")}`)
    .join("");
  return method === "md5hash"
    ? createHash("md5")
        .update(signed + secret)
        .digest("hex")
    : createHmac("sha256", secret).update(signed).digest("hex");
}

const ok = (...ids: string[]) => ({
  "message-count": String(ids.length),
  messages: ids.map((id) => ({
    to: "447700900000",
    "message-id": id,
    status: "0",
    "remaining-balance": "15.53590000",
    "message-price": "0.03330000",
    network: "23410",
  })),
});
const refused = (status: number, errorText = "some error") => ({
  "message-count": "1",
  messages: [{ status: String(status), "error-text": errorText }],
});

describe("the route's settings", () => {
  it("defaults the base URL, needs a secret of one kind, and joins the sms section's routes", () => {
    expect(route().baseUrl).toBe("https://rest.nexmo.com");
    expect(vonageRoute.safeParse({ name: "v", type: "vonage", apiKey: "abcd1234" }).success).toBe(false);
    expect(vonageRoute.safeParse({ name: "v", type: "vonage", apiKey: "abcd1234", signatureSecret: "s3cr3t" }).success).toBe(true);
    expect(vonageRoute.safeParse({ name: "v", type: "vonage", apiKey: "abcd1234", apiSecret: "x", baseUrl: "ftp://x" }).success).toBe(
      false,
    );
    const config = smsAccountConfig.parse({
      routes: [
        { name: "rest", type: "rest", baseUrl: "https://api.twilio.example", accountSid: `AC${"a".repeat(32)}`, authToken: "t".repeat(20) },
        { name: "vonage", type: "vonage", apiKey: "abcd1234", apiSecret: SECRET },
      ],
      senders: ["+15005550006"],
    });
    expect(candidateRoutes(config, "vonage").map((r) => r.name)).toEqual(["vonage"]);
    expect(smsSenderAllowed(config, "+15005550006", "vonage")).toBe("ok");
    expect(smsSenderAllowed(config, "+15005550006", "smpp")).toBe("route");
    expect(smsSend.safeParse({ channel: "sms", to: "+447700900000", from: "+15005550006", body: "x", route: "vonage" }).success).toBe(true);
  });

  it("masks the route's secrets in the sms section", () => {
    const doc = masked("sms", {
      routes: [{ name: "vonage", type: "vonage", apiKey: "abcd1234", apiSecret: SECRET, signatureSecret: `sig${SECRET}` }],
    }) as { routes: Array<Record<string, string>> };
    expect(doc.routes[0]!.apiKey).toBe("abcd1234");
    expect(doc.routes[0]!.apiSecret).not.toContain(SECRET.slice(0, 8));
    expect(doc.routes[0]!.signatureSecret).not.toContain(SECRET.slice(0, 8));
  });
});

describe("the request", () => {
  it("with an API secret: the documented fields, the number without +, client-ref our id, receipts asked for", async () => {
    const { url, params } = await vonageRequest(route({ baseUrl: "https://vonage.test/" }), SEND, NOW);
    expect(url).toBe("https://vonage.test/sms/json");
    expect(params).toEqual({
      api_key: "abcd1234",
      api_secret: SECRET,
      from: "15005550006",
      to: "447700900000",
      text: SEND.text,
      type: "text",
      "client-ref": SEND.clientRef,
      callback: SEND.callback,
      "status-report-req": "1",
    });
  });

  it("an alphanumeric sender goes as it is; text GSM-7 cannot carry goes as unicode", async () => {
    const { params } = await vonageRequest(route(), { ...SEND, from: "Acme Inc", text: "Код 123456 ✓" }, NOW);
    expect(params.from).toBe("Acme Inc");
    expect(params.type).toBe("unicode");
  });

  it.each(["md5hash", "sha256"] as const)(
    "with a signature secret (%s): sig over every field and the timestamp, no api_secret",
    async (method) => {
      const secret = `sig-${SECRET}`;
      const { params } = await vonageRequest(route({ apiSecret: undefined, signatureSecret: secret, signatureMethod: method }), SEND, NOW);
      expect(params.api_secret).toBeUndefined();
      expect(params.timestamp).toBe(String(NOW / 1000));
      expect(params.sig).toBe(sign(params, secret, method));
    },
  );

  it("a route with both secrets signs: Vonage refuses both at once (status 32)", async () => {
    const { params } = await vonageRequest(route({ signatureSecret: "sig-secret" }), SEND, NOW);
    expect(params.api_secret).toBeUndefined();
    expect(params.sig).toBe(sign(params, "sig-secret", "md5hash"));
  });
});

describe("the answer", () => {
  it("status 0: accepted, the first part's id the provider's, every part's id kept", () => {
    const outcome = vonageSendOutcome(200, ok("0C000000217B7F02", "0C000000217B7F03"));
    expect(outcome).toEqual({
      kind: "accepted",
      detail: {
        status: 200,
        providerMessageId: "0C000000217B7F02",
        messageIds: ["0C000000217B7F02", "0C000000217B7F03"],
        providerSegments: 2,
        network: "23410",
        price: "0.06660000",
      },
    });
    expect(passesOn(outcome)).toBe(false);
    expect(routeHealthy(outcome)).toBe(true);
  });

  it("some parts out, some refused: accepted (sending again would repeat the parts that went), the refusals noted", () => {
    const body = { "message-count": "2", messages: [...ok("0C01").messages, { status: "1", "error-text": "Throttled" }] };
    const outcome = vonageSendOutcome(200, body);
    expect(outcome.kind).toBe("accepted");
    expect(outcome.detail).toMatchObject({
      providerMessageId: "0C01",
      failedParts: [{ part: 2, vonageStatus: 1, errorText: "Throttled" }],
    });
  });

  type Row = [status: number, kind: string, reason: string, submitted: string, passes: boolean, healthy: boolean];
  it.each<Row>([
    [1, "retry", "throttled", "no", false, true],
    [2, "failed", "missing_parameters", "no", false, true],
    [3, "failed", "invalid_parameters", "no", false, true],
    [4, "retry", "route_auth", "no", true, false],
    [5, "retry", "route_down", "maybe", false, false],
    [6, "failed", "invalid_message", "no", false, true],
    [7, "bounced", "number_barred", "no", false, true],
    [8, "retry", "route_auth", "no", true, false],
    [9, "retry", "route_down", "no", true, false],
    [10, "retry", "throttled", "no", false, true],
    [11, "retry", "route_auth", "no", true, false],
    [12, "failed", "message_too_long", "no", false, true],
    [14, "retry", "route_auth", "no", true, false],
    [15, "failed", "invalid_sender_address", "no", false, true],
    [22, "failed", "invalid_network_code", "no", false, true],
    [23, "failed", "invalid_callback_url", "no", false, true],
    [29, "failed", "non_whitelisted_destination", "no", false, true],
    [32, "retry", "route_auth", "no", true, false],
    [33, "bounced", "number_deactivated", "no", false, true],
    [99, "failed", "unknown_status", "no", false, true],
  ])("status %i (HTTP 200): %s %s, submitted %s; passes on: %s, route healthy: %s", (status, kind, reason, submitted, passes, healthy) => {
    const outcome = vonageSendOutcome(200, refused(status, "Vonage's words"));
    expect(outcome.kind).toBe(kind);
    expect(outcome.detail).toMatchObject({ status: 200, reason, submitted, vonageStatus: status, errorText: "Vonage's words" });
    if (kind === "bounced") expect(outcome.detail.class).toBe("hard");
    expect(passesOn(outcome)).toBe(passes);
    expect(routeHealthy(outcome)).toBe(healthy);
  });

  it("a status written as a number reads the same", () => {
    expect(vonageSendOutcome(200, { "message-count": 1, messages: [{ status: 4, "error-text": "Bad Credentials" }] }).detail.reason).toBe(
      "route_auth",
    );
  });

  type HttpRow = [http: number, kind: string, reason: string, submitted: string | undefined, passes: boolean, healthy: boolean];
  it.each<HttpRow>([
    [401, "retry", "route_auth", "no", true, false],
    [403, "retry", "route_auth", "no", true, false],
    [429, "retry", "throttled", "no", false, true],
    [500, "retry", "server_error", "maybe", false, false],
    [502, "retry", "route_down", "no", true, false],
    [503, "retry", "route_down", "no", true, false],
    [504, "retry", "server_error", "maybe", false, false],
    [404, "failed", "rejected", undefined, false, true],
  ])("HTTP %i: %s %s, submitted %s; passes on: %s, route healthy: %s", (http, kind, reason, submitted, passes, healthy) => {
    const outcome = vonageSendOutcome(http, null);
    expect(outcome.kind).toBe(kind);
    expect(outcome.detail.reason).toBe(reason);
    expect(outcome.detail.submitted).toBe(submitted);
    expect(outcome.detail.status).toBe(http);
    expect(passesOn(outcome)).toBe(passes);
    expect(routeHealthy(outcome)).toBe(healthy);
  });

  it("Retry-After is kept on throttling and 503", () => {
    expect(vonageSendOutcome(429, null, 2)).toMatchObject({ kind: "retry", retryAfter: 2 });
    expect(vonageSendOutcome(503, null, 5)).toMatchObject({ kind: "retry", retryAfter: 5 });
  });

  it.each([null, "<html>", {}, { messages: [] }, { messages: [{ "message-id": "x" }] }])(
    "a 200 that does not read as the answer (%j) may have sent it: retry, submitted maybe",
    (body) => {
      const outcome = vonageSendOutcome(200, body);
      expect(outcome).toMatchObject({ kind: "retry", detail: { reason: "unexpected_answer", submitted: "maybe" } });
      expect(passesOn(outcome)).toBe(false);
    },
  );
});

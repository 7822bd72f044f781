import twilio from "twilio";
import { describe, expect, it } from "vitest";
import {
  twilioSendErrorVerdict,
  twilioSignature,
  twilioStatusVerdict,
  verifyTwilioSignature,
  type FormParams,
} from "../../src/core/sms/twilio.ts";

const AUTH_TOKEN = "12345678901234567890123456789012";

/** The twilio package's params shape: repeated names become arrays. */
function asObject(params: FormParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const statusCallback: FormParams = [
  ["MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"],
  ["MessageStatus", "delivered"],
  ["AccountSid", "AC00000000000000000000000000000000"],
  ["From", "+15017122661"],
  ["To", "+15558675310"],
  ["ApiVersion", "2010-04-01"],
  ["SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"],
  ["SmsStatus", "delivered"],
];

const URLS = [
  "https://mycompany.com/myapp.php?foo=1&bar=2",
  "https://lasthop.test/v1/webhooks/twilio",
  "https://lasthop.test:8443/v1/webhooks/twilio?account=dev&x=%20y",
  "http://127.0.0.1:8787/v1/webhooks/twilio",
];

const PARAM_SETS: Array<[string, FormParams]> = [
  ["a status callback", statusCallback],
  [
    "a voice webhook's parameters",
    [
      ["CallSid", "CA1234567890ABCDE"],
      ["Caller", "+12349013030"],
      ["Digits", "1234"],
      ["From", "+12349013030"],
      ["To", "+18005551212"],
    ],
  ],
  ["no parameters", []],
  [
    "unicode and emoji values",
    [
      ["Body", "Grüße 😀 Привет 中文"],
      ["From", "+4915112345678"],
    ],
  ],
  [
    "empty values",
    [
      ["Body", ""],
      ["MediaUrl0", ""],
      ["NumMedia", "0"],
    ],
  ],
  [
    "names that sort by code unit (case-sensitive)",
    [
      ["b", "1"],
      ["B", "2"],
      ["a", "3"],
      ["A", "4"],
      ["_", "5"],
    ],
  ],
  [
    "a repeated name, values sorted",
    [
      ["MediaUrl", "https://b.example/2"],
      ["MediaUrl", "https://a.example/1"],
      ["To", "+1"],
    ],
  ],
  [
    "a repeated identical pair (counted once, as the library does)",
    [
      ["Tag", "x"],
      ["Tag", "x"],
      ["Tag", "a"],
    ],
  ],
];

describe("twilioSignature", () => {
  // Twilio's "validating requests" worked example (token "12345"); the docs changed the phone
  // numbers once, and both versions are published with their signatures.
  it.each([
    ["+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="],
    ["+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="],
  ])("matches Twilio's documented example (caller %s)", async (caller, signature) => {
    const params: FormParams = [
      ["CallSid", "CA1234567890ABCDE"],
      ["Caller", caller],
      ["Digits", "1234"],
      ["From", caller],
      ["To", "+18005551212"],
    ];
    expect(await twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)).toBe(signature);
  });

  for (const url of URLS) {
    it.each(PARAM_SETS)(`${url} with %s: same as the twilio package, and verifies there`, async (_, params) => {
      const ours = await twilioSignature(AUTH_TOKEN, url, params);
      expect(ours).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, asObject(params)));
      expect(twilio.validateRequest(AUTH_TOKEN, ours, url, asObject(params))).toBe(true);
      expect(await verifyTwilioSignature(AUTH_TOKEN, [url], params, ours)).toBe(true);
    });
  }

  it("parameter order on the wire does not matter", async () => {
    const reversed = [...statusCallback].reverse();
    expect(await twilioSignature(AUTH_TOKEN, URLS[1], reversed)).toBe(await twilioSignature(AUTH_TOKEN, URLS[1], statusCallback));
  });
});

describe("verifyTwilioSignature", () => {
  const url = URLS[1];

  it("accepts a signature made for any candidate URL", async () => {
    const withPort = "https://lasthop.test:443/v1/webhooks/twilio";
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, withPort, asObject(statusCallback));
    expect(await verifyTwilioSignature(AUTH_TOKEN, [url], statusCallback, signature)).toBe(false);
    expect(await verifyTwilioSignature(AUTH_TOKEN, [url, withPort], statusCallback, signature)).toBe(true);
  });

  const forged: Array<[string, string[], FormParams, string]> = [
    ["a modified value", [url], statusCallback.map(([n, v]) => [n, n === "MessageStatus" ? "failed" : v] as const), AUTH_TOKEN],
    ["an added parameter", [url], [...statusCallback, ["ErrorCode", "30003"]], AUTH_TOKEN],
    ["a dropped parameter", [url], statusCallback.slice(1), AUTH_TOKEN],
    ["a renamed parameter", [url], statusCallback.map(([n, v]) => [n === "To" ? "to" : n, v] as const), AUTH_TOKEN],
    [
      "a value moved between names",
      [url],
      statusCallback.map(([n, v]) => [n, n === "From" ? "+15558675310" : n === "To" ? "+15017122661" : v] as const),
      AUTH_TOKEN,
    ],
    ["another path", ["https://lasthop.test/v1/webhooks/twilio2"], statusCallback, AUTH_TOKEN],
    ["another host", ["https://evil.test/v1/webhooks/twilio"], statusCallback, AUTH_TOKEN],
    ["an added query string", [`${url}?x=1`], statusCallback, AUTH_TOKEN],
    ["http instead of https", ["http://lasthop.test/v1/webhooks/twilio"], statusCallback, AUTH_TOKEN],
    ["another auth token", [url], statusCallback, "00000000000000000000000000000000"],
    ["no candidate URL", [], statusCallback, AUTH_TOKEN],
  ];
  it.each(forged)("rejects %s", async (_, urls, params, token) => {
    const signature = await twilioSignature(AUTH_TOKEN, url, statusCallback);
    expect(await verifyTwilioSignature(token, urls, params, signature)).toBe(false);
  });

  it.each([
    ["not base64", "not base64!!"],
    ["empty", ""],
    ["truncated", "GvWf1cFY/Q7PnoempGyD5oXA"],
    ["a hex digest", "1af5bfd5c158fd0ecf9e89e9a46c83e685c07b37"],
  ])("rejects a signature that is %s", async (_, signature) => {
    expect(await verifyTwilioSignature(AUTH_TOKEN, [url], statusCallback, signature)).toBe(false);
  });

  it("rejects one flipped bit", async () => {
    const good = Buffer.from(await twilioSignature(AUTH_TOKEN, url, statusCallback), "base64");
    good[19] ^= 1;
    expect(await verifyTwilioSignature(AUTH_TOKEN, [url], statusCallback, good.toString("base64"))).toBe(false);
  });
});

describe("twilioStatusVerdict", () => {
  it.each<[string, string | number | null | undefined, ReturnType<typeof twilioStatusVerdict>]>([
    ["queued", undefined, { type: "accepted", reason: "queued" }],
    ["accepted", undefined, { type: "accepted", reason: "accepted" }],
    ["scheduled", undefined, { type: "accepted", reason: "scheduled" }],
    ["sending", null, { type: "accepted", reason: "sending" }],
    ["sent", "", { type: "accepted", reason: "sent" }],
    ["delivered", undefined, { type: "delivered", reason: "delivered" }],
    ["read", undefined, { type: "delivered", reason: "read" }],
    ["Delivered", undefined, { type: "delivered", reason: "delivered" }],
    ["undelivered", "30003", { type: "bounced", class: "soft", reason: "unreachable_handset", errorCode: 30003 }],
    ["undelivered", "30004", { type: "bounced", class: "hard", reason: "message_blocked", errorCode: 30004 }],
    ["undelivered", "30005", { type: "bounced", class: "hard", reason: "unknown_destination", errorCode: 30005 }],
    ["undelivered", 30006, { type: "bounced", class: "hard", reason: "landline_or_unreachable_carrier", errorCode: 30006 }],
    ["failed", "21211", { type: "bounced", class: "hard", reason: "invalid_to_number", errorCode: 21211 }],
    ["failed", "21214", { type: "bounced", class: "hard", reason: "to_number_unreachable", errorCode: 21214 }],
    ["failed", "21612", { type: "bounced", class: "hard", reason: "cannot_route", errorCode: 21612 }],
    ["failed", "21614", { type: "bounced", class: "hard", reason: "not_a_mobile_number", errorCode: 21614 }],
    ["failed", "21635", { type: "bounced", class: "hard", reason: "landline", errorCode: 21635 }],
    ["undelivered", "30007", { type: "failed", reason: "carrier_filtered", errorCode: 30007 }],
    ["undelivered", "30008", { type: "failed", reason: "unknown_error", errorCode: 30008 }],
    ["failed", "21610", { type: "failed", reason: "opted_out", errorCode: 21610 }],
    ["undelivered", "30034", { type: "failed", reason: "unregistered_10dlc", errorCode: 30034 }],
    ["failed", "30002", { type: "failed", reason: "account_suspended", errorCode: 30002 }],
    ["undelivered", "39999", { type: "failed", reason: "undelivered", errorCode: 39999 }],
    ["failed", undefined, { type: "failed", reason: "failed" }],
    ["failed", "not-a-number", { type: "failed", reason: "failed" }],
    ["canceled", undefined, { type: "failed", reason: "canceled" }],
    ["receiving", undefined, { type: null, reason: "receiving" }],
    ["partially_delivered", undefined, { type: null, reason: "partially_delivered" }],
  ])("%s with ErrorCode %j", (status, code, verdict) => {
    expect(twilioStatusVerdict(status, code)).toEqual(verdict);
  });
});

describe("twilioSendErrorVerdict", () => {
  const err = (code: number, status: number, message = "x") => ({
    code,
    message,
    more_info: `https://www.twilio.com/docs/errors/${code}`,
    status,
  });

  it.each<[string, number, unknown, ReturnType<typeof twilioSendErrorVerdict>]>([
    ["429 too many requests", 429, err(20429, 429), { kind: "retry", reason: "rate_limited", errorCode: 20429, submitted: "no" }],
    [
      "20429 in a body with another status",
      400,
      err(20429, 400),
      { kind: "retry", reason: "rate_limited", errorCode: 20429, submitted: "no" },
    ],
    ["429 without a body", 429, null, { kind: "retry", reason: "rate_limited", submitted: "no" }],
    ["502 bad gateway", 502, "<html>Bad Gateway</html>", { kind: "retry", reason: "service_unavailable", submitted: "no" }],
    ["503 unavailable", 503, err(20503, 503), { kind: "retry", reason: "service_unavailable", errorCode: 20503, submitted: "no" }],
    ["500 internal error", 500, err(20500, 500), { kind: "retry", reason: "server_error", errorCode: 20500, submitted: "maybe" }],
    ["504 gateway timeout", 504, undefined, { kind: "retry", reason: "gateway_timeout", submitted: "maybe" }],
    [
      "400 invalid To",
      400,
      err(21211, 400, "The 'To' number +1555 is not a valid phone number."),
      { kind: "bounced", reason: "invalid_to_number", errorCode: 21211, submitted: "no" },
    ],
    ["400 To unreachable", 400, err(21214, 400), { kind: "bounced", reason: "to_number_unreachable", errorCode: 21214, submitted: "no" }],
    ["400 cannot route", 400, err(21612, 400), { kind: "bounced", reason: "cannot_route", errorCode: 21612, submitted: "no" }],
    [
      "400 not a mobile number",
      400,
      err(21614, 400),
      { kind: "bounced", reason: "not_a_mobile_number", errorCode: 21614, submitted: "no" },
    ],
    ["400 code as a string", 400, { code: "21211" }, { kind: "bounced", reason: "invalid_to_number", errorCode: 21211, submitted: "no" }],
    ["400 opted out", 400, err(21610, 400), { kind: "failed", reason: "opted_out", errorCode: 21610, submitted: "no" }],
    ["400 other", 400, err(21602, 400), { kind: "failed", reason: "rejected", errorCode: 21602, submitted: "no" }],
    ["401 authentication", 401, err(20003, 401), { kind: "failed", reason: "authentication_failed", errorCode: 20003, submitted: "no" }],
    ["401 without a body", 401, undefined, { kind: "failed", reason: "unauthorized", submitted: "no" }],
    ["403", 403, {}, { kind: "failed", reason: "forbidden", submitted: "no" }],
    ["404 wrong account sid", 404, err(20404, 404), { kind: "failed", reason: "not_found", errorCode: 20404, submitted: "no" }],
    ["413", 413, null, { kind: "failed", reason: "rejected", submitted: "no" }],
  ])("%s", (_, status, body, verdict) => {
    expect(twilioSendErrorVerdict(status, body)).toEqual(verdict);
  });
});

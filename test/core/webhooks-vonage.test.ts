import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signedString, verify, type VonageAlgorithm } from "../../src/webhooks/vonage.ts";

const SECRET = randomBytes(24).toString("base64url");
const NOW = 1_767_225_600_000;
const TIMESTAMP = String(NOW / 1000);

// Field sets of Vonage's SMS API webhooks (delivery receipt and inbound message), signed.
const DLR = {
  msisdn: "447700900000",
  to: "Vonage",
  "network-code": "23410",
  messageId: "0A0000001234567B",
  price: "0.03330000",
  status: "delivered",
  scts: "2001011400",
  "err-code": "0",
  "api-key": "abcd1234",
  "message-timestamp": "2020-01-01 12:00:00",
  timestamp: TIMESTAMP,
  nonce: "ec11dd3e-1e7f-4db5-9467-82b02cd223b9",
};
const INBOUND = {
  msisdn: "447700900001",
  to: "447700900000",
  messageId: "0A0000000123ABCD1",
  // '&' and '=' are replaced by '_' before signing: they must still verify.
  text: "Hello & welcome: a=b, 100% ünïcödé 😀",
  type: "unicode",
  keyword: "HELLO",
  "api-key": "abcd1234",
  "message-timestamp": "2020-01-01 12:00:00",
  timestamp: TIMESTAMP,
  nonce: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
};

/** Vonage's documented manual algorithm, written out independently of src/. */
function vonageSign(params: Record<string, string>, secret: string, algorithm: VonageAlgorithm): string {
  let query = "";
  for (const key of Object.keys(params).sort()) {
    if (key === "sig") continue;
    query += `&${key}=${params[key]!.replace(/[&=]/g, "_")}`;
  }
  if (algorithm === "md5hash")
    return createHash("md5")
      .update(query + secret)
      .digest("hex");
  return createHmac(algorithm, secret).update(query).digest("hex");
}

const ALGORITHMS: VonageAlgorithm[] = ["md5hash", "md5", "sha1", "sha256", "sha512"];
const PAYLOADS: Array<[string, Record<string, string>]> = [
  ["delivery receipt", DLR],
  ["inbound message", INBOUND],
];

describe("vonage signedString", () => {
  it("sorts by key, prefixes each with '&', replaces '&' and '=' in values, leaves out sig", () => {
    expect(signedString({ b: "x=y&z", a: "1", sig: "ignored", "a-b": "2" })).toBe("&a=1&a-b=2&b=x_y_z");
    expect(signedString({})).toBe("");
  });
});

describe.each(ALGORITHMS)("vonage verify, %s", (algorithm) => {
  const signed = (params: Record<string, string>, secret = SECRET): Record<string, string> => ({
    ...params,
    sig: vonageSign(params, secret, algorithm),
  });

  const cases: Array<[string, unknown, number, string | null]> = [
    ...PAYLOADS.map(([name, p]): [string, unknown, number, string | null] => [`valid ${name}`, signed(p), NOW, null]),
    ...PAYLOADS.map(([name, p]): [string, unknown, number, string | null] => [
      `valid ${name}, upper-case sig`,
      { ...p, sig: vonageSign(p, SECRET, algorithm).toUpperCase() },
      NOW,
      null,
    ]),
    ["4 minutes later", signed(DLR), NOW + 240_000, null],
    ["tampered status", { ...signed(DLR), status: "failed" }, NOW, "bad_signature"],
    ["tampered text", { ...signed(INBOUND), text: "Hello" }, NOW, "bad_signature"],
    ["added parameter", { ...signed(DLR), extra: "1" }, NOW, "bad_signature"],
    ["removed parameter", (({ price: _price, ...rest }) => rest)(signed(DLR)), NOW, "bad_signature"],
    ["wrong secret", signed(DLR, `${SECRET}x`), NOW, "bad_signature"],
    ["truncated sig", { ...DLR, sig: vonageSign(DLR, SECRET, algorithm).slice(0, -2) }, NOW, "bad_signature"],
    ["stale: 6 minutes old", signed(DLR), NOW + 360_000, "stale_timestamp"],
    ["future: 6 minutes ahead", signed(DLR), NOW - 360_000, "stale_timestamp"],
    ["no sig", DLR, NOW, "missing_signature"],
    ["empty sig", { ...DLR, sig: "" }, NOW, "missing_signature"],
    ["no timestamp", signed((({ timestamp: _t, ...rest }) => rest)(DLR)), NOW, "missing_timestamp"],
    ["timestamp not a number", signed({ ...DLR, timestamp: "2020-01-01 12:00:00" }), NOW, "malformed_timestamp"],
    ["a non-string value", { ...signed(DLR), price: 0.0333 }, NOW, "malformed_params"],
    ["not an object", "sig=abc", NOW, "malformed_params"],
  ];

  it.each(cases)("%s", async (_name, params, now, reason) => {
    expect(await verify(params, SECRET, algorithm, now)).toEqual(reason === null ? { ok: true } : { ok: false, reason });
  });
});

describe("vonage verify, algorithm mismatch", () => {
  it("refuses a signature made with another algorithm", async () => {
    const params = { ...DLR, sig: vonageSign(DLR, SECRET, "sha256") };
    expect(await verify(params, SECRET, "sha512", NOW)).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verify(params, SECRET, "md5hash", NOW)).toEqual({ ok: false, reason: "bad_signature" });
  });
});

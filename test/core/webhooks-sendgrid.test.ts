import { generateKeyPairSync, type KeyObject, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { EventWebhook } from "@sendgrid/eventwebhook";
import { describe, expect, it } from "vitest";
import { derToRaw, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify } from "../../src/webhooks/sendgrid.ts";

// Keys are made at run time; SendGrid shows its verification key as bare base64 DER SPKI.
const spki = (key: KeyObject) => key.export({ type: "spki", format: "der" }).toString("base64");
const p256 = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const signer = p256();
const other = p256();
const PUBLIC_KEY = spki(signer.publicKey);
const OTHER_KEY = spki(other.publicKey);

/** SendGrid's signing: ECDSA P-256 / SHA-256 over `timestamp + body`, DER, base64. */
const sgSign = (timestamp: string, body: string, key = signer.privateKey) =>
  nodeSign("sha256", Buffer.from(timestamp + body, "utf8"), key).toString("base64");

const NOW = Date.now();
const TS = String(Math.floor(NOW / 1000));
const BODY = JSON.stringify([{ email: "a@example.com", event: "delivered", sg_event_id: "e1", timestamp: Number(TS) }]);
const UNICODE_BODY = JSON.stringify([{ email: "ü@exämple.com", event: "bounce", reason: "550 ✗ mailbox" }]);

const headers = (signature: string | null, timestamp: string | null) => {
  const h = new Headers();
  if (signature !== null) h.set(SIGNATURE_HEADER, signature);
  if (timestamp !== null) h.set(TIMESTAMP_HEADER, timestamp);
  return h;
};

/** The DER INTEGER lengths of r and s. */
const intLengths = (signature: string): [number, number] => {
  const der = Buffer.from(signature, "base64");
  const rLength = der[3] ?? 0;
  return [rLength, der[4 + rLength + 1] ?? 0];
};

/** Signs until `wanted` holds of the DER integer lengths; bounded, so a miss fails rather than hangs. */
function signUntil(wanted: (lengths: [number, number]) => boolean, body: string, tries: number): string {
  for (let i = 0; i < tries; i++) {
    const signature = sgSign(TS, body);
    if (wanted(intLengths(signature))) return signature;
  }
  throw new Error(`no such signature in ${tries} tries`);
}

// About half of all signatures have a 33-byte r or s; about 1 in 128 a shorter-than-32 one.
const LEADING_ZERO = signUntil(([r, s]) => r === 33 || s === 33, BODY, 200);
const SHORT = signUntil(([r, s]) => r < 32 || s < 32, BODY, 20_000);

describe("SendGrid signed event webhook: agrees with @sendgrid/eventwebhook", () => {
  const eventWebhook = new EventWebhook();
  it.each([
    { name: "valid", key: PUBLIC_KEY, body: BODY, signature: sgSign(TS, BODY), timestamp: TS, valid: true },
    { name: "valid, UTF-8 body", key: PUBLIC_KEY, body: UNICODE_BODY, signature: sgSign(TS, UNICODE_BODY), timestamp: TS, valid: true },
    { name: "valid, empty body", key: PUBLIC_KEY, body: "", signature: sgSign(TS, ""), timestamp: TS, valid: true },
    { name: "r or s with a leading 0x00", key: PUBLIC_KEY, body: BODY, signature: LEADING_ZERO, timestamp: TS, valid: true },
    { name: "r or s shorter than 32 bytes", key: PUBLIC_KEY, body: BODY, signature: SHORT, timestamp: TS, valid: true },
    { name: "tampered body", key: PUBLIC_KEY, body: `${BODY} `, signature: sgSign(TS, BODY), timestamp: TS, valid: false },
    { name: "wrong key", key: OTHER_KEY, body: BODY, signature: sgSign(TS, BODY), timestamp: TS, valid: false },
    {
      name: "signed by the other key",
      key: PUBLIC_KEY,
      body: BODY,
      signature: sgSign(TS, BODY, other.privateKey),
      timestamp: TS,
      valid: false,
    },
    // Within the tolerance, but not the timestamp that was signed.
    { name: "wrong timestamp", key: PUBLIC_KEY, body: BODY, signature: sgSign(TS, BODY), timestamp: String(Number(TS) - 1), valid: false },
  ])("$name", async ({ key, body, signature, timestamp, valid }) => {
    const theirs = eventWebhook.verifySignature(eventWebhook.convertPublicKeyToECDSA(key), body, signature, timestamp);
    const ours = await verify({ headers: headers(signature, timestamp), rawBody: body, publicKey: key, now: NOW });
    expect(theirs).toBe(valid);
    expect(ours).toEqual(valid ? { ok: true } : { ok: false, reason: "bad_signature" });
  });

  it("found signatures of both unusual shapes", () => {
    expect(intLengths(LEADING_ZERO).some((n) => n === 33)).toBe(true);
    expect(intLengths(SHORT).some((n) => n < 32)).toBe(true);
  });
});

describe("SendGrid signed event webhook: refusals", () => {
  const signature = sgSign(TS, BODY);
  const seconds = (offset: number) => String(Number(TS) + offset);
  it.each([
    { name: "timestamp 301 s old", h: headers(sgSign(seconds(-301), BODY), seconds(-301)), key: PUBLIC_KEY, reason: "stale_timestamp" },
    { name: "timestamp 301 s ahead", h: headers(sgSign(seconds(301), BODY), seconds(301)), key: PUBLIC_KEY, reason: "stale_timestamp" },
    {
      name: "timestamp in milliseconds",
      h: headers(sgSign(String(NOW), BODY), String(NOW)),
      key: PUBLIC_KEY,
      reason: "malformed_timestamp",
    },
    { name: "no signature header", h: headers(null, TS), key: PUBLIC_KEY, reason: "missing_signature" },
    { name: "empty signature header", h: headers("", TS), key: PUBLIC_KEY, reason: "missing_signature" },
    { name: "no timestamp header", h: headers(signature, null), key: PUBLIC_KEY, reason: "missing_timestamp" },
    { name: "timestamp not a number", h: headers(signature, "yesterday"), key: PUBLIC_KEY, reason: "malformed_timestamp" },
    { name: "fractional timestamp", h: headers(signature, `${TS}.5`), key: PUBLIC_KEY, reason: "malformed_timestamp" },
    { name: "negative timestamp", h: headers(signature, `-${TS}`), key: PUBLIC_KEY, reason: "malformed_timestamp" },
    { name: "signature not base64", h: headers("!!not base64!!", TS), key: PUBLIC_KEY, reason: "malformed_signature" },
    {
      name: "signature base64 but not DER",
      h: headers(Buffer.from("garbage garbage garbage").toString("base64"), TS),
      key: PUBLIC_KEY,
      reason: "malformed_signature",
    },
    {
      name: "signature raw r||s instead of DER",
      h: headers(nodeSign("sha256", Buffer.from(TS + BODY), { key: signer.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64"), TS),
      key: PUBLIC_KEY,
      reason: "malformed_signature",
    },
    {
      name: "signature DER with trailing bytes",
      h: headers(Buffer.concat([Buffer.from(signature, "base64"), Buffer.from([0])]).toString("base64"), TS),
      key: PUBLIC_KEY,
      reason: "malformed_signature",
    },
    { name: "key not base64", h: headers(signature, TS), key: "!!not a key!!", reason: "bad_key" },
    {
      name: "key base64 but not SPKI",
      h: headers(signature, TS),
      key: Buffer.from("not a key at all").toString("base64"),
      reason: "bad_key",
    },
    { name: "key empty", h: headers(signature, TS), key: "", reason: "bad_key" },
    {
      name: "key on P-384",
      h: headers(signature, TS),
      key: spki(generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey),
      reason: "bad_key",
    },
    {
      name: "key RSA",
      h: headers(signature, TS),
      key: spki(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey),
      reason: "bad_key",
    },
  ])("$name → $reason", async ({ h, key, reason }) => {
    expect(await verify({ headers: h, rawBody: BODY, publicKey: key, now: NOW })).toEqual({ ok: false, reason });
  });

  it.each([-300, 300])("a timestamp %i s off is still inside the tolerance", async (offset) => {
    const ts = String(Number(TS) + offset);
    expect(await verify({ headers: headers(sgSign(ts, BODY), ts), rawBody: BODY, publicKey: PUBLIC_KEY, now: Number(TS) * 1000 })).toEqual({
      ok: true,
    });
  });

  it("takes the key with PEM armour too", async () => {
    const pem = signer.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(await verify({ headers: headers(signature, TS), rawBody: BODY, publicKey: pem, now: NOW })).toEqual({ ok: true });
  });

  it("reads the headers case-insensitively, as HTTP does", async () => {
    const h = new Headers({ [SIGNATURE_HEADER.toLowerCase()]: signature, [TIMESTAMP_HEADER.toLowerCase()]: TS });
    expect(await verify({ headers: h, rawBody: BODY, publicKey: PUBLIC_KEY, now: NOW })).toEqual({ ok: true });
  });
});

describe("derToRaw", () => {
  // Node verifies the r||s form itself (ieee-p1363), so the conversion is checked independently of WebCrypto.
  it.each([
    ["an ordinary signature", () => sgSign(TS, BODY)],
    ["r or s with a leading 0x00", () => LEADING_ZERO],
    ["r or s shorter than 32 bytes", () => SHORT],
  ])("%s converts to the r||s node:crypto accepts", (_name, make) => {
    const raw = derToRaw(Buffer.from(make(), "base64"));
    expect(raw).not.toBeNull();
    expect(raw?.length).toBe(64);
    const data = Buffer.from(TS + BODY);
    expect(nodeVerify("sha256", data, { key: signer.publicKey, dsaEncoding: "ieee-p1363" }, raw as Uint8Array)).toBe(true);
  });

  const int = (bytes: number[]) => [0x02, bytes.length, ...bytes];
  const seq = (...parts: number[][]) => {
    const body = parts.flat();
    return new Uint8Array([0x30, body.length, ...body]);
  };
  const r32 = Array.from({ length: 32 }, (_, i) => i + 1);
  it.each([
    ["a negative integer", seq(int([0x80, ...r32.slice(1)]), int(r32))],
    ["an integer of 34 bytes", seq(int([0, 0, ...r32]), int(r32))],
    ["a 33-byte integer whose first byte is not 0", seq(int([1, ...r32]), int(r32))],
    ["an empty integer", seq(int([]), int(r32))],
    ["an INTEGER tag with no length", seq(int(r32), [0x02])],
    ["one integer only", seq(int(r32))],
    [
      "a wrong outer length",
      (() => {
        const d = seq(int(r32), int(r32));
        d[1] = 67;
        return d;
      })(),
    ],
    [
      "not a SEQUENCE",
      (() => {
        const d = seq(int(r32), int(r32));
        d[0] = 0x31;
        return d;
      })(),
    ],
    ["an integer running past the end", seq(int(r32), [0x02, 40, ...r32])],
  ])("refuses %s", (_name, der) => {
    expect(derToRaw(der)).toBeNull();
  });

  it("pads a one-byte integer to 32 bytes", () => {
    const raw = derToRaw(seq(int([7]), int(r32)));
    expect(Array.from(raw ?? [])).toEqual([...new Array(31).fill(0), 7, ...r32]);
  });
});

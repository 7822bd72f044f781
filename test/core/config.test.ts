import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leaseSize, grantLease, retryAfterSeconds, WINDOW_MS } from "../../src/core/config/rate.ts";
import { keyRing, mask, open, seal, sealedWith } from "../../src/core/config/secrets.ts";
import { keepMaskedSecrets, masked, maskedSecretPaths, sections } from "../../src/core/config/sections.ts";
import { keyPrefix, newApiKey, newKeyId } from "../../src/core/config/keys.ts";

const key = () => randomBytes(32).toString("base64");

describe("sealing secrets (AES-256-GCM, key ring)", () => {
  it("opens what it sealed, in the same account and section only", async () => {
    const ring = await keyRing(`k1:${key()}`);
    const sealed = await seal(ring, "acct_a/sms", "top secret");
    expect(sealed).toMatch(/^v1\.k1\./);
    expect(sealed).not.toContain("top secret");
    expect(await open(ring, "acct_a/sms", sealed)).toBe("top secret");
    await expect(open(ring, "acct_b/sms", sealed)).rejects.toThrow();
    await expect(open(ring, "acct_a/email", sealed)).rejects.toThrow();
  });

  it("the same plaintext seals differently every time (a fresh IV)", async () => {
    const ring = await keyRing(`k1:${key()}`);
    expect(await seal(ring, "a/s", "x")).not.toBe(await seal(ring, "a/s", "x"));
  });

  it("rotates: a new current key seals, the old one still opens what it sealed; without it nothing opens", async () => {
    const [old, next] = [key(), key()];
    const before = await keyRing(`old:${old}`);
    const sealed = await seal(before, "a/s", "kept");
    const rotated = await keyRing(`new:${next},old:${old}`);
    expect(await open(rotated, "a/s", sealed)).toBe("kept");
    expect(sealedWith(sealed)).toBe("old");
    expect(sealedWith(await seal(rotated, "a/s", "kept"))).toBe("new");
    await expect(open(await keyRing(`new:${next}`), "a/s", sealed)).rejects.toThrow();
  });

  it("a tampered value does not open", async () => {
    const ring = await keyRing(`k1:${key()}`);
    const sealed = await seal(ring, "a/s", "value");
    const last = sealed.at(-2) === "A" ? "B" : "A";
    await expect(open(ring, "a/s", `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`)).rejects.toThrow();
  });

  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["no key", "k1:"],
    ["a short key", `k1:${randomBytes(16).toString("base64")}`],
    ["a bad key id", `k 1:${key()}`],
    ["an extra colon", `k1:${key()}:x`],
  ])("refuses a ring that is %s", async (_, text) => {
    await expect(keyRing(text)).rejects.toThrow(/CONFIG_KEYS/);
  });

  it.each([
    ["sk_live_0123456789abcdef", "…cdef"],
    ["short", "…"],
    ["", "…"],
  ])("masks %j as %j", (secret, shown) => {
    expect(mask(secret)).toBe(shown);
  });
});

describe("sections: secrets masked on the way out, kept when sent back masked", () => {
  const sms = {
    routes: [
      {
        name: "rest",
        type: "rest",
        baseUrl: "https://api.twilio.example",
        accountSid: `AC${"a".repeat(32)}`,
        authToken: "tok-0123456789abcdef",
      },
      { name: "smpp", type: "smpp" },
    ],
    senders: ["+15550000001"],
  };

  it("masks every secret path, arrays included, and nothing else", () => {
    const shown = masked("sms", sms);
    expect(shown.routes[0]).toMatchObject({ authToken: "…cdef", accountSid: sms.routes[0]!.accountSid });
    expect(shown.senders).toEqual(sms.senders);
    expect(sms.routes[0]!.authToken).toBe("tok-0123456789abcdef");
  });

  it("a masked value sent back becomes the stored secret again; a new value replaces it", () => {
    const back = keepMaskedSecrets("sms", masked("sms", sms), sms);
    expect(back).toEqual(sms);
    const changed = structuredClone(masked("sms", sms));
    changed.routes[0]!.authToken = "a-brand-new-token-value";
    expect(keepMaskedSecrets("sms", changed, sms).routes[0]!.authToken).toBe("a-brand-new-token-value");
  });

  it("a mask that matches no stored secret stays a mask, and is reported by path", () => {
    const forged = structuredClone(sms);
    forged.routes[0]!.authToken = "…zzzz";
    const kept = keepMaskedSecrets("sms", forged, sms);
    expect(maskedSecretPaths("sms", kept)).toEqual(["routes.0.authToken"]);
    expect(maskedSecretPaths("sms", keepMaskedSecrets("sms", forged, undefined))).toEqual(["routes.0.authToken"]);
  });

  it("every section has a schema, and provider sections refuse unknown fields", () => {
    expect(Object.keys(sections).sort()).toEqual(
      [
        "apns",
        "delivery",
        "email",
        "fcm",
        "retention",
        "sms",
        "tracking",
        "webpush",
        ...["mailgun", "postmark", "resend", "sendgrid", "ses", "standard", "vonage"].map((p) => `provider:${p}`),
      ].sort(),
    );
    expect(sections["provider:resend"]!.safeParse({ webhookSecret: "x", extra: 1 }).success).toBe(false);
  });
});

describe("rate leases", () => {
  it.each([
    [1, 1],
    [10, 1],
    [100, 10],
    [105, 11],
    [100_000, 10_000],
  ])("a key of %i/s leases %i at a time", (rate, size) => {
    expect(leaseSize(rate)).toBe(size);
  });

  it("never grants more than the rate in a window; a new window starts whole", () => {
    let window = { start: 0, granted: 0 };
    const now = 5 * WINDOW_MS + 100;
    const granted: number[] = [];
    for (let i = 0; i < 12; i++) {
      const result = grantLease(window, now + i, 100, 10);
      window = result.window;
      granted.push(result.lease.tokens);
      expect(result.lease.until).toBe(6 * WINDOW_MS);
    }
    expect(granted).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 0, 0]);
    const next = grantLease(window, 6 * WINDOW_MS, 100, 10);
    expect(next.lease).toEqual({ tokens: 10, until: 7 * WINDOW_MS });
    // A partial last lease: what is left of the window, not more.
    expect(grantLease({ start: 5 * WINDOW_MS, granted: 95 }, now, 100, 10).lease.tokens).toBe(5);
  });

  it.each([
    [1000, 0, 1],
    [1000, 999, 1],
    [3000, 500, 3],
    [1000, 1500, 1],
  ])("Retry-After until %i at %i is %i s", (until, now, seconds) => {
    expect(retryAfterSeconds(until, now)).toBe(seconds);
  });
});

describe("API keys", () => {
  it("are lh_ and 43 base64url characters, shown by a prefix that cannot be used", () => {
    const k = newApiKey();
    expect(k).toMatch(/^lh_[\w-]{43}$/);
    expect(keyPrefix(k)).toBe(`${k.slice(0, 7)}…`);
    expect(keyPrefix("legacy-key")).toBe("…");
    expect(newKeyId()).toMatch(/^key_[0-9a-f]{16}$/);
    expect(newApiKey()).not.toBe(k);
  });
});

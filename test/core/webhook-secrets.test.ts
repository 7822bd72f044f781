import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/core/bytes.ts";
import { deliveryHeaders } from "../../src/core/webhook-delivery.ts";
import {
  MAX_OLD_SECRETS,
  ROTATION_OVERLAP_MS,
  SECRET_BYTES,
  newEndpointSecret,
  rotateSecrets,
  signingSecrets,
  type EndpointSecret,
} from "../../src/core/webhook-secrets.ts";

const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const entry = (secret: string, createdAt: number, expiresAt: number | null): EndpointSecret => ({
  secret,
  createdAt: iso(createdAt),
  expiresAt: expiresAt === null ? null : iso(expiresAt),
});

describe("newEndpointSecret", () => {
  it("is whsec_ + base64 of 32 random bytes, different each time", () => {
    const secrets = Array.from({ length: 50 }, newEndpointSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(fromBase64(secret.slice("whsec_".length))).toHaveLength(SECRET_BYTES);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it("is a secret the standardwebhooks package accepts", async () => {
    const secret = newEndpointSecret();
    const body = '{"ok":true}';
    expect(new Webhook(secret).verify(body, await deliveryHeaders([secret], "evt_1", body, Date.now()))).toEqual({ ok: true });
  });
});

describe("rotateSecrets", () => {
  it.each<[string, EndpointSecret[], string, number, EndpointSecret[]]>([
    ["no secret yet: the fresh one alone", [], "new", T0, [entry("new", T0, null)]],
    [
      "first rotation: the current one overlaps a day",
      [entry("a", T0 - HOUR, null)],
      "new",
      T0,
      [entry("new", T0, null), entry("a", T0 - HOUR, T0 + ROTATION_OVERLAP_MS)],
    ],
    [
      "an expired old one is dropped",
      [entry("b", T0 - 48 * HOUR, null), entry("a", T0 - 72 * HOUR, T0 - 1)],
      "new",
      T0,
      [entry("new", T0, null), entry("b", T0 - 48 * HOUR, T0 + ROTATION_OVERLAP_MS)],
    ],
    [
      "an old one expiring exactly now is dropped",
      [entry("b", T0 - HOUR, null), entry("a", T0 - 48 * HOUR, T0)],
      "new",
      T0,
      [entry("new", T0, null), entry("b", T0 - HOUR, T0 + ROTATION_OVERLAP_MS)],
    ],
    [
      "an old one still overlapping is kept, the newest first",
      [entry("b", T0 - HOUR, null), entry("a", T0 - 48 * HOUR, T0 + HOUR)],
      "new",
      T0,
      [entry("new", T0, null), entry("b", T0 - HOUR, T0 + ROTATION_OVERLAP_MS), entry("a", T0 - 48 * HOUR, T0 + HOUR)],
    ],
    [
      "an old one with an unreadable expiry is dropped",
      [entry("b", T0 - HOUR, null), { secret: "a", createdAt: iso(T0 - 2 * HOUR), expiresAt: "soon" }],
      "new",
      T0,
      [entry("new", T0, null), entry("b", T0 - HOUR, T0 + ROTATION_OVERLAP_MS)],
    ],
    [
      "rotating to a secret already held does not list it twice",
      [entry("b", T0 - HOUR, null), entry("a", T0 - 2 * HOUR, T0 + HOUR)],
      "a",
      T0,
      [entry("a", T0, null), entry("b", T0 - HOUR, T0 + ROTATION_OVERLAP_MS)],
    ],
  ])("%s", (_label, secrets, fresh, now, expected) => {
    expect(rotateSecrets(secrets, fresh, now)).toEqual(expected);
  });

  it("rotating six times in an hour keeps the current and the five newest old ones", () => {
    let secrets: EndpointSecret[] = [entry("s0", T0, null)];
    for (let i = 1; i <= 6; i++) secrets = rotateSecrets(secrets, `s${i}`, T0 + i * 60_000);
    expect(secrets.map((s) => s.secret)).toEqual(["s6", "s5", "s4", "s3", "s2", "s1"]);
    expect(secrets.filter((s) => s.expiresAt === null)).toHaveLength(1);
  });

  it("does not change its input", () => {
    const secrets = Object.freeze([Object.freeze(entry("a", T0, null))]);
    rotateSecrets(secrets, "new", T0);
    expect(secrets[0].expiresAt).toBeNull();
  });
});

describe("signingSecrets", () => {
  const rotated = rotateSecrets(rotateSecrets([entry("a", T0 - HOUR, null)], "b", T0), "c", T0 + 12 * HOUR);

  it.each<[string, number, string[]]>([
    ["right after the second rotation: current, then both old", T0 + 12 * HOUR, ["c", "b", "a"]],
    ["a just before its overlap ends", T0 + ROTATION_OVERLAP_MS - 1, ["c", "b", "a"]],
    ["a's overlap ended", T0 + ROTATION_OVERLAP_MS, ["c", "b"]],
    ["b's overlap ended too", T0 + 36 * HOUR, ["c"]],
    ["long after", T0 + 1000 * HOUR, ["c"]],
  ])("%s", (_label, now, expected) => {
    expect(signingSecrets(rotated, now)).toEqual(expected);
  });

  it("puts the current one first whatever the stored order", () => {
    const stored = [entry("old", T0 - HOUR, T0 + HOUR), entry("cur", T0, null)];
    expect(signingSecrets(stored, T0)).toEqual(["cur", "old"]);
  });

  it("an empty list signs with nothing", () => {
    expect(signingSecrets([], T0)).toEqual([]);
  });
});

describe("rotation properties", () => {
  it("after any rotations: at most 1 + MAX_OLD_SECRETS entries, one current, nothing expired signs", () => {
    fc.assert(
      fc.property(
        // Each rotation: how long after the previous one (0 to 3 days), and when after it a delivery is signed.
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 72 * HOUR }), probe: fc.integer({ min: 0, max: 72 * HOUR }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        (steps) => {
          let now = T0;
          let secrets: EndpointSecret[] = [];
          steps.forEach(({ gap, probe }, i) => {
            now += gap;
            secrets = rotateSecrets(secrets, `s${i}`, now);
            expect(secrets.length).toBeLessThanOrEqual(1 + MAX_OLD_SECRETS);
            expect(secrets.filter((s) => s.expiresAt === null).map((s) => s.secret)).toEqual([`s${i}`]);
            expect(secrets[0].secret).toBe(`s${i}`);
            for (const at of [now, now + probe]) {
              const signing = signingSecrets(secrets, at);
              expect(signing[0]).toBe(`s${i}`);
              for (const secret of signing) {
                const held = secrets.find((s) => s.secret === secret)!;
                expect(held.expiresAt === null || Date.parse(held.expiresAt) > at).toBe(true);
              }
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

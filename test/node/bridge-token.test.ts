// The APNs provider token: one ES256 JWT reused by every request, refreshed on Apple's schedule
// (never within 20 minutes, before 60), replaced once on ExpiredProviderToken. Unit checks run on
// an injected clock; the integration checks count the distinct tokens the fixture saw.
import { verify as verifySignature } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { ProviderTokens } from "../../bridge/src/apns/token.ts";
import { BRIDGE_APNS_PATH, batchResults } from "../../src/core/bridge.ts";
import { item, KEY_ID, makeApnsKey, signedPost, startApnsFixture, TEAM_ID, testConfig, type ApnsFixture } from "./apns-fixture.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 22, 9, 0, 0);
const key = makeApnsKey();

function decode(jwt: string) {
  const [h, p, s] = jwt.split(".") as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>,
    valid: verifySignature(
      "sha256",
      Buffer.from(`${h}.${p}`),
      { key: key.publicKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(s, "base64url"),
    ),
  };
}

function clocked(refreshAfterMs?: number) {
  let now = T0;
  const refreshes: string[] = [];
  const tokens = new ProviderTokens({
    key: key.pem,
    keyId: KEY_ID,
    teamId: TEAM_ID,
    ...(refreshAfterMs !== undefined ? { refreshAfterMs } : {}),
    now: () => now,
    onRefresh: (why) => refreshes.push(why),
  });
  return { tokens, refreshes, advance: (ms: number) => (now += ms) };
}

describe("ProviderTokens", () => {
  it("signs ES256 with kid = key id, iss = team id, iat = now (and nothing else)", async () => {
    const { tokens } = clocked();
    const jwt = decode(await tokens.get());
    expect(jwt.valid).toBe(true);
    expect(jwt.header).toEqual({ alg: "ES256", kid: KEY_ID });
    expect(jwt.claims).toEqual({ iss: TEAM_ID, iat: T0 / 1000 });
  });

  it("reuses one token until the refresh age (default 50 minutes), then signs one new token", async () => {
    const { tokens, refreshes, advance } = clocked();
    const first = await tokens.get();
    advance(20 * MINUTE);
    expect(await tokens.get()).toBe(first);
    advance(29 * MINUTE + 59_999);
    expect(await tokens.get()).toBe(first);
    advance(1);
    const second = await tokens.get();
    expect(second).not.toBe(first);
    expect(decode(second).claims.iat).toBe((T0 + 50 * MINUTE) / 1000);
    expect(refreshes).toEqual(["initial", "age"]);
  });

  it("never refreshes within 20 minutes, and never lets a token reach 60 minutes", async () => {
    const { tokens, advance } = clocked(20 * MINUTE);
    const first = await tokens.get();
    advance(20 * MINUTE - 1);
    expect(await tokens.get()).toBe(first);
    advance(1);
    expect(await tokens.get()).not.toBe(first);

    // With the longest refresh age, a token in use is always younger than 50 < 60 minutes.
    const late = clocked(50 * MINUTE);
    const a = await late.tokens.get();
    late.advance(59 * MINUTE);
    expect(await late.tokens.get()).not.toBe(a);
  });

  it("accepts a refresh age only within 20–50 minutes", () => {
    expect(() => clocked(19 * MINUTE)).toThrow(RangeError);
    expect(() => clocked(51 * MINUTE)).toThrow(RangeError);
    expect(() => clocked(35 * MINUTE)).not.toThrow();
  });

  it("concurrent callers share one signing", async () => {
    const { tokens, refreshes } = clocked();
    const all = await Promise.all(Array.from({ length: 50 }, () => tokens.get()));
    expect(new Set(all).size).toBe(1);
    expect(refreshes).toEqual(["initial"]);
  });

  it("invalidate (ExpiredProviderToken): callers who saw the same token share exactly one refresh", async () => {
    const { tokens, refreshes } = clocked();
    const expired = await tokens.get();
    const next = await Promise.all(
      Array.from({ length: 20 }, async () => {
        expect(tokens.invalidate(expired)).toBe(true);
        return tokens.get();
      }),
    );
    expect(new Set(next).size).toBe(1);
    expect(next[0]).not.toBe(expired);
    expect(refreshes).toEqual(["initial", "expired"]);
    // A late caller still holding the old token does not cause another refresh.
    expect(tokens.invalidate(expired)).toBe(true);
    expect(await tokens.get()).toBe(next[0]);
    expect(refreshes).toHaveLength(2);
  });

  it("forced refreshes are limited to one per 20 minutes (no TooManyProviderTokenUpdates)", async () => {
    const { tokens, refreshes, advance } = clocked();
    const a = await tokens.get();
    tokens.invalidate(a);
    const b = await tokens.get();
    advance(5 * MINUTE);
    expect(tokens.invalidate(b)).toBe(false); // APNs calls the new one expired too: refused
    expect(await tokens.get()).toBe(b);
    advance(15 * MINUTE);
    expect(tokens.invalidate(b)).toBe(true);
    expect(await tokens.get()).not.toBe(b);
    expect(refreshes).toEqual(["initial", "expired", "expired"]);
  });
});

describe("provider token against the APNs fixture", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(now?: () => number): Promise<{ fixture: ApnsFixture; bridge: Bridge }> {
    const fixture = await startApnsFixture({ publicKey: key.publicKey });
    cleanups.push(() => fixture.close());
    const bridge = await startBridge(testConfig(fixture, key.pem), now ? { now } : {});
    cleanups.push(() => bridge.close());
    return { fixture, bridge };
  }

  async function batch(bridge: Bridge, n: number, now = Date.now()) {
    const res = await signedPost(
      `${bridge.url}${BRIDGE_APNS_PATH}`,
      { items: Array.from({ length: n }, (_, i) => item(`d${i}`)) },
      undefined,
      now,
    );
    expect(res.status).toBe(200);
    return batchResults.parse(await res.json()).results;
  }

  it("one provider token serves many requests across several batches", async () => {
    const { fixture, bridge } = await setup();
    for (let i = 0; i < 4; i++) expect((await batch(bridge, 25)).every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.received).toHaveLength(100);
    expect(new Set(fixture.received.map((r) => r.jwt)).size).toBe(1);
    expect(await bridge.metrics.tokenRefreshes.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it("refreshes after the refresh age on the bridge's clock, not before", async () => {
    let now = Date.now();
    const { fixture, bridge } = await setup(() => now);
    await batch(bridge, 5, now);
    now += 30 * MINUTE;
    await batch(bridge, 5, now);
    expect(new Set(fixture.received.map((r) => r.jwt)).size).toBe(1);
    now += 21 * MINUTE; // 51 minutes after the first token
    await batch(bridge, 5, now);
    const distinct = [...new Set(fixture.received.map((r) => r.jwt))];
    expect(distinct).toHaveLength(2);
    expect(decode(distinct[1]!).claims.iat).toBe(Math.floor(now / 1000));
  });

  it("ExpiredProviderToken: exactly one refresh, the requests are retried and accepted", async () => {
    const { fixture, bridge } = await setup();
    const current = await bridge.tokens!.get();
    fixture.expiredTokens.add(current); // APNs now calls the bridge's token expired
    const results = await batch(bridge, 20);
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    const tokensSeen = fixture.received.map((r) => r.jwt);
    expect(tokensSeen.filter((t) => t === current)).toHaveLength(20); // each refused once…
    expect(new Set(tokensSeen).size).toBe(2); // …and re-sent with the one new token
    expect(fixture.received).toHaveLength(40);
    expect(await bridge.metrics.tokenRefreshes.get()).toMatchObject({ values: [{ value: 2 }] }); // initial + one
  });
});

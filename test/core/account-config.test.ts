import { describe, expect, it } from "vitest";
import { z } from "zod";
import { accountConfigs } from "../../src/core/account-config.ts";
import { seedAccounts, seededKeyAccount } from "../../src/core/config/seed.ts";
import { accountForAddress, smsClaims, smsSenderAllowed } from "../../src/core/sms/account.ts";
import { restRouteFor } from "../../src/webhooks/twilio.ts";

/** Names Object.prototype answers to: a lookup by any of them must find no account. */
const PROTOTYPE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf"];

const rest = {
  name: "rest",
  type: "rest",
  baseUrl: "https://sms.test",
  accountSid: `AC${"0".repeat(32)}`,
  authToken: "a-token-of-16-chars-or-more",
};
const acmeSms = { routes: [rest, { name: "smpp", type: "smpp" }], senders: ["+15005550006"] };
const SMS_CONFIG = JSON.stringify({ acme: acmeSms });
const relay = { mode: "smarthost", host: "smtp.test", port: 587, secure: false };
const EMAIL_CONFIG = JSON.stringify({ acme: { sendingDomains: ["acme.test"], bounceDomain: "bounces.acme.test", relay } });
const HASH = "a".repeat(64);

describe("seeded accounts looked up by a prototype member's name find nothing", () => {
  it.each(PROTOTYPE_KEYS)("%s", (key) => {
    const seeds = seedAccounts({ SMS_CONFIG, EMAIL_CONFIG, API_KEYS: JSON.stringify({ [HASH]: "acme" }) });
    expect(seeds.get(key)).toBeUndefined();
    const sms = seeds.get("acme")?.sms;
    expect(restRouteFor(sms, { account: "acme", route: key })).toBeNull();
    expect(accountConfigs(SMS_CONFIG, z.unknown()).get(key)).toBeUndefined();
  });

  it("the seeded account is still found, with both sections and its key", () => {
    const settings = { SMS_CONFIG, EMAIL_CONFIG, API_KEYS: JSON.stringify({ [HASH]: "acme" }) };
    const acme = seedAccounts(settings).get("acme");
    expect(acme?.sms?.senders).toEqual(["+15005550006"]);
    expect(acme?.email?.bounceDomain).toBe("bounces.acme.test");
    expect(seededKeyAccount(settings, HASH)).toBe("acme");
    expect(seededKeyAccount(settings, "b".repeat(64))).toBeNull();
    expect(restRouteFor(acme?.sms, { account: "acme", route: "rest" })?.accountSid).toBe(rest.accountSid);
    expect(restRouteFor(acme?.sms, { account: "acme", route: "smpp" })).toBeNull();
  });
});

describe("a seed whose account ids are prototype members' names", () => {
  it.each(PROTOTYPE_KEYS)("%s is an account like any other, and changes no prototype", (key) => {
    const json = `{${JSON.stringify(key)}:{"sendingDomains":["p.test"],"bounceDomain":"b.p.test","relay":${JSON.stringify(relay)}}}`;
    const seeds = seedAccounts({ EMAIL_CONFIG: json, API_KEYS: `{"${HASH}":${JSON.stringify(key)}}` });
    expect([...seeds.keys()]).toEqual([key]);
    expect(seeds.get(key)?.email?.sendingDomains).toEqual(["p.test"]);
    expect(seeds.get("other")).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).sendingDomains).toBeUndefined();
  });
});

describe("a seed that is not a JSON object of valid entries configures nobody", () => {
  it.each<[string, string | undefined]>([
    ["missing", undefined],
    ["empty", ""],
    ["not JSON", "{nope"],
    ["an array", "[1,2]"],
    ["a string", '"acme"'],
    ["null", "null"],
    ["one invalid entry", JSON.stringify({ acme: acmeSms, broken: { routes: [] } })],
  ])("%s", (_, json) => {
    expect(accountConfigs(json, z.object({ routes: z.array(z.unknown()).min(1) })).size).toBe(0);
    expect(seedAccounts({ SMS_CONFIG: json }).get("acme")).toBeUndefined();
  });

  it("API_KEYS entries that are not sha256 hex → account are ignored", () => {
    const seeds = seedAccounts({ API_KEYS: JSON.stringify({ "not-a-hash": "acme", [HASH]: "", ["c".repeat(64)]: 7 }) });
    expect(seeds.size).toBe(0);
  });
});

describe("SMS ownership", () => {
  const config = z.parse(z.object({ routes: z.array(z.any()), senders: z.array(z.string()) }), acmeSms) as never;
  it.each<[string, string, "smpp" | "rest" | undefined, ReturnType<typeof smsSenderAllowed>]>([
    ["its sender", "+15005550006", undefined, "ok"],
    ["its sender written without +", "15005550006", "rest", "ok"],
    ["someone else's", "+15005550007", undefined, "sender"],
  ])("%s", (_, from, route, want) => {
    expect(smsSenderAllowed(config, from, route)).toBe(want);
  });

  it("an account without SMS settings has no sender", () => {
    expect(smsSenderAllowed(undefined, "+15005550006")).toBe("no_config");
  });

  it("claims its senders (normalised) and the bridge routes of its SMPP routes", () => {
    expect(smsClaims(config)).toEqual([
      { kind: "sms_sender", value: "15005550006" },
      { kind: "sms_bridge_route", value: "smpp" },
    ]);
    expect(smsClaims(undefined)).toEqual([]);
  });

  it.each<[string, string[], string[] | null, string | null]>([
    ["one owner of the sender", ["acme"], null, "acme"],
    ["no owner, one user of the route", [], ["acme"], "acme"],
    ["no owner, two users of the route", [], ["acme", "beta"], null],
    ["two owners, one of them on the route", ["acme", "beta"], ["beta", "gamma"], "beta"],
    ["two owners, route unknown", ["acme", "beta"], null, null],
    ["nobody", [], [], null],
  ])("whose MO: %s", (_, owners, users, want) => {
    expect(accountForAddress(owners, users)).toBe(want);
  });
});

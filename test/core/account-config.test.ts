import { describe, expect, it } from "vitest";
import { z } from "zod";
import { accountConfigs } from "../../src/core/account-config.ts";
import { accountEmailConfig, accountsForBounceDomain } from "../../src/core/email.ts";
import { accountForAddress, accountSmsConfig } from "../../src/core/sms/account.ts";
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
const SMS_CONFIG = JSON.stringify({ acme: { routes: [rest, { name: "smpp", type: "smpp" }], senders: ["+15005550006"] } });
const relay = { mode: "smarthost", host: "smtp.test", port: 587, secure: false };
const EMAIL_CONFIG = JSON.stringify({ acme: { sendingDomains: ["acme.test"], bounceDomain: "bounces.acme.test", relay } });

describe("per-account lookups by a prototype member's name find nothing", () => {
  it.each(PROTOTYPE_KEYS)("%s", (key) => {
    expect(accountSmsConfig(SMS_CONFIG, key)).toBeNull();
    expect(accountEmailConfig(EMAIL_CONFIG, key)).toBeNull();
    expect(restRouteFor({ SMS_CONFIG }, { account: key, route: "rest" })).toBeNull();
    expect(restRouteFor({ SMS_CONFIG }, { account: "acme", route: key })).toBeNull();
    expect(accountConfigs(SMS_CONFIG, z.unknown()).get(key)).toBeUndefined();
  });

  it("the configured account is still found", () => {
    expect(accountSmsConfig(SMS_CONFIG, "acme")?.senders).toEqual(["+15005550006"]);
    expect(accountEmailConfig(EMAIL_CONFIG, "acme")?.bounceDomain).toBe("bounces.acme.test");
    expect(restRouteFor({ SMS_CONFIG }, { account: "acme", route: "rest" })?.accountSid).toBe(rest.accountSid);
    expect(restRouteFor({ SMS_CONFIG }, { account: "acme", route: "smpp" })).toBeNull();
  });
});

describe("a secret whose account ids are prototype members' names", () => {
  it.each(PROTOTYPE_KEYS)("%s is an account like any other, and changes no prototype", (key) => {
    const json = `{${JSON.stringify(key)}:{"sendingDomains":["p.test"],"bounceDomain":"b.p.test","relay":${JSON.stringify(relay)}}}`;
    const configs = accountConfigs(
      json,
      z.strictObject({ sendingDomains: z.array(z.string()), bounceDomain: z.string(), relay: z.unknown() }),
    );
    expect([...configs.keys()]).toEqual([key]);
    expect(accountEmailConfig(json, key)?.sendingDomains).toEqual(["p.test"]);
    expect(accountsForBounceDomain(json, "b.p.test")).toEqual([key]);
    expect(accountEmailConfig(json, "other")).toBeNull();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).sendingDomains).toBeUndefined();
  });

  it("an SMS sender owned by a `__proto__` account is found by address", () => {
    const json = JSON.stringify({ ["__proto__"]: JSON.parse(SMS_CONFIG).acme });
    expect(json).toContain('"__proto__"');
    expect(accountForAddress(json, "15005550006")).toBe("__proto__");
  });
});

describe("a secret that is not a JSON object of valid entries configures nobody", () => {
  it.each<[string, string | undefined]>([
    ["missing", undefined],
    ["empty", ""],
    ["not JSON", "{nope"],
    ["an array", "[1,2]"],
    ["a string", '"acme"'],
    ["null", "null"],
    ["one invalid entry", JSON.stringify({ acme: JSON.parse(SMS_CONFIG).acme, broken: { routes: [] } })],
  ])("%s", (_, json) => {
    expect(accountConfigs(json, z.object({ routes: z.array(z.unknown()).min(1) })).size).toBe(0);
    expect(accountSmsConfig(json, "acme")).toBeNull();
  });
});

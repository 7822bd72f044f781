import { describe, expect, it } from "vitest";
import {
  WEBPUSH_DEFAULT_TTL,
  WEBPUSH_MAX_PLAINTEXT,
  WEBPUSH_MAX_RECORD,
  endpointAllowed,
  parseAllowlist,
  payloadText,
} from "../../src/core/webpush.ts";

/** The production default (wrangler.toml / ARCHITECTURE.md). */
const PRODUCTION = parseAllowlist("fcm.googleapis.com,updates.push.services.mozilla.com,*.notify.windows.com,web.push.apple.com");

describe("endpointAllowed (production allowlist)", () => {
  it.each([
    "https://fcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com/wp/dPzJ8mXq2cs:APA91bGAbc",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABn",
    "https://wns2-db5p.notify.windows.com/w/?token=BQYAAAB%2bYz",
    "https://db5p.notify.windows.com/w/?token=x",
    "https://web.push.apple.com/QGuQyavXutnMfVw2Bk6",
    "https://FCM.GOOGLEAPIS.COM/fcm/send/abc",
    "https://Web.Push.Apple.Com/QGuQ",
  ])("allows %s", (endpoint) => {
    expect(endpointAllowed(endpoint, PRODUCTION)).toBe(true);
  });

  it.each([
    ["bare apex under a *. pattern", "https://notify.windows.com/w/?token=x"],
    ["suffix without the dot", "https://evilnotify.windows.com/w/"],
    ["allowed host as a prefix of another", "https://fcm.googleapis.com.evil.test/"],
    ["sibling of an exact host", "https://push.googleapis.com/fcm/send/abc"],
    ["subdomain of an exact host", "https://x.fcm.googleapis.com/fcm/send/abc"],
    ["cloud metadata address", "https://169.254.169.254/latest/meta-data/"],
    ["metadata address in hex", "https://0xa9fea9fe/"],
    ["localhost", "https://localhost/"],
    ["loopback IPv4", "https://127.0.0.1/"],
    ["loopback IPv6", "https://[::1]/"],
    ["userinfo that looks like the host", "https://fcm.googleapis.com@evil.test/"],
    ["userinfo before an allowed host", "https://user:pass@fcm.googleapis.com/fcm/send/abc"],
    ["plain http to an allowed host", "http://fcm.googleapis.com/fcm/send/abc"],
    ["another scheme", "ftp://fcm.googleapis.com/fcm/send/abc"],
    ["trailing-dot host", "https://fcm.googleapis.com./fcm/send/abc"],
    ["not a URL", "fcm.googleapis.com/fcm/send/abc"],
    ["free text", "hello world"],
    ["empty", ""],
  ])("refuses %s: %s", (_, endpoint) => {
    expect(endpointAllowed(endpoint, PRODUCTION)).toBe(false);
  });

  it("refuses everything with an empty allowlist", () => {
    expect(endpointAllowed("https://fcm.googleapis.com/fcm/send/abc", [])).toBe(false);
  });
});

describe("WEBPUSH_MAX_PLAINTEXT", () => {
  it("is 3993 bytes: a 4096-byte record less the 86-byte header, 16-byte tag and 1-byte delimiter (RFC 8291 §4)", () => {
    const header = 16 /* salt */ + 4 /* rs */ + 1 /* idlen */ + 65 /* keyid: the sender's P-256 public key */;
    expect(header).toBe(86);
    expect(WEBPUSH_MAX_RECORD).toBe(4096);
    expect(WEBPUSH_MAX_PLAINTEXT).toBe(4096 - 86 - 16 - 1);
    expect(WEBPUSH_MAX_PLAINTEXT).toBe(3993);
  });

  it("default TTL is four weeks", () => {
    expect(WEBPUSH_DEFAULT_TTL).toBe(28 * 24 * 60 * 60);
  });
});

describe("parseAllowlist", () => {
  it.each<[string | undefined, string[]]>([
    [undefined, []],
    ["", []],
    [" , ,", []],
    ["fcm.googleapis.com", ["fcm.googleapis.com"]],
    [" FCM.googleapis.com , *.Notify.Windows.COM ", ["fcm.googleapis.com", "*.notify.windows.com"]],
    ["a.test,,b.test,", ["a.test", "b.test"]],
    ["\tweb.push.apple.com\n", ["web.push.apple.com"]],
  ])("%j → %j", (list, expected) => {
    expect(parseAllowlist(list)).toEqual(expected);
  });
});

describe("payloadText", () => {
  it.each<[string | Record<string, unknown>, string]>([
    ["plain text", "plain text"],
    ["", ""],
    [{ title: "Hi", n: 1 }, '{"title":"Hi","n":1}'],
  ])("%j → %j", (payload, expected) => {
    expect(payloadText(payload)).toBe(expected);
  });
});

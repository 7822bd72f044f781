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
    "https://fcm.googleapis.com:443/fcm/send/abc",
    "https://db5p.notify.windows.com:443/w/?token=x",
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
    ["another port on an allowed host", "https://fcm.googleapis.com:8443/fcm/send/abc"],
    ["port 80 on an allowed host", "https://web.push.apple.com:80/QGuQ"],
    ["another port under a *. pattern", "https://db5p.notify.windows.com:8080/w/?token=x"],
    ["port 1 on an allowed host", "https://updates.push.services.mozilla.com:1/wpush/v2/x"],
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

describe("endpointAllowed (entries that name a port)", () => {
  // The dev stack: the sandbox push service on 127.0.0.1:8793, an explicit :443, a wildcard with a port.
  const LIST = parseAllowlist("127.0.0.1:8793,push.test:443,*.push.example:8443,[::1]:8793,padded.test:08793");

  it.each<[string, boolean]>([
    ["https://127.0.0.1:8793/p/abc", true],
    ["https://127.0.0.1/p/abc", false],
    ["https://127.0.0.1:443/p/abc", false],
    ["https://127.0.0.1:8794/p/abc", false],
    ["https://127.0.0.1:18793/p/abc", false],
    ["https://push.test/x", true],
    ["https://push.test:443/x", true],
    ["https://push.test:8793/x", false],
    ["https://eu.push.example:8443/x", true],
    ["https://eu.push.example/x", false],
    ["https://push.example:8443/x", false],
    ["https://[::1]:8793/x", true],
    ["https://[::1]/x", false],
    ["https://padded.test:8793/x", true],
    ["http://127.0.0.1:8793/p/abc", false],
  ])("%s → %s", (endpoint, allowed) => {
    expect(endpointAllowed(endpoint, LIST)).toBe(allowed);
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
    ["127.0.0.1:8793, *.Push.Example:8443", ["127.0.0.1:8793", "*.push.example:8443"]],
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

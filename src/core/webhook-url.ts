/**
 * Which URLs a customer may register as a webhook endpoint. We POST to them from our own
 * network, so an endpoint must not name our side of it: loopback, private ranges, cloud
 * metadata services, intranet names. Judged on the URL as WHATWG parses it (the URL fetch
 * will use), so odd spellings (`http://2130706433/`, `0177.0.0.1`, `[::ffff:127.0.0.1]`)
 * arrive here already normalised. A public name that resolves to a private address is not
 * caught here (no DNS in a pure function); the fetching runtime's own egress rules are that
 * layer.
 */

import type { SendOutcome } from "./outcome.ts";

export type UrlVerdict = { ok: true; url: URL } | { ok: false; code: "url_invalid" | "url_not_https" | "url_not_allowed"; message: string };

export const MAX_URL_LENGTH = 2048;

/** devHosts: `host:port` (or bare `host` = any port) entries allowed over plain http, loopback/private included (the sandbox). */
export function checkEndpointUrl(raw: string, devHosts: readonly string[]): UrlVerdict {
  if (raw.length > MAX_URL_LENGTH) return invalid(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  // WHATWG silently drops tabs and newlines inside a URL; a URL that needs them dropped is refused, not guessed at.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return invalid("the URL contains whitespace or control characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return invalid("not an absolute URL");
  }
  if (url.username || url.password) return invalid("the URL must not carry credentials (user:password@)");
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { ok: false, code: "url_not_https", message: `the scheme must be https, not ${url.protocol.slice(0, -1)}` };
  }
  if (isDevHost(url, devHosts)) return { ok: true, url };
  if (url.protocol !== "https:") return { ok: false, code: "url_not_https", message: "the scheme must be https" };
  const refusal = hostRefusal(url.hostname);
  return refusal ? { ok: false, code: "url_not_allowed", message: refusal } : { ok: true, url };
}

/**
 * A route's base URL (a hosted email provider's, an SMS REST aggregator's, Vonage's) under the
 * same rules: a URL outside them is a misconfigured route, so nothing is sent, the message was
 * surely not taken and the next route may have it. Null when the route may be called.
 */
export function routeUrlRefusal(baseUrl: string, devHosts: readonly string[]): SendOutcome | null {
  const verdict = checkEndpointUrl(baseUrl, devHosts);
  return verdict.ok ? null : { kind: "retry", detail: { reason: "route_misconfigured", submitted: "no", hint: verdict.message } };
}

/** DEV_WEBHOOK_HOSTS-style value: comma-separated, trimmed, lower-cased, empties dropped. */
export function parseDevHosts(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== "");
}

function invalid(message: string): UrlVerdict {
  return { ok: false, code: "url_invalid", message };
}

/** `host` matches any port; `host:port` that port, the scheme's default counted (`host:443` matches `https://host/`). */
function isDevHost(url: URL, devHosts: readonly string[]): boolean {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return devHosts.some((entry) => {
    const e = entry.toLowerCase();
    return e === url.hostname || e === `${url.hostname}:${port}`;
  });
}

/** Why a host is refused, or null when it may be posted to. `hostname` is WHATWG's (lower-case, IPv6 bracketed). */
function hostRefusal(hostname: string): string | null {
  if (hostname.startsWith("[")) return ipv6Refusal(hostname);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) return ipv4Refusal(hostname.split(".").map(Number));
  const name = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname; // "localhost." is localhost
  if (name === "localhost" || name.endsWith(".localhost")) return `${hostname} names the local machine`;
  if (name === "metadata" || name === "metadata.google.internal") return `${hostname} is a cloud metadata service`;
  for (const suffix of INTERNAL_SUFFIXES) {
    if (name.endsWith(suffix)) return `${hostname} is an internal name (${suffix})`;
  }
  if (!name.includes(".")) return `${hostname} is not a public domain name (no dot: an intranet host)`;
  return null;
}

const INTERNAL_SUFFIXES = [".internal", ".local", ".localdomain", ".home.arpa"];

/** [first address, prefix length, what it is]: addresses that reach us, our neighbours or nobody. */
const IPV4_BLOCKS: readonly [number, number, number, number, number, string][] = [
  [0, 0, 0, 0, 8, "a 'this network' address (0.0.0.0/8)"],
  [10, 0, 0, 0, 8, "a private address (10.0.0.0/8)"],
  [100, 64, 0, 0, 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  [127, 0, 0, 0, 8, "a loopback address (127.0.0.0/8)"],
  [169, 254, 169, 254, 32, "the cloud metadata service (169.254.169.254)"],
  [169, 254, 0, 0, 16, "a link-local address (169.254.0.0/16)"],
  [172, 16, 0, 0, 12, "a private address (172.16.0.0/12)"],
  [192, 0, 0, 0, 24, "an IETF protocol assignment (192.0.0.0/24)"],
  [192, 168, 0, 0, 16, "a private address (192.168.0.0/16)"],
  [198, 18, 0, 0, 15, "a benchmarking address (198.18.0.0/15)"],
  [224, 0, 0, 0, 3, "a multicast or reserved address (224.0.0.0 and above)"], // 224/4, 240/4, 255.255.255.255
];

function ipv4Refusal(octets: number[], spelled = octets.join(".")): string | null {
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  for (const [a, b, c, d, bits, what] of IPV4_BLOCKS) {
    const base = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((address & mask) >>> 0 === base) return `${spelled} is ${what}`;
  }
  return null;
}

function ipv6Refusal(bracketed: string): string | null {
  const g = ipv6Groups(bracketed.slice(1, -1));
  if (!g) return `${bracketed} is not an IPv6 address we can judge`;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const embedded = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  // The IPv4 inside a translated address is where the packet goes: judge it as IPv4.
  const viaV4 = (kind: string, v4: number[]) => {
    const why = ipv4Refusal(v4);
    return why ? `${bracketed} is ${kind} of ${why}` : null;
  };
  if (zeros(0, 8)) return `${bracketed} is the unspecified address`;
  if (zeros(0, 7) && g[7] === 1) return `${bracketed} is the loopback address`;
  if (zeros(0, 5) && g[5] === 0xffff) return viaV4("an IPv4-mapped form", embedded(g[6], g[7]));
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return viaV4("an IPv4-translated form", embedded(g[6], g[7])); // ::ffff:0:a.b.c.d (RFC 2765)
  if (zeros(0, 6)) return viaV4("an IPv4-compatible form", embedded(g[6], g[7])); // deprecated ::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return viaV4("a NAT64 form", embedded(g[6], g[7]));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return `${bracketed} is a local-use NAT64 address (64:ff9b:1::/48)`;
  if (g[0] === 0x2002) return viaV4("a 6to4 form", embedded(g[1], g[2]));
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && zeros(2, 7) && g[7] === 0x254) return `${bracketed} is the AWS metadata service`;
  if ((g[0] & 0xfe00) === 0xfc00) return `${bracketed} is a unique local address (fc00::/7)`;
  if ((g[0] & 0xffc0) === 0xfe80) return `${bracketed} is a link-local address (fe80::/10)`;
  if ((g[0] & 0xffc0) === 0xfec0) return `${bracketed} is a site-local address (fec0::/10, deprecated but still routed inside sites)`;
  if ((g[0] & 0xff00) === 0xff00) return `${bracketed} is a multicast address (ff00::/8)`;
  return null;
}

/** The eight 16-bit groups of an IPv6 address as WHATWG serialises it (hex only, one `::` at most), or null. */
function ipv6Groups(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  if (!groups.every((x) => /^[0-9a-f]{1,4}$/.test(x))) return null;
  return groups.map((x) => Number.parseInt(x, 16));
}

import { describe, expect, it } from "vitest";
import { MAX_URL_LENGTH, checkEndpointUrl, parseDevHosts, routeUrlRefusal, type UrlVerdict } from "../../src/core/webhook-url.ts";

type Code = Extract<UrlVerdict, { ok: false }>["code"];

const SANDBOX = ["localhost:8787", "127.0.0.1:9000", "sandbox", "[::1]:7000", "host.docker.internal:443"];

describe("checkEndpointUrl without dev hosts", () => {
  it.each<[string, string]>([
    ["plain https", "https://example.com/hooks"],
    ["with port", "https://example.com:8443/hooks"],
    ["port 443 spelled out", "https://example.com:443/"],
    ["query and fragment", "https://hooks.example.co.uk/in?token=abc#x"],
    ["public IPv4", "https://93.184.216.34/hooks"],
    ["just outside 172.16/12", "https://172.32.0.1/"],
    ["just below 172.16/12", "https://172.15.255.255/"],
    ["just outside 100.64/10", "https://100.128.0.1/"],
    ["just outside 198.18/15", "https://198.20.0.1/"],
    ["192.0.2.1 (documentation, not ours)", "https://192.0.2.1/"],
    ["223.255.255.255 (below 224)", "https://223.255.255.255/"],
    ["169.253.x (below link-local)", "https://169.253.0.1/"],
    ["public IPv6", "https://[2606:4700::1111]/"],
    ["IPv4-mapped public", "https://[::ffff:8.8.8.8]/"],
    ["IPv4-translated public", "https://[::ffff:0:8.8.8.8]/"],
    ["NAT64 of a public IPv4", "https://[64:ff9b::808:808]/"],
    ["6to4 of a public IPv4", "https://[2002:808:808::1]/"],
    ["IDN", "https://bücher.example/"],
    ["trailing dot", "https://example.com./"],
    ["name containing 'local' but not the suffix", "https://localhost.example.com/"],
    ["internal as a label, not the suffix", "https://internal.example.com/"],
  ])("%s: %s is allowed", (_label, raw) => {
    const verdict = checkEndpointUrl(raw, []);
    expect(verdict).toMatchObject({ ok: true });
    if (verdict.ok) expect(verdict.url.href).toBe(new URL(raw).href);
  });

  it.each<[string, string, Code, RegExp]>([
    // url_invalid
    ["relative", "/hooks", "url_invalid", /absolute/],
    ["empty", "", "url_invalid", /absolute/],
    ["no scheme", "example.com/hooks", "url_invalid", /absolute/],
    ["garbage", "https://", "url_invalid", /absolute/],
    ["bad port", "https://example.com:99999/", "url_invalid", /absolute/],
    ["userinfo", "https://user:pass@example.com/", "url_invalid", /credentials/],
    ["user only", "https://user@example.com/", "url_invalid", /credentials/],
    ["password only", "https://:pass@example.com/", "url_invalid", /credentials/],
    ["too long", `https://example.com/${"a".repeat(MAX_URL_LENGTH)}`, "url_invalid", /longer than 2048/],
    ["tab inside the host", "https://exa\tmple.com/", "url_invalid", /whitespace/],
    ["newline", "https://example.com/\n", "url_invalid", /whitespace/],
    ["leading space", " https://example.com/", "url_invalid", /whitespace/],
    // url_not_https
    ["http", "http://example.com/", "url_not_https", /must be https/],
    ["ftp", "ftp://example.com/", "url_not_https", /not ftp/],
    ["javascript", "javascript:alert(1)", "url_not_https", /not javascript/],
    ["file", "file:///etc/passwd", "url_not_https", /not file/],
    ["data", "data:text/plain,hi", "url_not_https", /not data/],
    ["ws", "ws://example.com/", "url_not_https", /not ws/],
    ["http to localhost (scheme judged first)", "http://localhost/", "url_not_https", /must be https/],
    // url_not_allowed: IPv4
    ["0.0.0.0", "https://0.0.0.0/", "url_not_allowed", /this network/],
    ["0.1.2.3", "https://0.1.2.3/", "url_not_allowed", /0\.0\.0\.0\/8/],
    ["10/8", "https://10.1.2.3/", "url_not_allowed", /private.*10\.0\.0\.0\/8/],
    ["100.64/10", "https://100.64.0.1/", "url_not_allowed", /carrier-grade/],
    ["100.127 top of 100.64/10", "https://100.127.255.255/", "url_not_allowed", /carrier-grade/],
    ["127.0.0.1", "https://127.0.0.1/", "url_not_allowed", /loopback/],
    ["127.255.255.254", "https://127.255.255.254:8443/", "url_not_allowed", /loopback/],
    ["metadata 169.254.169.254", "https://169.254.169.254/latest/meta-data/", "url_not_allowed", /metadata/],
    ["link-local", "https://169.254.1.1/", "url_not_allowed", /link-local/],
    ["172.16/12 low", "https://172.16.0.1/", "url_not_allowed", /172\.16\.0\.0\/12/],
    ["172.16/12 high", "https://172.31.255.255/", "url_not_allowed", /172\.16\.0\.0\/12/],
    ["192.0.0/24", "https://192.0.0.8/", "url_not_allowed", /192\.0\.0\.0\/24/],
    ["192.168/16", "https://192.168.1.1/", "url_not_allowed", /192\.168\.0\.0\/16/],
    ["198.18/15", "https://198.19.255.1/", "url_not_allowed", /benchmarking/],
    ["multicast 224", "https://224.0.0.1/", "url_not_allowed", /multicast/],
    ["multicast 239", "https://239.255.255.250/", "url_not_allowed", /multicast/],
    ["reserved 240", "https://240.0.0.1/", "url_not_allowed", /reserved/],
    ["broadcast", "https://255.255.255.255/", "url_not_allowed", /255\.255\.255\.255 is a multicast or reserved/],
    // odd IPv4 spellings, normalised by WHATWG URL before we judge
    ["decimal 127.0.0.1", "https://2130706433/", "url_not_allowed", /127\.0\.0\.1 is a loopback/],
    ["octal 127.0.0.1", "https://0177.0.0.1/", "url_not_allowed", /127\.0\.0\.1 is a loopback/],
    ["hex 127.0.0.1", "https://0x7f000001/", "url_not_allowed", /127\.0\.0\.1 is a loopback/],
    ["hex dotted", "https://0x7f.0.0.1/", "url_not_allowed", /loopback/],
    ["short form 127.1", "https://127.1/", "url_not_allowed", /loopback/],
    ["trailing dot IPv4", "https://127.0.0.1./", "url_not_allowed", /loopback/],
    ["decimal metadata", "https://2852039166/", "url_not_allowed", /metadata/],
    ["octal 10/8", "https://012.0.0.1/", "url_not_allowed", /10\.0\.0\.1 is a private/],
    ["hex 192.168", "https://0xc0a80001/", "url_not_allowed", /192\.168\.0\.1/],
    // url_not_allowed: IPv6
    ["::", "https://[::]/", "url_not_allowed", /unspecified/],
    ["::1", "https://[::1]/", "url_not_allowed", /loopback/],
    ["::1 spelled out", "https://[0:0:0:0:0:0:0:1]:8443/", "url_not_allowed", /loopback/],
    ["fc00::/7 (fc)", "https://[fc00::1]/", "url_not_allowed", /unique local/],
    ["fc00::/7 (fd)", "https://[fdff:1:2::3]/", "url_not_allowed", /unique local/],
    ["fe80::/10", "https://[fe80::1]/", "url_not_allowed", /link-local/],
    ["fe80::/10 top", "https://[febf::1]/", "url_not_allowed", /link-local/],
    ["ff00::/8", "https://[ff02::1]/", "url_not_allowed", /multicast/],
    ["IPv4-mapped loopback", "https://[::ffff:127.0.0.1]/", "url_not_allowed", /IPv4-mapped.*loopback/],
    ["IPv4-mapped loopback, hex form", "https://[::ffff:7f00:1]/", "url_not_allowed", /IPv4-mapped.*loopback/],
    ["IPv4-mapped metadata", "https://[::ffff:169.254.169.254]/", "url_not_allowed", /IPv4-mapped.*metadata/],
    ["IPv4-mapped private, long form", "https://[0:0:0:0:0:ffff:a00:1]/", "url_not_allowed", /IPv4-mapped.*private/],
    ["IPv4-compatible loopback", "https://[::127.0.0.1]/", "url_not_allowed", /IPv4-compatible.*loopback/],
    ["IPv4-translated loopback (::ffff:0:0/96)", "https://[::ffff:0:127.0.0.1]/", "url_not_allowed", /IPv4-translated.*loopback/],
    ["IPv4-translated metadata, hex", "https://[::ffff:0:a9fe:a9fe]/", "url_not_allowed", /IPv4-translated.*metadata/],
    ["site-local fec0::/10", "https://[fec0::1]/", "url_not_allowed", /site-local/],
    ["site-local fec0::/10 top", "https://[feff::1]/", "url_not_allowed", /site-local/],
    ["NAT64 loopback", "https://[64:ff9b::127.0.0.1]/", "url_not_allowed", /NAT64.*loopback/],
    ["NAT64 metadata, hex", "https://[64:ff9b::a9fe:a9fe]/", "url_not_allowed", /NAT64.*metadata/],
    ["local-use NAT64", "https://[64:ff9b:1::8.8.8.8]/", "url_not_allowed", /local-use NAT64/],
    ["6to4 of a private IPv4", "https://[2002:c0a8:101::1]/", "url_not_allowed", /6to4.*192\.168\.1\.1/],
    ["AWS IMDS v6", "https://[fd00:ec2::254]/", "url_not_allowed", /AWS metadata/],
    // url_not_allowed: names
    ["localhost", "https://localhost/", "url_not_allowed", /local machine/],
    ["LOCALHOST", "https://LOCALHOST:8443/", "url_not_allowed", /local machine/],
    ["localhost.", "https://localhost./", "url_not_allowed", /local machine/],
    ["*.localhost", "https://api.localhost/", "url_not_allowed", /local machine/],
    ["metadata", "https://metadata/", "url_not_allowed", /metadata service/],
    ["metadata.google.internal", "https://metadata.google.internal/computeMetadata/v1/", "url_not_allowed", /metadata service/],
    ["*.internal", "https://db.corp.internal/", "url_not_allowed", /\.internal/],
    ["*.local", "https://printer.local/", "url_not_allowed", /\.local\)/],
    ["*.localdomain", "https://box.localdomain/", "url_not_allowed", /\.localdomain/],
    ["*.home.arpa", "https://router.home.arpa/", "url_not_allowed", /\.home\.arpa/],
    ["*.home.arpa upper-case", "https://ROUTER.Home.Arpa/", "url_not_allowed", /\.home\.arpa/],
    ["no dot", "https://intranet/", "url_not_allowed", /no dot/],
    ["no dot with port", "https://jenkins:8443/", "url_not_allowed", /no dot/],
    ["no dot, trailing dot", "https://intranet./", "url_not_allowed", /no dot/],
  ])("%s: %j → %s", (_label, raw, code, message) => {
    const verdict = checkEndpointUrl(raw, []);
    expect(verdict).toMatchObject({ ok: false, code });
    if (!verdict.ok) expect(verdict.message).toMatch(message);
  });
});

describe("checkEndpointUrl with the sandbox's dev hosts", () => {
  it.each<[string, string, true | Code]>([
    ["host:port over http", "http://localhost:8787/hooks", true],
    ["host:port over https", "https://localhost:8787/hooks", true],
    ["same host, another port", "http://localhost:8788/hooks", "url_not_https"],
    ["same host, another port, https", "https://localhost:8788/", "url_not_allowed"],
    ["same host, default port", "http://localhost/", "url_not_https"],
    ["loopback IP with its port", "http://127.0.0.1:9000/", true],
    ["loopback IP spelled in decimal, same port", "http://2130706433:9000/", true],
    ["loopback IP, other port", "http://127.0.0.1:9001/", "url_not_https"],
    ["bare host: any port", "http://sandbox:1234/", true],
    ["bare host: default port", "http://sandbox/", true],
    ["bare host, upper-case in the URL", "http://SANDBOX:5/", true],
    ["IPv6 loopback with its port", "http://[::1]:7000/", true],
    ["IPv6 loopback, other port", "https://[::1]:7001/", "url_not_allowed"],
    ["host:443 matches https's default port", "https://host.docker.internal/", true],
    ["host:443 does not match http's default port", "http://host.docker.internal/", "url_not_https"],
    ["dev hosts do not excuse userinfo", "http://u:p@localhost:8787/", "url_invalid"],
    ["dev hosts do not excuse another scheme", "ftp://localhost:8787/", "url_not_https"],
    ["a public https URL still passes", "https://example.com/", true],
  ])("%s: %s → %s", (_label, raw, expected) => {
    const verdict = checkEndpointUrl(raw, SANDBOX);
    if (expected === true) expect(verdict).toMatchObject({ ok: true });
    else expect(verdict).toMatchObject({ ok: false, code: expected });
  });

  it("entries given in upper case still match", () => {
    expect(checkEndpointUrl("http://localhost:8787/", ["LOCALHOST:8787"])).toMatchObject({ ok: true });
  });
});

describe("parseDevHosts", () => {
  it.each<[string | undefined, string[]]>([
    [undefined, []],
    ["", []],
    [" , ,", []],
    ["localhost:8787", ["localhost:8787"]],
    [" LocalHost:8787 , sandbox,,127.0.0.1:9000 ", ["localhost:8787", "sandbox", "127.0.0.1:9000"]],
    ["[::1]:7000", ["[::1]:7000"]],
  ])("%j → %j", (value, expected) => {
    expect(parseDevHosts(value)).toEqual(expected);
  });
});

describe("routeUrlRefusal: a route's base URL under the same rules", () => {
  it.each<[string, string, readonly string[], boolean]>([
    ["a provider's public API", "https://api.twilio.com", [], true],
    ["Vonage's default", "https://rest.nexmo.com", [], true],
    ["a public API with a path prefix", "https://eu.api.example.com/sms", [], true],
    ["plain http to a public host", "http://api.example.com", [], false],
    ["loopback", "https://127.0.0.1:8443", [], false],
    ["decimal loopback", "https://2130706433", [], false],
    ["metadata", "https://169.254.169.254/latest", [], false],
    ["10/8", "https://10.0.0.7", [], false],
    ["IPv4-mapped private", "https://[::ffff:192.168.0.1]", [], false],
    ["unique local IPv6", "https://[fd12::1]", [], false],
    ["userinfo hiding the host", "https://api.twilio.com@127.0.0.1", [], false],
    ["localhost", "https://localhost", [], false],
    ["the sandbox, named as a dev host", "http://127.0.0.1:9000/sms", ["127.0.0.1:9000"], true],
    ["the sandbox's host, another port", "http://127.0.0.1:9001/sms", ["127.0.0.1:9000"], false],
  ])("%s: %s", (_label, baseUrl, devHosts, allowed) => {
    const refusal = routeUrlRefusal(baseUrl, devHosts);
    if (allowed) expect(refusal).toBeNull();
    else
      expect(refusal).toMatchObject({
        kind: "retry",
        detail: { reason: "route_misconfigured", submitted: "no", hint: expect.any(String) },
      });
  });
});

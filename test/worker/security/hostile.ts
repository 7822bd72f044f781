/**
 * Hostile request parts for the fuzz: bodies (deep nesting, fields over the body limits, control
 * characters and lone surrogates, prototype keys, invalid UTF-8, truncated JSON), content types,
 * path segments, query strings and headers. Each is mixed with valid-shaped values
 * (schema-arbitrary.ts) by fuzz-request.ts.
 */
import fc from "fast-check";

const utf8 = new TextEncoder();

/** A request body: text, or raw bytes (for what is not UTF-8 at all). */
export type RawBody = string | Uint8Array;

/** Strings a parser or a renderer may choke on. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.constantFrom(
    "",
    "\u0000",
    "\u0000\u0001\u001f\u007f",
    "\r\nX-Injected: 1",
    "\ud800",
    "\udfff\ud800",
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "hasOwnProperty",
    "../../etc/passwd",
    "%00",
    "%zz",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    // A template injection probe, as text.
    ["$", "{{7*7}}"].join(""),
    "NaN",
    "-0",
    "1e309",
    "9007199254740993",
    "\u202e\u200b\ufeff",
    "😀".repeat(40),
  ),
  fc.nat({ max: 20_000 }).map((n) => "A".repeat(n)),
);

/** Any JSON value, with hostile strings among its keys and leaves. */
const hostileJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3, stringUnit: "binary" });

/** Nesting `depth` deep: arrays, objects, or both in turn. */
export function nested(depth: number, kind: "array" | "object" | "mixed"): string {
  const open = kind === "array" ? "[" : kind === "object" ? '{"a":' : '[{"a":';
  const close = kind === "array" ? "]" : kind === "object" ? "}" : "}]";
  const reps = kind === "mixed" ? Math.ceil(depth / 2) : depth;
  return `${open.repeat(reps)}1${close.repeat(reps)}`;
}

/** A JSON object text whose own key is literally `__proto__` (JSON.stringify cannot write one). */
function withKey(valid: unknown, key: string, value: unknown): string {
  const inner = JSON.stringify(valid);
  const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  if (typeof valid === "object" && valid !== null && !Array.isArray(valid)) {
    return inner === "{}" ? `{${member}}` : `{${member},${inner.slice(1)}`;
  }
  return `{${member},"value":${inner}}`;
}

/** Puts `filler` into the first string-valued field (or a new one), so a valid shape grows past a limit. */
function grown(valid: unknown, filler: string): string {
  if (typeof valid === "object" && valid !== null && !Array.isArray(valid)) {
    const entry = Object.entries(valid).find(([, v]) => typeof v === "string");
    return JSON.stringify({ ...valid, [entry?.[0] ?? "padding"]: filler });
  }
  return JSON.stringify({ value: valid, padding: filler });
}

/** Bytes that are not UTF-8: lone continuation bytes, overlongs, surrogates, a truncated sequence. */
const invalidUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x80],
      [0xc3],
      [0xf0, 0x9f, 0x98],
    ),
    fc.constantFrom('{"a":"', "", "[", '{"events":[{"id":"'),
    fc.uint8Array({ maxLength: 64 }),
  )
  .map(([bad, prefix, tail]) => {
    const head = utf8.encode(prefix);
    const out = new Uint8Array(head.length + bad.length + tail.length + 2);
    out.set(head);
    out.set(bad, head.length);
    out.set(tail, head.length + bad.length);
    out.set(utf8.encode('"}'), head.length + bad.length + tail.length);
    return out;
  });

/** Every hostile body, built around a valid-shaped value of the route (`valid`). */
export function hostileBody(valid: fc.Arbitrary<unknown>): fc.Arbitrary<RawBody> {
  return fc.oneof(
    valid.map((v) => JSON.stringify(v)),
    hostileJson.map((v) => JSON.stringify(v)),
    fc
      .tuple(
        valid,
        fc.constantFrom("__proto__", "constructor", "prototype"),
        fc.constantFrom({ polluted: true }, { admin: true }, [], null),
      )
      .map(([v, key, value]) => withKey(v, key, value)),
    fc
      .tuple(fc.constantFrom(64, 200, 5_000, 100_000), fc.constantFrom("array", "object", "mixed") as fc.Arbitrary<"array" | "object">)
      .map(([depth, kind]) => nested(depth, kind)),
    // Past the 256 KiB limit of most routes, and past the 1 MiB of the provider webhooks.
    fc.tuple(valid, fc.constantFrom(300 * 1024, 1_100 * 1024)).map(([v, n]) => grown(v, "x".repeat(n))),
    fc.tuple(valid, hostileString).map(([v, s]) => grown(v, s)),
    invalidUtf8,
    valid.map((v) => JSON.stringify(v).slice(0, -1)),
    fc.constantFrom("", "null", "[]", "{}", "0", '""', "true", "{,}", "[1,]", '{"a":1,"a":2}', "\ufeff{}", "1".repeat(400)),
    fc.string({ unit: "binary", maxLength: 200 }),
    // Form-encoded text, for the routes that read forms (Twilio, the dashboard, one-click unsubscribe).
    fc
      .dictionary(hostileString, hostileString, { maxKeys: 4 })
      .map((d) => new URLSearchParams(Object.entries(d).filter(([, v]) => !/[\ud800-\udfff]/.test(v))).toString()),
  );
}

export const contentTypes: fc.Arbitrary<string | null> = fc.constantFrom(
  null,
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=zzz",
  "application/json; charset=utf-16",
  "application/json; charset=utf-8; charset=latin1",
  "application/jsonx",
  "application/xml",
  "application/json, text/plain",
  "*/*",
  ";;;",
);

/** A path segment: valid-shaped (encoded), or hostile text, or raw bytes a URL parser must cope with. */
export function hostileSegment(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: valid.map((v) => encodeURIComponent(v)) },
    {
      weight: 2,
      arbitrary: hostileString.filter((s) => !/[\ud800-\udfff]/.test(s)).map((s) => encodeURIComponent(s.slice(0, 4000)) || "%20"),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("%", "%zz", "%ff%fe", "%c0%af", "%2F", "%2e%2e", "..", ".", "%00", "a%2Fb", "__proto__", "%E2%80%AE"),
    },
  );
}

/** An odd query string (no leading `?`). */
export const oddQuery: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    "&&&",
    "=",
    "=&=&",
    "limit=-1",
    "limit=0",
    "limit=1e309",
    "limit=NaN",
    "limit=99999999999999999999",
    "limit=1&limit=2",
    "limit[]=1",
    "cursor=%zz",
    "cursor=%ff",
    "__proto__=1",
    "constructor[prototype][x]=1",
    "from=not-a-date&to=2026-13-45",
    "channel=__proto__",
    "status=&channel=",
    "%00=%00",
  ),
  fc.nat({ max: 30_000 }).map((n) => `cursor=${"A".repeat(n)}`),
  fc
    .array(fc.tuple(hostileString, hostileString), { maxLength: 5 })
    .map((pairs) =>
      pairs
        .map(
          ([k, v]) => `${encodeURIComponent(k.replace(/[\ud800-\udfff]/g, ""))}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, ""))}`,
        )
        .join("&"),
    ),
);

/** Header lists the platform must survive: duplicates, oversize values, odd names and values. */
export const hostileHeaders: fc.Arbitrary<[string, string][]> = fc.oneof(
  fc.constant<[string, string][]>([]),
  fc.constantFrom<[string, string][]>(
    [
      ["idempotency-key", "a"],
      ["idempotency-key", "b"],
    ],
    [["idempotency-key", "k".repeat(10_000)]],
    [["idempotency-key", ""]],
    [
      ["content-length", "5"],
      ["x-forwarded-for", "127.0.0.1"],
    ],
    [
      ["webhook-id", "x"],
      ["webhook-timestamp", "not-a-number"],
      ["webhook-signature", "v1,AAAA"],
    ],
    [["webhook-timestamp", "99999999999999999999"]],
    [["webhook-signature", "v1,".repeat(2000)]],
    [["x-twilio-signature", "===="]],
    [["x-amz-sns-message-type", "SubscriptionConfirmation"]],
    [["origin", "https://evil.example"]],
    [["cookie", "lh_dash=garbage; lh_dash=more"]],
    [["accept", "text/html"]],
    [["x-big", "v".repeat(16_000)]],
  ),
  fc.array(
    fc.tuple(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
      fc.string({ unit: "binary-ascii", maxLength: 100 }).map((v) => v.replace(/[\x00-\x1f\x7f]/g, "").trim()),
    ),
    { maxLength: 4 },
  ),
);

/** Credentials that are not an account's: missing, malformed, or a well-formed key nobody holds. */
export const wrongAuthorization: fc.Arbitrary<string | null> = fc.constantFrom(
  null,
  "",
  "Bearer",
  "Bearer ",
  "Bearer lh_",
  `Bearer lh_${"A".repeat(43)}`,
  `Bearer ${"x".repeat(8_000)}`,
  "Basic dXNlcjpwYXNz",
  "bearer lh_nobody",
  "Bearer a, Bearer b",
  "Token abc",
);
